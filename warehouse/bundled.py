"""Read the bundled market data (``data/bundled/*.parquet``, built by ``scripts/bundle_data.py``).

* ``adj_close.parquet``: ``session_date (date32), ticker, adj_close (float64)`` — Yahoo total-return adjusted
  closes of 773 tickers, inception → 2026-07-31.
* ``bars.parquet``: ``session_date, ticker, open, high, low, close, volume`` — Stooq back-adjusted OHLCV of 59
  tickers to 2024-06-21 (not on the adj_close basis: never compare ``close`` with ``adj_close``).
* ``manifest.json``: source, adjustment basis, rows, first/last date per file and per ticker, sha256 per file.

Both tables are sorted by ticker then date in row groups with min/max statistics, so a read filtered on
``ticker`` decompresses only the row groups of those tickers (pyarrow filter pushdown). Series read are kept per
ticker in a process-wide cache (at most the whole bundle, ~50 MB in memory), so repeated reads cost nothing.

The wide, gap-filled view is :class:`warehouse.prices.BundledCloseReader` (the one price reader);
:func:`load_adjusted_closes` is a shorthand for it.
"""
from __future__ import annotations

import datetime as dt
import json
import threading
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

BUNDLE_DIR = Path(__file__).resolve().parents[1] / "data" / "bundled"
BAR_COLUMNS = ["session_date", "ticker", "open", "high", "low", "close", "adj_close", "volume"]
OHLCV = ["open", "high", "low", "close", "volume"]

_LOCK = threading.Lock()
_SERIES: dict[tuple[Path, str, str], pd.DataFrame] = {}


def _path(bundle_dir: Path, name: str) -> Path:
    path = Path(bundle_dir) / name
    if not path.exists():
        raise FileNotFoundError(f"bundled prices not found at {path} (run scripts/bundle_data.py)")
    return path


@lru_cache(maxsize=4)
def _manifest(bundle_dir: Path) -> dict:
    return json.loads(_path(bundle_dir, "manifest.json").read_text())


def manifest(bundle_dir: Path = BUNDLE_DIR) -> dict:
    """The bundle's manifest: per file ``source``, ``adjustment``, ``rows``, ``first``/``last``, ``sha256``; per
    ticker (``manifest["tickers"][T]``) ``adj_close_first/last/rows``, ``bars_first/last/rows``, ``source``."""
    return _manifest(Path(bundle_dir))


def available_tickers(bundle_dir: Path = BUNDLE_DIR) -> set[str]:
    """Tickers with adjusted closes in the bundle (from the manifest; nothing is decompressed)."""
    return {t for t, e in manifest(bundle_dir)["tickers"].items() if e.get("adj_close_rows")}


def last_session(bundle_dir: Path = BUNDLE_DIR) -> dt.date:
    """The newest session with any adjusted close."""
    return dt.date.fromisoformat(manifest(bundle_dir)["adj_close"]["last"])


def _load(bundle_dir: Path, table: str, tickers: list[str] | None) -> pd.DataFrame:
    """Rows of ``table`` (``"adj_close"`` or ``"bars"``) for ``tickers`` (None = all), through the cache."""
    bundle_dir = Path(bundle_dir)
    path = _path(bundle_dir, f"{table}.parquet")
    if table == "bars":
        have = {t for t, e in manifest(bundle_dir)["tickers"].items() if e.get("bars_rows")}
    else:
        have = available_tickers(bundle_dir)
    wanted = sorted(have if tickers is None else set(tickers) & have)
    with _LOCK:
        todo = [t for t in wanted if (bundle_dir, table, t) not in _SERIES]
    if todo:
        filters = None if tickers is None else [("ticker", "in", todo)]
        frame = pq.read_table(path, filters=filters).to_pandas()
        with _LOCK:
            for t, g in frame.groupby("ticker", sort=False):
                _SERIES[(bundle_dir, table, str(t))] = g.reset_index(drop=True)
    with _LOCK:
        parts = [_SERIES[(bundle_dir, table, t)] for t in wanted if (bundle_dir, table, t) in _SERIES]
    if not parts:
        cols = ["session_date", "ticker", "adj_close"] if table == "adj_close" else ["session_date", "ticker", *OHLCV]
        return pd.DataFrame({c: pd.Series(dtype="float64" if c not in ("session_date", "ticker") else object)
                             for c in cols})
    return pd.concat(parts, ignore_index=True)


def load_long_closes(tickers=None, start=None, end=None, bundle_dir: Path = BUNDLE_DIR) -> pd.DataFrame:
    """Adjusted closes as stored, long: ``session_date`` (``datetime.date``), ``ticker``, ``adj_close`` (USD),
    sorted by ticker then date; ``tickers`` None = the whole bundle. Unknown tickers are absent."""
    out = _load(bundle_dir, "adj_close", None if tickers is None else list(tickers))
    if start is not None:
        out = out[out["session_date"] >= pd.Timestamp(start).date()]
    if end is not None:
        out = out[out["session_date"] <= pd.Timestamp(end).date()]
    return out.reset_index(drop=True)


def load_bars(tickers, start=None, end=None, bundle_dir: Path = BUNDLE_DIR) -> pd.DataFrame:
    """Long bars for ``tickers`` between ``start`` and ``end`` (inclusive; None = unbounded).

    Returns columns ``session_date`` (``datetime.date``), ``ticker``, ``open``, ``high``, ``low``, ``close``,
    ``adj_close`` (USD), ``volume`` (shares); one row per adjusted close, OHLCV NaN where the bundle has only the
    adjusted close (all tickers after 2024-06-21, most tickers always). Unknown tickers are simply absent (callers
    check coverage).
    """
    tickers = list(dict.fromkeys(tickers))
    adj = load_long_closes(tickers, start, end, bundle_dir)
    ohlcv = _load(bundle_dir, "bars", tickers)
    out = adj.merge(ohlcv, on=["session_date", "ticker"], how="left")
    return out[BAR_COLUMNS].sort_values(["ticker", "session_date"]).reset_index(drop=True)


def load_adjusted_closes(tickers, start=None, end=None, bundle_dir: Path = BUNDLE_DIR) -> pd.DataFrame:
    """Wide adjusted closes of the bundle: :meth:`warehouse.prices.BundledCloseReader.closes` (the contract of
    :class:`engine.prices.CloseReader`: sessions × ``tickers``, USD, interior gaps filled, NaN outside a ticker's
    history).

    Raises:
        engine.prices.UnknownTickersError: (a ``KeyError``) naming the tickers the bundle does not have.
    """
    from warehouse.prices import BundledCloseReader

    return BundledCloseReader(bundle_dir).closes(tickers, start=start, end=end)
