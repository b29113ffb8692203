"""Build the bundled market data shipped inside the project (``data/bundled/``).

Reads ``../shared/data/adj_close/*.csv`` (773 tickers, ``date,adj_close``) and ``../shared/data/bars/*.csv``
(59 tickers, ``date,open,high,low,close,adj_close,volume``); ``../shared/data/bars/SOURCES.md`` documents both.
Writes:

* ``adj_close.parquet`` — long table ``session_date (date32), ticker (string), adj_close (float64)``: Yahoo
  total-return adjusted closes (splits and cash dividends, 2026-08-03 basis), inception → 2026-07-31.
* ``bars.parquet`` — long table ``session_date, ticker, open, high, low, close, volume`` (float64): Stooq
  back-adjusted OHLCV to 2024-06-21. The bars files' own ``adj_close`` column is not stored twice: the script
  checks that it equals ``adj_close.parquet`` on every shared date (and stops if it does not).
* ``manifest.json`` — per file: source, adjustment basis, rows, first/last date, sha256; per ticker: first/last
  date and rows in each table and the source pass it came from.

Layout for fast partial reads: each table is sorted by ticker then date, zstd-compressed, with row groups of
:data:`ROW_GROUP_ROWS` rows, so a reader filtering ``ticker in (…)`` (``pyarrow`` filter pushdown on the row-group
min/max statistics) decompresses only the row groups holding those tickers.

Prices are copied unchanged (parsed with Python's exact ``float()``; no rounding, no filling, nothing
dropped except empty values). Deterministic: the same inputs give byte-identical files (re-running is
idempotent). Run: ``.venv/bin/python scripts/bundle_data.py [--shared DIR] [--out DIR]``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "data" / "bundled"
#: Rows per Parquet row group: ~a dozen tickers' histories; small enough that one symphony's tickers touch few
#: groups, large enough that zstd compresses well and the footer stays small.
ROW_GROUP_ROWS = 32_768
ZSTD_LEVEL = 19

ADJ_SCHEMA = pa.schema([("session_date", pa.date32()), ("ticker", pa.string()), ("adj_close", pa.float64())])
BARS_SCHEMA = pa.schema([("session_date", pa.date32()), ("ticker", pa.string()), ("open", pa.float64()),
                         ("high", pa.float64()), ("low", pa.float64()), ("close", pa.float64()),
                         ("volume", pa.float64())])

SOURCE_A = "dsturdy/Factor_Attribution@096a2ae0 data/<T>.csv (yfinance auto-adjusted, 2026-08-03 snapshot)"
SOURCE_B = "dsturdy/Factor_Attribution_5_csvs@a206574f data/<T>.csv (yfinance auto-adjusted, 2026-07-14 snapshot)"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def ticker_sources(sources_md: Path, adj_tickers: list[str], bar_tickers: list[str]) -> dict[str, str]:
    """Which source and pass of ``SOURCES.md`` each ticker's adjusted closes came from (a short label; ``A`` and
    ``B`` are defined in the manifest's ``adj_close.sources``)."""
    text = sources_md.read_text() if sources_md.exists() else ""
    ext1 = {}
    for m in re.finditer(r"^\| ([A-Z][A-Z0-9.\-]*) \| ([AB]) `data/([A-Z0-9.\-]+)\.csv`", text, flags=re.M):
        renamed = f" file {m.group(3)}.csv" if m.group(3) != m.group(1) else ""
        ext1[m.group(1)] = f"Yahoo ({m.group(2)}{renamed}), cross-checked (extension 1)"
    out = {}
    for t in adj_tickers:
        if t in bar_tickers:
            out[t] = "Yahoo (A), cross-checked with Stooq (first pass)"
        elif t in ext1:
            out[t] = ext1[t]
        else:
            out[t] = "Yahoo (A), not cross-checked (extension 2)"
    return out


def read_adj(folder: Path) -> pd.DataFrame:
    frames = []
    for path in sorted(folder.glob("*.csv")):
        df = pd.read_csv(path, dtype=str)  # parsed to float64 below by Python's exact (round-trip) float()
        if list(df.columns) != ["date", "adj_close"]:
            raise SystemExit(f"{path}: expected columns date,adj_close, got {','.join(df.columns)}")
        df = df.dropna(subset=["adj_close"])
        df["adj_close"] = [float(v) for v in df["adj_close"]]
        df["ticker"] = path.stem
        frames.append(df)
    adj = pd.concat(frames, ignore_index=True)
    adj["session_date"] = pd.to_datetime(adj["date"], format="%Y-%m-%d").dt.date
    adj["adj_close"] = adj["adj_close"].astype("float64")
    return adj[["session_date", "ticker", "adj_close"]].sort_values(["ticker", "session_date"], ignore_index=True)


