"""Dagster resources: market data, broker and warehouse — each with an offline implementation.

Configuration is read when a run starts (resource fields, ``dg.EnvVar``), never at import time.

* :class:`BundledMarketData` — daily bars from the Parquet files shipped in ``data/bundled`` (the offline
  default; EODHD and Alpaca sources come with issue 4).
* :class:`SimulatedBroker` — the offline paper broker: fills market orders at the session's price (adjusted
  close, the live-price proxy offline) moved by ``slippage_bps`` against the trader; positions live in the
  warehouse ledger (``positions``).
* :class:`WarehouseResource` — opens the :class:`warehouse.Warehouse` (DuckDB file by default, Postgres by URL).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

from engine.orders import Fill, PlannedOrder
from warehouse import Warehouse
from warehouse.bundled import BUNDLE_DIR, load_bars

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class MarketDataResource(dg.ConfigurableResource):
    """Source of daily bars. Subclasses implement :meth:`bars`."""

    def source_name(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def bars(self, tickers: list[str], start: dt.date | None, end: dt.date) -> pd.DataFrame:
        """Daily bars, long: columns ``session_date (date), ticker, open, high, low, close, adj_close, volume``.

        ``adj_close`` is total-return adjusted (USD); OHLC may be NaN where the source has none. Sessions from
        ``start`` (None = the ticker's first bar) to ``end`` inclusive.
        """
        raise NotImplementedError


class BundledMarketData(MarketDataResource):
    """Bars from the bundled Parquet files (``data/bundled``; see its ``manifest.json``)."""

    bundle_dir: str = Field(default=str(BUNDLE_DIR), description="folder holding adj_close.parquet and bars.parquet")

    def source_name(self) -> str:
        return "bundled"

    def bars(self, tickers: list[str], start: dt.date | None, end: dt.date) -> pd.DataFrame:
        return load_bars(tickers, start=start, end=end, bundle_dir=Path(self.bundle_dir))


class SimulatedBroker(dg.ConfigurableResource):
    """Offline paper broker: every market order fills in full at the session price.

    A buy fills at ``price·(1+s)``, a sell at ``price·(1−s)``, ``s = slippage_bps/10_000`` (default 1 bp, the
    backtest's default, so live paper results track the backtest). Notional orders buy ``notional/fill_price``
    shares; quantity orders sell that many shares.
    """

    slippage_bps: float = Field(default=1.0, description="basis points of price paid on every fill")

    def submit(self, orders: list[PlannedOrder], prices: dict[str, float]) -> list[Fill]:
        """Fill ``orders`` at ``prices`` (USD per share); raises KeyError naming a ticker without price."""
        s = self.slippage_bps / 10_000.0
        fills = []
        for o in orders:
            if o.ticker not in prices:
                raise KeyError(f"no price for {o.ticker} to fill {o.client_order_id}")
            px = prices[o.ticker] * (1 + s if o.side == "buy" else 1 - s)
            qty = o.qty if o.qty is not None else o.notional_usd / px
            fills.append(Fill(o.client_order_id, o.ticker, o.side, float(qty), float(px)))
        return fills


class WarehouseResource(dg.ConfigurableResource):
    """Where results are stored. ``url`` (SQLAlchemy URL, e.g. Postgres) wins over ``duckdb_path``; both empty →
    ``ORAGAMI_WAREHOUSE_URL`` / ``ORAGAMI_DUCKDB_PATH`` from the environment, else ``./var/oragami.duckdb``."""

    url: str | None = Field(default=None, description="SQLAlchemy URL of the warehouse")
    duckdb_path: str | None = Field(default=None, description="DuckDB file when no URL is set")

    def open(self) -> Warehouse:
        wh = Warehouse.from_settings(url=self.url, duckdb_path=self.duckdb_path)
        wh.create_schema()
        return wh
