"""warehouse.prices: the bundled, warehouse and local-directory readers behind engine.prices.CloseReader."""
import datetime as dt
import hashlib
import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from engine.prices import CloseReader, UnknownTickersError
from tests.warehouse.conftest import D1, D2, D3
from warehouse.bundled import BUNDLE_DIR, manifest
from warehouse.prices import (BundledCloseReader, LocalDirectoryCloseReader, PriceFileError, WarehouseCloseReader,
                              close_reader, read_price_files)

# ---------------------------------------------------------------------------------------------------------------
# Bundled
# ---------------------------------------------------------------------------------------------------------------


def test_bundle_holds_the_whole_universe_with_checksums():
    m = manifest()
    assert m["adj_close"]["tickers"] == 773 and m["adj_close"]["rows"] == 3_103_463
    assert m["adj_close"]["last"] == "2026-07-31" and m["bars"]["tickers"] == 59
    assert m["bars"]["last"] == "2024-06-21"
    for part in ("adj_close", "bars"):
        digest = hashlib.sha256((BUNDLE_DIR / m[part]["file"]).read_bytes()).hexdigest()
        assert digest == m[part]["sha256"], part
    assert m["tickers"]["SOXS"]["adj_close_last"] == "2026-07-31"  # repaired (SOURCES.md)
    assert m["tickers"]["SPY"]["source"] == "Yahoo (A), cross-checked with Stooq (first pass)"
    assert m["tickers"]["AIRO"]["source"] == "Yahoo (A), cross-checked (extension 1)"
    assert m["tickers"]["HUBB"]["source"] == "Yahoo (A), not cross-checked (extension 2)"


def test_bundle_row_groups_let_a_reader_load_only_a_few_tickers():
    meta = pq.ParquetFile(BUNDLE_DIR / "adj_close.parquet").metadata
    col = meta.schema.names.index("ticker")
    spans = [(meta.row_group(i).column(col).statistics.min, meta.row_group(i).column(col).statistics.max)
             for i in range(meta.num_row_groups)]
    assert meta.num_row_groups > 50
    for ticker in ("SPY", "TQQQ", "BIL"):
        assert sum(lo <= ticker <= hi for lo, hi in spans) <= 2  # one ticker's history sits in at most 2 groups
    assert [lo for lo, _ in spans] == sorted(lo for lo, _ in spans)  # sorted by ticker


def test_bundled_closes_are_the_source_values_and_follow_the_contract():
    r = BundledCloseReader()
    assert isinstance(r, CloseReader) and r.last_session() == dt.date(2026, 7, 31)
    out = r.closes(["SPY", "SOXS"], end="1993-02-01")
    assert list(out.columns) == ["SPY", "SOXS"] and out.index.name == "session_date"
    assert out["SPY"].tolist() == [24.11326026916504, 24.28475570678711]  # adj_close/SPY.csv, first two rows
    assert out["SOXS"].isna().all()  # before its first bar (2010)
    with pytest.raises(UnknownTickersError, match="tickers not in the bundled data: UNH"):
        r.closes(["SPY", "UNH"])  # UNH: "not in source A" (SOURCES.md)


def test_bundled_bars_join_stooq_ohlcv_to_the_adjusted_close():
    bars = BundledCloseReader().bars(["SPY"], start="2024-06-21", end="2024-06-24")
    assert bars["session_date"].tolist() == [dt.date(2024, 6, 21), dt.date(2024, 6, 24)]
    assert bars.iloc[0][["open", "close", "volume"]].tolist() == [544.4, 544.51, 64513859.0]
    assert np.isnan(bars.iloc[1]["close"]) and bars.iloc[1]["adj_close"] > 0  # Stooq ends 2024-06-21


# ---------------------------------------------------------------------------------------------------------------
# Warehouse
# ---------------------------------------------------------------------------------------------------------------


def test_warehouse_reader_applies_the_same_gap_rule(seeded):
    r = WarehouseCloseReader(seeded)
    assert r.available_tickers() == frozenset({"SPY", "TLT"}) and r.last_session() == D3
    out = r.closes(["TLT", "SPY"])
    assert list(out.index.date) == [D1, D2, D3]
    assert out["TLT"].tolist() == [111.0, 111.0, 113.0]  # D2 missing: carries D1
    assert out["SPY"].tolist() == [101.0, 102.0, 103.0]
    assert r.closes(["TLT"], end=D2)["TLT"].tolist() == [111.0]  # only TLT's own sessions, up to end
    with pytest.raises(UnknownTickersError, match="tickers not in the warehouse data: QQQ"):
        r.closes(["QQQ"])


# ---------------------------------------------------------------------------------------------------------------
# Local directory (bring your own data)
# ---------------------------------------------------------------------------------------------------------------


def _write(path, text):
    path.write_text(text)
    return path


