"""Build the bundled market data shipped inside the project.

Reads ``../shared/data/adj_close/*.csv`` and ``../shared/data/bars/*.csv`` (see
``../shared/data/bars/SOURCES.md``) and writes, under ``data/bundled/``:

* ``adj_close.parquet`` — long table ``session_date (date32), ticker (str), adj_close (float64)``:
  Yahoo total-return adjusted closes (splits and dividends), inception → 2026-07-31.
* ``bars.parquet`` — long table ``session_date, ticker, open, high, low, close, volume, adj_close``:
  Stooq back-adjusted OHLCV to 2024-06-21 joined with the adjusted close.
* ``manifest.json`` — source, range and row count per ticker.

Prices are copied unchanged (no rounding, no filling). Run once: ``python scripts/bundle_data.py``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "data" / "bundled"


def main() -> int:
    if not SHARED.is_dir():
        print(f"error: {SHARED} not found (the shared folder must sit beside the checkout)", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    frames, bars, tickers = [], [], {}
    for path in sorted((SHARED / "adj_close").glob("*.csv")):
        df = pd.read_csv(path, parse_dates=["date"])
        df = df.dropna(subset=["adj_close"])
        df["ticker"] = path.stem
        frames.append(df)
        tickers[path.stem] = {
            "adj_close_first": df["date"].min().date().isoformat(),
            "adj_close_last": df["date"].max().date().isoformat(),
            "adj_close_rows": int(len(df)),
        }
    for path in sorted((SHARED / "bars").glob("*.csv")):
        df = pd.read_csv(path, parse_dates=["date"])
        df["ticker"] = path.stem
        bars.append(df)
        entry = tickers.setdefault(path.stem, {})
        entry.update(
            bars_first=df["date"].min().date().isoformat(),
            bars_last=df["date"].max().date().isoformat(),
            bars_rows=int(len(df)),
        )
    adj = pd.concat(frames, ignore_index=True).rename(columns={"date": "session_date"})
    adj["session_date"] = adj["session_date"].dt.date
    adj = adj[["session_date", "ticker", "adj_close"]].sort_values(["ticker", "session_date"])
    adj.to_parquet(OUT / "adj_close.parquet", index=False, compression="zstd")
    ohlcv = pd.concat(bars, ignore_index=True).rename(columns={"date": "session_date"})
    ohlcv["session_date"] = ohlcv["session_date"].dt.date
    ohlcv = ohlcv[["session_date", "ticker", "open", "high", "low", "close", "volume", "adj_close"]]
    ohlcv = ohlcv.sort_values(["ticker", "session_date"])
    ohlcv.to_parquet(OUT / "bars.parquet", index=False, compression="zstd")
    manifest = {
        "adj_close": {
            "file": "adj_close.parquet",
            "source": "Yahoo Finance adjusted close (auto_adjust: splits and dividends), via ../shared/data/adj_close",
            "adjustment": "all (total return), basis 2026-08-03",
            "first": adj["session_date"].min().isoformat(),
            "last": adj["session_date"].max().isoformat(),
            "rows": int(len(adj)),
        },
        "bars": {
            "file": "bars.parquet",
            "source": "Stooq bulk daily OHLCV (back-adjusted as of 2024-06-21) joined with adj_close, via ../shared/data/bars",
            "adjustment": "open/high/low/close: Stooq split(+most dividends after 2011) back-adjusted; adj_close: total return",
            "first": ohlcv["session_date"].min().isoformat(),
            "last": ohlcv["session_date"].max().isoformat(),
            "rows": int(len(ohlcv)),
            "note": "Never compare close with adj_close; use adj_close for returns and indicators.",
        },
        "tickers": tickers,
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(f"adj_close: {len(adj)} rows, {adj['ticker'].nunique()} tickers; bars: {len(ohlcv)} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
