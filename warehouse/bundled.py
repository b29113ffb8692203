"""Read the bundled market data (``data/bundled/*.parquet``, built by ``scripts/bundle_data.py``).

* ``adj_close.parquet``: ``session_date, ticker, adj_close`` — total-return adjusted closes, inception → 2026-07-31.
* ``bars.parquet``: ``session_date, ticker, open, high, low, close, volume, adj_close`` — Stooq OHLCV to
  2024-06-21 (back-adjusted; never compare ``close`` with ``adj_close``).
"""
from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from pathlib import Path

import pandas as pd

from engine.prices import fill_interior_gaps

BUNDLE_DIR = Path(__file__).resolve().parents[1] / "data" / "bundled"
BAR_COLUMNS = ["session_date", "ticker", "open", "high", "low", "close", "adj_close", "volume"]


@lru_cache(maxsize=4)
def _adj(bundle_dir: Path) -> pd.DataFrame:
    path = bundle_dir / "adj_close.parquet"
    if not path.exists():
        raise FileNotFoundError(f"bundled prices not found at {path} (run scripts/bundle_data.py)")
    df = pd.read_parquet(path)
    df["session_date"] = pd.to_datetime(df["session_date"])
    return df


@lru_cache(maxsize=4)
def _ohlcv(bundle_dir: Path) -> pd.DataFrame:
    df = pd.read_parquet(bundle_dir / "bars.parquet")
    df["session_date"] = pd.to_datetime(df["session_date"])
    return df.drop(columns=["adj_close"])


def manifest(bundle_dir: Path = BUNDLE_DIR) -> dict:
    """The bundle's manifest: source, adjustment, range and per-ticker coverage."""
    return json.loads((bundle_dir / "manifest.json").read_text())


def available_tickers(bundle_dir: Path = BUNDLE_DIR) -> set[str]:
    """Tickers with adjusted closes in the bundle."""
    return set(_adj(bundle_dir)["ticker"].unique())


def last_session(bundle_dir: Path = BUNDLE_DIR) -> dt.date:
    """The newest session with any adjusted close."""
    return _adj(bundle_dir)["session_date"].max().date()


def load_bars(tickers, start=None, end=None, bundle_dir: Path = BUNDLE_DIR) -> pd.DataFrame:
    """Long bars for ``tickers`` between ``start`` and ``end`` (inclusive; None = unbounded).

    Returns columns ``session_date`` (``datetime.date``), ``ticker``, ``open``, ``high``, ``low``, ``close``,
    ``adj_close`` (USD), ``volume``; OHLCV NaN where the bundle has only the adjusted close. Unknown tickers are
    simply absent (callers check coverage).
    """
    adj = _adj(bundle_dir)
    sel = adj[adj["ticker"].isin(list(tickers))]
    if start is not None:
        sel = sel[sel["session_date"] >= pd.Timestamp(start)]
    if end is not None:
        sel = sel[sel["session_date"] <= pd.Timestamp(end)]
    out = sel.merge(_ohlcv(bundle_dir), on=["session_date", "ticker"], how="left")
    out["session_date"] = out["session_date"].dt.date
    return out[BAR_COLUMNS].sort_values(["ticker", "session_date"]).reset_index(drop=True)


def load_adjusted_closes(tickers, start=None, end=None, bundle_dir: Path = BUNDLE_DIR) -> pd.DataFrame:
    """Wide adjusted closes: index = sessions (``DatetimeIndex``), columns = ``tickers`` (in the given order).

    Sessions are the union of the tickers' dates; interior gaps of a ticker (a session it lacks after its first
    bar) are forward-filled, leading sessions before its first bar stay NaN.

    Raises:
        KeyError: naming the tickers the bundle does not have.
    """
    tickers = list(dict.fromkeys(tickers))
    missing = sorted(set(tickers) - available_tickers(bundle_dir))
    if missing:
        raise KeyError(f"tickers not in the bundled data: {', '.join(missing)}")
    adj = _adj(bundle_dir)
    sel = adj[adj["ticker"].isin(tickers)]
    if end is not None:
        sel = sel[sel["session_date"] <= pd.Timestamp(end)]
    wide = sel.pivot(index="session_date", columns="ticker", values="adj_close").reindex(columns=tickers)
    wide = wide.sort_index()
    wide = fill_interior_gaps(wide)
    if start is not None:
        wide = wide[wide.index >= pd.Timestamp(start)]
    wide.index = pd.DatetimeIndex(wide.index, name="session_date")
    wide.columns.name = None
    return wide