def test_one_csv_per_ticker_with_optional_ohlcv(tmp_path):
    _write(tmp_path / "spy.csv", "date,adj_close,open,high,low,close,volume\n"
                                 "2024-01-02,100.5,100,101,99,100.5,1000\n2024-01-03,101.5,,,,,\n"
                                 "2024-01-05,102.5,102,103,101,102.5,900\n")
    _write(tmp_path / "TLT.csv", "Date,Adj Close\n2024-01-03,90\n2024-01-04,91\n")
    _write(tmp_path / "README.md", "not prices")
    r = close_reader(tmp_path)
    assert isinstance(r, LocalDirectoryCloseReader) and r.source == str(tmp_path)
    assert r.available_tickers() == frozenset({"SPY", "TLT"}) and r.last_session() == dt.date(2024, 1, 5)
    out = r.closes(["SPY", "TLT"])
    assert list(out.index.date) == [dt.date(2024, 1, d) for d in (2, 3, 4, 5)]
    assert out["SPY"].tolist() == [100.5, 101.5, 101.5, 102.5]  # 01-04 filled (interior)
    assert np.isnan(out["TLT"].iloc[0]) and out["TLT"].tolist()[1:3] == [90.0, 91.0] and np.isnan(out["TLT"].iloc[3])
    bars = r.bars(["SPY"])
    assert bars.iloc[0][["open", "high", "low", "close", "volume"]].tolist() == [100, 101, 99, 100.5, 1000]
    assert bars.iloc[1][["open", "volume"]].isna().all()


def test_parquet_per_ticker_and_one_long_file(tmp_path):
    pd.DataFrame({"date": pd.to_datetime(["2024-01-02", "2024-01-03"]), "adj_close": [10.0, 11.0]}).to_parquet(
        tmp_path / "AAA.parquet")
    long = tmp_path / "long"
    long.mkdir()
    _write(long / "all.csv", "date,ticker,adj_close\n2024-01-02,bbb,5\n2024-01-03,BBB,6\n2024-01-02,CCC,7\n")
    assert LocalDirectoryCloseReader(tmp_path).closes(["AAA"])["AAA"].tolist() == [10.0, 11.0]
    for src in (long, long / "all.csv"):  # a directory holding a long file, or the file itself
        out = close_reader(src).closes(["BBB", "CCC"])
        assert out["BBB"].tolist() == [5.0, 6.0] and out["CCC"].iloc[0] == 7.0 and np.isnan(out["CCC"].iloc[1])
    pq_long = tmp_path / "long.parquet"
    pd.DataFrame({"date": ["2024-01-02"], "ticker": ["DDD"], "adj_close": [3.0]}).to_parquet(pq_long)
    assert read_price_files(pq_long)[["ticker", "adj_close"]].values.tolist() == [["DDD", 3.0]]


@pytest.mark.parametrize("name, text, message", [
    ("SPY.csv", "date,close\n2024-01-02,1\n",
     "SPY.csv: missing column adj_close (has: date, close; expected date,adj_close[,open,high,low,close,volume])"),
    ("SPY.csv", "date,adj_close\n2024-01-02,1\n2024-13-40,2\n",
     "SPY.csv: line 3: column 'date': unparsable date '2024-13-40' (expected ISO, e.g. 2024-01-02)"),
    ("SPY.csv", "date,adj_close\n2024-01-02,1\n2024-01-03,2\n2024-01-02,3\n",
     "SPY.csv: line 2: column 'date': duplicate date 2024-01-02 for SPY (also line 4)"),
    ("SPY.csv", "date,adj_close\n2024-01-02,1\n2024-01-03,n/a\n",
     "SPY.csv: line 3: column 'adj_close': non-numeric value 'n/a'"),
    ("SPY.csv", "date,adj_close,volume\n2024-01-02,1,lots\n",
     "SPY.csv: line 2: column 'volume': non-numeric value 'lots'"),
    ("SPY.csv", "date,adj_close\n2024-01-02,\n",
     "SPY.csv: line 2: column 'adj_close': empty value (every row needs an adjusted close)"),
    ("all.csv", "date,ticker,adj_close\n2024-01-02,SPY,1\n2024-01-02,SPY,2\n",
     "all.csv: line 2: column 'date': duplicate date 2024-01-02 for SPY (also line 3)"),
])
def test_bad_files_are_errors_naming_file_row_and_column(tmp_path, name, text, message):
    _write(tmp_path / name, text)
    with pytest.raises(PriceFileError) as err:
        LocalDirectoryCloseReader(tmp_path).closes(["SPY"])
    assert str(err.value) == f"{tmp_path / name}: {message.split(': ', 1)[1]}"


def test_parquet_errors_count_data_rows(tmp_path):
    pd.DataFrame({"date": ["2024-01-02", "yesterday"], "adj_close": [1.0, 2.0]}).to_parquet(tmp_path / "X.parquet")
    with pytest.raises(PriceFileError, match=r"X\.parquet: row 2: column 'date': unparsable date 'yesterday'"):
        read_price_files(tmp_path)


def test_a_ticker_in_two_files_an_empty_directory_and_a_missing_path(tmp_path):
    _write(tmp_path / "SPY.csv", "date,adj_close\n2024-01-02,1\n")
    _write(tmp_path / "long.csv", "date,ticker,adj_close\n2024-01-03,SPY,2\n")
    with pytest.raises(PriceFileError, match="ticker SPY is also in SPY.csv: give each ticker one file"):
        read_price_files(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PriceFileError, match=r"no price files \(\*\.csv, \*\.parquet\) in this directory"):
        read_price_files(empty)
    with pytest.raises(PriceFileError, match="nowhere: no such directory or file"):
        close_reader(tmp_path / "nowhere")


def test_factory_names():
    assert isinstance(close_reader(None), BundledCloseReader) and isinstance(close_reader("bundled"),
                                                                             BundledCloseReader)


def test_manifest_is_json_with_every_ticker():
    m = json.loads((BUNDLE_DIR / "manifest.json").read_text())
    assert len([t for t, e in m["tickers"].items() if e.get("adj_close_rows")]) == 773