def read_bars(folder: Path) -> pd.DataFrame:
    frames = []
    for path in sorted(folder.glob("*.csv")):
        df = pd.read_csv(path, dtype=str)
        for c in ("open", "high", "low", "close", "adj_close", "volume"):
            df[c] = [float(v) if isinstance(v, str) else float("nan") for v in df[c]]
        df["ticker"] = path.stem
        frames.append(df)
    bars = pd.concat(frames, ignore_index=True)
    bars["session_date"] = pd.to_datetime(bars["date"], format="%Y-%m-%d").dt.date
    for c in ("open", "high", "low", "close", "adj_close", "volume"):
        bars[c] = bars[c].astype("float64")
    return bars.sort_values(["ticker", "session_date"], ignore_index=True)


def write(frame: pd.DataFrame, schema: pa.Schema, path: Path) -> None:
    table = pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)
    pq.write_table(table, path, compression="zstd", compression_level=ZSTD_LEVEL, row_group_size=ROW_GROUP_ROWS,
                   use_dictionary=["ticker"], write_statistics=True, store_schema=False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--shared", default=str(SHARED), help="folder holding adj_close/ and bars/")
    p.add_argument("--out", default=str(OUT), help="output folder (default data/bundled)")
    args = p.parse_args(argv)
    shared, out = Path(args.shared), Path(args.out)
    if not (shared / "adj_close").is_dir():
        print(f"error: {shared / 'adj_close'} not found (the shared folder must sit beside the checkout)",
              file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    adj = read_adj(shared / "adj_close")
    bars = read_bars(shared / "bars") if (shared / "bars").is_dir() else pd.DataFrame(columns=BARS_SCHEMA.names)

    # the bars files' adj_close must equal adj_close/ on shared dates (SOURCES.md: "Its numbers are the same")
    joined = bars.dropna(subset=["adj_close"]).merge(adj, on=["session_date", "ticker"], suffixes=("_bars", ""))
    differ = joined[~np.isclose(joined["adj_close_bars"], joined["adj_close"], rtol=1e-12, atol=0)]
    if len(differ):
        print(f"error: bars adj_close differs from adj_close/ on {len(differ)} rows, e.g.\n{differ.head()}",
              file=sys.stderr)
        return 1

    write(adj, ADJ_SCHEMA, out / "adj_close.parquet")
    write(bars, BARS_SCHEMA, out / "bars.parquet")

    adj_tickers = sorted(adj["ticker"].unique())
    bar_tickers = sorted(bars["ticker"].unique())
    sources = ticker_sources(shared / "bars" / "SOURCES.md", adj_tickers, bar_tickers)
    tickers: dict[str, dict] = {}
    for t, g in adj.groupby("ticker", sort=True):
        tickers[t] = {"adj_close_first": g["session_date"].iloc[0].isoformat(),
                      "adj_close_last": g["session_date"].iloc[-1].isoformat(), "adj_close_rows": int(len(g)),
                      "source": sources[t]}
    for t, g in bars.groupby("ticker", sort=True):
        tickers.setdefault(t, {}).update(bars_first=g["session_date"].iloc[0].isoformat(),
                                         bars_last=g["session_date"].iloc[-1].isoformat(), bars_rows=int(len(g)))
    manifest = {
        "built_by": "scripts/bundle_data.py",
        "layout": f"sorted by ticker then session_date; zstd level {ZSTD_LEVEL}; row groups of {ROW_GROUP_ROWS} "
                  f"rows with min/max statistics (filter on ticker to read only the needed groups); float64",
        "adj_close": {
            "file": "adj_close.parquet",
            "columns": ADJ_SCHEMA.names,
            "source": "Yahoo Finance adjusted close (yfinance auto_adjust) from ../shared/data/adj_close "
                      "(see ../shared/data/bars/SOURCES.md; per-ticker source below)",
            "sources": {"A": SOURCE_A, "B": SOURCE_B},
            "adjustment": "all: splits and cash dividends (total return), basis 2026-08-03",
            "unit": "USD",
            "first": adj["session_date"].min().isoformat(),
            "last": adj["session_date"].max().isoformat(),
            "rows": int(len(adj)),
            "tickers": len(adj_tickers),
            "sha256": sha256(out / "adj_close.parquet"),
        },
        "bars": {
            "file": "bars.parquet",
            "columns": BARS_SCHEMA.names,
            "source": "Stooq bulk daily OHLCV (ashtonvaz/analysis-pricechange@91bdb162) from ../shared/data/bars",
            "adjustment": "open/high/low/close: Stooq back-adjusted for splits as of 2024-06-21 (+ most cash "
                          "distributions from about 2011); volume inverse-adjusted by the same factor. Not on the "
                          "adj_close basis: never compare close with adj_close; use adj_close for returns.",
            "unit": "USD; volume in shares (fractional)",
            "first": bars["session_date"].min().isoformat() if len(bars) else None,
            "last": bars["session_date"].max().isoformat() if len(bars) else None,
            "rows": int(len(bars)),
            "tickers": len(bar_tickers),
            "sha256": sha256(out / "bars.parquet"),
        },
        "tickers": tickers,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    size = sum((out / f).stat().st_size for f in ("adj_close.parquet", "bars.parquet", "manifest.json"))
    print(f"adj_close: {len(adj)} rows, {len(adj_tickers)} tickers; bars: {len(bars)} rows, {len(bar_tickers)} "
          f"tickers; {size / 1e6:.1f} MB in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
