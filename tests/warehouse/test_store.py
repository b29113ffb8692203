"""Warehouse contract tests. Every test taking ``wh``/``seeded``/``warehouse_url`` runs on DuckDB and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from tests.warehouse.conftest import D1, D2, D3
from warehouse import (
    CASH_TICKER,
    TABLES,
    Between,
    ReadOnlyWarehouseError,
    Warehouse,
    WarehouseLockedError,
    open_read_only,
)
from warehouse.repos import bars as bar_repo, ledgers, symphonies as symphony_repo
from warehouse.scope import ALL_ACCOUNTS as ALL, AccountScope

JAN1, JAN2 = dt.date(2022, 1, 1), dt.date(2022, 1, 2)


def bars(day: dt.date, closes: dict[str, float]) -> pd.DataFrame:
    """daily_bars rows for one session: adj_close = close = the given value per ticker."""
    return pd.DataFrame({"session_date": day, "ticker": list(closes), "close": list(closes.values()),
                         "adj_close": list(closes.values()), "source": "test", "adjustment": "all"})


def count_where(wh: Warehouse, sql: str) -> int:
    with wh.connect() as conn:
        return int(conn.exec_driver_sql(sql).scalar_one())


# ----------------------------------------------------------------------------------------------------------------
# Schema
# ----------------------------------------------------------------------------------------------------------------

def test_create_schema_twice_is_idempotent_and_keeps_data(warehouse_url: str) -> None:
    with Warehouse(warehouse_url) as wh:
        wh.create_schema()
        wh.replace("daily_bars", bars(JAN1, {"SPY": 1.0}), {"session_date": JAN1})
        wh.create_schema()
        with wh.connect() as conn:
            assert set(sa.inspect(conn).get_table_names()) >= set(TABLES)
        counts = wh.row_counts(ALL)
    assert set(counts) == set(TABLES)
    assert counts["daily_bars"] == 1
    assert sum(counts.values()) == 1


# ----------------------------------------------------------------------------------------------------------------
# replace(): idempotent partition overwrite
# ----------------------------------------------------------------------------------------------------------------

def test_replace_overwrites_the_partition_instead_of_appending(wh: Warehouse) -> None:
    # Model: dagster_duckdb_pandas test_time_window_partitioned_asset: write 01-01, 01-02, then 01-01 again.
    assert wh.replace("daily_bars", bars(JAN1, {"SPY": 1.0, "TLT": 2.0}), {"session_date": JAN1}) == 2
    assert wh.replace("daily_bars", bars(JAN2, {"SPY": 3.0, "TLT": 4.0, "QQQ": 5.0}), {"session_date": JAN2}) == 3
    assert wh.replace("daily_bars", bars(JAN1, {"SPY": 10.0}), {"session_date": JAN1}) == 1

    got = wh.read("daily_bars", columns=["session_date", "ticker", "adj_close"])
    assert got.groupby("session_date").size().to_dict() == {JAN1: 1, JAN2: 3}
    assert got.loc[got.session_date == JAN1, ["ticker", "adj_close"]].values.tolist() == [["SPY", 10.0]]
    assert got.loc[got.session_date == JAN2, "adj_close"].tolist() == [5.0, 3.0, 4.0]  # ordered by ticker

    # Running the same partition again changes nothing.
    wh.replace("daily_bars", bars(JAN1, {"SPY": 10.0}), {"session_date": JAN1})
    again = wh.read("daily_bars", columns=["session_date", "ticker", "adj_close"])
    pd.testing.assert_frame_equal(again, got)


def test_replace_with_a_row_outside_where_raises_and_writes_nothing(wh: Warehouse) -> None:
    wh.replace("daily_bars", bars(JAN1, {"SPY": 1.0, "TLT": 2.0}), {"session_date": JAN1})
    before = wh.read("daily_bars")

    stray = pd.concat([bars(JAN1, {"SPY": 9.0}), bars(JAN2, {"TLT": 9.0})], ignore_index=True)
    with pytest.raises(ValueError, match=r"session_date.*outside where"):
        wh.replace("daily_bars", stray, {"session_date": JAN1})
    with pytest.raises(ValueError, match=r"ticker.*outside where"):
        wh.replace("daily_bars", bars(JAN1, {"SPY": 9.0, "QQQ": 9.0}), {"session_date": JAN1, "ticker": ["SPY"]})
    with pytest.raises(ValueError, match=r"session_date.*outside where"):
        wh.replace("daily_bars", stray, {"session_date": Between(JAN1, JAN1)})

    pd.testing.assert_frame_equal(wh.read("daily_bars"), before)


def test_replace_rolls_back_the_delete_when_the_insert_fails(wh: Warehouse) -> None:
    wh.replace("daily_bars", bars(JAN1, {"SPY": 1.0, "TLT": 2.0}), {"session_date": JAN1})
    before = wh.read("daily_bars")

    duplicate_key = pd.concat([bars(JAN1, {"SPY": 5.0}), bars(JAN1, {"SPY": 6.0})], ignore_index=True)
    with pytest.raises(sa.exc.IntegrityError):
        wh.replace("daily_bars", duplicate_key, {"session_date": JAN1})
    missing_not_null = bars(JAN1, {"SPY": 5.0}).assign(adj_close=np.nan)
    with pytest.raises(sa.exc.IntegrityError):
        wh.replace("daily_bars", missing_not_null, {"session_date": JAN1})

    pd.testing.assert_frame_equal(wh.read("daily_bars"), before)


def test_unknown_column_or_table_raises_naming_it(wh: Warehouse) -> None:
    rows = bars(JAN1, {"SPY": 1.0}).assign(bogus_col=1)
    with pytest.raises(ValueError, match=r"unknown column 'bogus_col'.*'daily_bars'"):
        wh.replace("daily_bars", rows, {"session_date": JAN1})
    with pytest.raises(ValueError, match=r"unknown column 'sesion_date'.*'daily_bars'"):
        wh.replace("daily_bars", bars(JAN1, {"SPY": 1.0}), {"sesion_date": JAN1})
    with pytest.raises(ValueError, match=r"unknown table 'bars'"):
        wh.replace("bars", bars(JAN1, {"SPY": 1.0}), {"session_date": JAN1})
    with pytest.raises(ValueError, match=r"unknown column 'nope'"):
        wh.read("daily_bars", columns=["ticker", "nope"])
    with pytest.raises(ValueError, match=r"where must name at least one column|'where' must name"):
        wh.replace("daily_bars", bars(JAN1, {"SPY": 1.0}), {})
    assert wh.row_counts(ALL)["daily_bars"] == 0


def test_nan_none_and_nat_become_null_and_round_trip(wh: Warehouse) -> None:
    rows = pd.DataFrame({
        "session_date": [JAN1, JAN1, JAN1],
        "ticker": ["A", "B", "C"],
        "open": [np.nan, 1.5, None],
        "close": [1.0, np.nan, 3.0],
        "adj_close": [1.0, 2.0, 3.0],
        "volume": [np.nan, np.nan, 7.0],
        "source": [None, "x", np.nan],
        "adjustment": ["", "all", "raw"],  # the empty string is a value, not NULL
        "ingested_at": [pd.NaT, pd.Timestamp("2022-01-01 21:00", tz="UTC"), None],
    })
    assert wh.replace("daily_bars", rows, {"session_date": JAN1}) == 3

    # Stored as SQL NULL (not as a NaN double).
    assert count_where(wh, "SELECT COUNT(*) FROM daily_bars WHERE open IS NULL") == 2
    assert count_where(wh, "SELECT COUNT(*) FROM daily_bars WHERE volume IS NULL") == 2
    assert count_where(wh, "SELECT COUNT(*) FROM daily_bars WHERE source IS NULL") == 2
    assert count_where(wh, "SELECT COUNT(*) FROM daily_bars WHERE ingested_at IS NULL") == 2
    assert count_where(wh, "SELECT COUNT(*) FROM daily_bars WHERE adjustment IS NULL") == 0

    got = wh.read("daily_bars", order_by="ticker")
    assert got["open"].isna().tolist() == [True, False, True]
    assert got["close"].isna().tolist() == [False, True, False]
    assert got["source"].isna().tolist() == [True, False, True]
    assert got["adjustment"].tolist() == ["", "all", "raw"]
    assert got["ingested_at"].isna().tolist() == [True, False, True]
    assert got.loc[1, "ingested_at"] == pd.Timestamp("2022-01-01 21:00", tz="UTC")
    # NULL filters: where value None means IS NULL.
    assert wh.read("daily_bars", where={"source": None})["ticker"].tolist() == ["A", "C"]


def test_text_and_doubles_round_trip_exactly(wh: Warehouse) -> None:
    tricky = ['{"a": "b, c", "q": "say \\"hi\\""}', "line one\nline two\r\n", "tab\there \\N \\ back", "é✓ 日本",
              "", ",", '"']
    doubles = [2 / 3, 1e-300, 0.1 + 0.2, -0.0, 1.7976931348623157e308, math.inf, -math.inf]
    rows = pd.DataFrame({"account_id": "acct", "symphony_id": "s1", "session_date": JAN1,
                         "seq": range(len(tricky)), "summary": tricky, "detail_json": tricky[::-1],
                         "node_type": pd.Series([1, 2, 3, 4, 5, "6", None], dtype=object)})  # non-text -> str(v)
    wh.replace("decision_traces", rows, {"symphony_id": "s1", "session_date": JAN1})
    got = wh.read("decision_traces", order_by="seq")
    assert got["summary"].tolist() == tricky and got["detail_json"].tolist() == tricky[::-1]
    assert got["node_type"].tolist()[:6] == ["1", "2", "3", "4", "5", "6"] and pd.isna(got.loc[6, "node_type"])
    assert got["seq"].tolist() == list(range(len(tricky)))

    metrics = pd.DataFrame({"account_id": "acct", "symphony_id": "s1", "as_of_date": JAN1,
                            "metric": [f"m{i}" for i in range(len(doubles))], "value": doubles})
    wh.replace("performance_metrics", metrics, {"symphony_id": "s1", "as_of_date": JAN1})
    assert wh.read("performance_metrics", order_by="metric")["value"].tolist() == doubles


def test_read_types_are_the_same_on_both_backends(wh: Warehouse) -> None:
    """DATE -> datetime.date objects, TIMESTAMPTZ -> datetime64[UTC], DOUBLE -> float64, TEXT -> str."""
    rows = bars(JAN1, {"SPY": 1.0}).assign(ingested_at=pd.Timestamp("2022-01-01 16:00", tz="America/New_York"))
    wh.replace("daily_bars", rows, {"session_date": "2022-01-01"})  # a string date is accepted too
    got = wh.read("daily_bars")
    assert type(got.loc[0, "session_date"]) is dt.date
    assert got.loc[0, "session_date"] == JAN1
    assert isinstance(got["ingested_at"].dtype, pd.DatetimeTZDtype)
    assert str(got["ingested_at"].dt.tz) == "UTC"
    assert got.loc[0, "ingested_at"] == pd.Timestamp("2022-01-01 21:00", tz="UTC")
    assert got["adj_close"].dtype == np.float64
    assert got["open"].dtype == np.float64  # all NULL, still float
    assert pd.api.types.is_string_dtype(got["ticker"].dtype)

    empty = wh.read("daily_bars", where={"ticker": "NONE"})
    assert list(empty.columns) == list(got.columns) and empty.empty


def test_where_forms_scalar_in_between(wh: Warehouse) -> None:
    for day, value in [(JAN1, 1.0), (JAN2, 2.0), (dt.date(2022, 1, 3), 3.0)]:
        wh.replace("daily_bars", bars(day, {"SPY": value, "TLT": value * 10}), {"session_date": day})

    def tickers_days(where: dict) -> list[tuple[str, dt.date]]:
        got = wh.read("daily_bars", where=where, columns=["ticker", "session_date"],
                      order_by=["ticker", "-session_date"])
        return list(got.itertuples(index=False, name=None))

    assert tickers_days({"ticker": "SPY", "session_date": Between(JAN2, None)}) == [
        ("SPY", dt.date(2022, 1, 3)), ("SPY", JAN2)]
    assert tickers_days({"ticker": ("TLT",), "session_date": Between(None, "2022-01-01")}) == [("TLT", JAN1)]
    assert tickers_days({"ticker": [], "session_date": JAN1}) == []
    assert len(tickers_days({"session_date": {JAN1, JAN2}})) == 4

    # A range partition: replace the whole window at once, rows inside it only.
    window = pd.concat([bars(JAN1, {"SPY": 7.0}), bars(JAN2, {"SPY": 8.0})], ignore_index=True)
    assert wh.replace("daily_bars", window, {"session_date": Between(JAN1, JAN2)}) == 2
    assert wh.row_counts(ALL)["daily_bars"] == 4  # 2 in the window + the untouched 2022-01-03 pair
    # A where column missing from rows (scalar value) is filled in.
    only_ticker = pd.DataFrame({"ticker": ["SPY"], "adj_close": [9.0]})
    assert wh.replace("daily_bars", only_ticker, {"session_date": JAN1}) == 1
    assert wh.read("daily_bars", where={"session_date": JAN1})["adj_close"].tolist() == [9.0]
    # Empty rows: the partition is cleared.
    assert wh.replace("daily_bars", only_ticker.iloc[:0], {"session_date": JAN1}) == 0
    assert wh.read("daily_bars", where={"session_date": JAN1}).empty


def test_upsert_replaces_rows_with_the_same_key(wh: Warehouse) -> None:
    wh.upsert("accounts", pd.DataFrame({"account_id": ["a", "b"], "name": ["A", "B"]}))
    wh.upsert("accounts", pd.DataFrame({"account_id": ["b", "c"], "name": ["B2", "C"]}))
    got = wh.read("accounts")
    assert got[["account_id", "name"]].values.tolist() == [["a", "A"], ["b", "B2"], ["c", "C"]]
    assert got["created_at"].notna().all()  # server default
    with pytest.raises(ValueError, match="repeat a key"):
        wh.upsert("accounts", pd.DataFrame({"account_id": ["d", "d"], "name": ["x", "y"]}))
    with pytest.raises(ValueError, match="lack key column"):
        wh.upsert("accounts", pd.DataFrame({"name": ["x"]}))

    sym = pd.DataFrame({"symphony_id": ["s1"], "account_id": ["a"], "source_format": ["json"]})
    wh.upsert("symphonies", sym)
    stored = wh.read("symphonies").iloc[0]
    assert stored["status"] == "active" and stored["capital_usd"] == 10_000.0  # defaults
    wh.upsert("symphonies", sym.assign(status="inactive", capital_usd=2500))
    stored = wh.read("symphonies")
    assert len(stored) == 1 and stored.loc[0, "status"] == "inactive" and stored.loc[0, "capital_usd"] == 2500.0
    with pytest.raises(sa.exc.IntegrityError):  # CHECK constraint on status, rolled back
        wh.upsert("symphonies", sym.assign(status="paused"))
    assert wh.read("symphonies").loc[0, "status"] == "inactive"

    # Composite key (the primary key by default): only the matching (symphony, session, ticker) rows change.
    alloc = pd.DataFrame({"account_id": "a", "symphony_id": "s1", "session_date": [JAN1, JAN1, JAN2],
                          "ticker": ["SPY", "TLT", "SPY"], "target_weight": [0.5, 0.5, 1.0]})
    wh.upsert("target_allocations", alloc)
    wh.upsert("target_allocations", alloc.iloc[[1]].assign(target_weight=0.25))
    got = wh.read("target_allocations")
    assert got["target_weight"].tolist() == [0.5, 0.25, 1.0]


def test_indicator_window_zero_means_no_window(wh: Warehouse) -> None:
    rows = pd.DataFrame({"session_date": JAN1, "ticker": "SPY",
                         "fn": ["current-price", "relative-strength-index"], "window": [0, 10], "value": [1.0, 55.0]})
    wh.replace("indicator_values", rows, {"session_date": JAN1})
    got = wh.read("indicator_values", where={"window": 0})
    assert got["fn"].tolist() == ["current-price"]
    assert got["window"].dtype == np.int64


# ----------------------------------------------------------------------------------------------------------------
# Named queries on the seeded dataset (tests/warehouse/conftest.py::seeded)
# ----------------------------------------------------------------------------------------------------------------

def test_active_symphonies(seeded: Warehouse) -> None:
    assert symphony_repo.active(seeded, ALL)["symphony_id"].tolist() == ["sym-a1", "sym-b1"]
    assert symphony_repo.active(seeded, AccountScope.only("acct-a"))["symphony_id"].tolist() == ["sym-a1"]
    assert symphony_repo.active(seeded, AccountScope.only("nobody")).empty


def test_latest_allocations_returns_only_the_newest_session_per_symphony(seeded: Warehouse) -> None:
    got = ledgers.latest_allocations(seeded, ALL)
    assert list(got.columns) == ["account_id", "symphony_id", "session_date", "ticker", "target_weight"]
    assert list(got.itertuples(index=False, name=None)) == [
        ("acct-a", "sym-a1", D2, "SPY", 1.0),
        ("acct-b", "sym-b1", D1, "QQQ", 1.0),
    ]
    assert ledgers.latest_allocations(seeded, AccountScope.only("acct-b"))["symphony_id"].tolist() == ["sym-b1"]
    as_of_d1 = ledgers.latest_allocations(seeded, AccountScope.only("acct-a"), as_of=D1)
    assert as_of_d1[["ticker", "target_weight"]].values.tolist() == [["SPY", 0.6], ["TLT", 0.4]]


def test_nav_history(seeded: Warehouse) -> None:
    nav = ledgers.nav_history(seeded, "sym-a1", ALL)
    assert nav["session_date"].tolist() == [D1, D2, D3]
    assert nav["nav_usd"].tolist() == [10000.0, 10100.0, 10040.0]
    assert math.isnan(nav.loc[0, "daily_return"]) and nav.loc[1, "daily_return"] == pytest.approx(0.01)
    assert ledgers.nav_history(seeded, "sym-a1", ALL, start=D2, end=D2)["session_date"].tolist() == [D2]
    assert ledgers.nav_history(seeded, "sym-a1", AccountScope.only("acct-b")).empty


def test_positions_on_and_last_positions_before(seeded: Warehouse) -> None:
    on_d1 = ledgers.positions_on(seeded, "sym-a1", D1, ALL)
    assert on_d1[["ticker", "qty"]].values.tolist() == [[CASH_TICKER, 9000.0], ["SPY", 10.0]]
    assert ledgers.positions_on(seeded, "sym-a1", D2, ALL).empty

    # No snapshot on D2, so the carry-in for D3 is D1's; for D2 also D1's; nothing before D1.
    before_d3 = ledgers.last_positions_before(seeded, "sym-a1", D3, ALL)
    assert set(before_d3["session_date"]) == {D1} and len(before_d3) == 2
    assert ledgers.last_positions_before(seeded, "sym-a1", D2, ALL)["session_date"].tolist() == [D1, D1]
    assert ledgers.last_positions_before(seeded, "sym-a1", "2022-01-06", ALL)["session_date"].tolist() == [D3, D3]
    empty = ledgers.last_positions_before(seeded, "sym-a1", D1, ALL)
    assert empty.empty and list(empty.columns) == list(on_d1.columns)
    assert ledgers.last_positions_before(seeded, "sym-b1", D3, ALL).empty


def test_last_bar_date_and_row_counts(seeded: Warehouse) -> None:
    assert bar_repo.last_bar_date(seeded, ["SPY", "TLT", "NOPE"]) == {"SPY": D3, "TLT": D3, "NOPE": None}
    counts = seeded.row_counts(ALL)
    assert counts["daily_bars"] == 5 and counts["target_allocations"] == 4 and counts["symphonies"] == 3
    assert counts["positions"] == 4 and counts["daily_nav"] == 3 and counts["orders"] == 0
    scoped = seeded.row_counts(AccountScope.only("acct-b"))
    assert scoped["symphonies"] == 1 and scoped["target_allocations"] == 1 and scoped["positions"] == 0
    assert scoped["daily_bars"] == 5  # market data is not user-scoped


# ----------------------------------------------------------------------------------------------------------------
# Read-only access for dashboards
# ----------------------------------------------------------------------------------------------------------------

def test_read_only_open_reads_existing_data_and_refuses_writes(seeded: Warehouse) -> None:
    seeded.dispose()
    target = seeded.engine.url.database if seeded.backend == "duckdb" else seeded.engine.url
    with (open_read_only(target) if seeded.backend == "duckdb"
          else Warehouse(seeded.engine.url, read_only=True)) as ro:
        assert ro.read_only
        assert ledgers.latest_allocations(ro, ALL)["symphony_id"].tolist() == ["sym-a1", "sym-b1"]
        assert ro.row_counts(ALL)["daily_bars"] == 5
        with pytest.raises(ReadOnlyWarehouseError):
            ro.replace("daily_bars", bars(JAN1, {"SPY": 1.0}), {"session_date": JAN1})
        with pytest.raises(ReadOnlyWarehouseError):
            ro.create_schema()
    # Short-lived connections: the writer can still write while the reader object is alive.
    seeded.replace("daily_bars", bars(JAN1, {"SPY": 1.0}), {"session_date": JAN1})


_HOLD_LOCK = textwrap.dedent("""
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("CREATE TABLE IF NOT EXISTS held (x INTEGER)")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    con.close()
""")


def test_duckdb_read_only_retries_while_another_process_writes(tmp_path: Path) -> None:
    path = tmp_path / "locked.duckdb"
    with Warehouse(f"duckdb:///{path}") as wh:
        wh.create_schema()
        wh.replace("daily_bars", bars(JAN1, {"SPY": 1.0}), {"session_date": JAN1})

    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(path), "0.6"], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        impatient = open_read_only(path, lock_retries=1, lock_backoff_s=0.01)
        with pytest.raises(WarehouseLockedError, match="locked by another process"):
            impatient.row_counts(ALL)
        started = time.monotonic()
        patient = open_read_only(path, lock_retries=8, lock_backoff_s=0.05)  # waits up to ~13 s
        assert patient.row_counts(ALL)["daily_bars"] == 1
        assert time.monotonic() - started < 10
    finally:
        holder.wait(timeout=30)
        if holder.stdout is not None:
            holder.stdout.close()


# ----------------------------------------------------------------------------------------------------------------
# Settings
# ----------------------------------------------------------------------------------------------------------------

def test_from_settings_precedence_and_safe_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORAGAMI_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("ORAGAMI_DUCKDB_PATH", raising=False)
    monkeypatch.chdir(tmp_path)

    default = Warehouse.from_settings()
    assert default.backend == "duckdb"
    assert default.engine.url.database == str(tmp_path / "var" / "oragami.duckdb")
    assert (tmp_path / "var").is_dir()

    monkeypatch.setenv("ORAGAMI_DUCKDB_PATH", str(tmp_path / "env" / "w.duckdb"))
    assert Warehouse.from_settings().engine.url.database == str(tmp_path / "env" / "w.duckdb")
    explicit = Warehouse.from_settings(duckdb_path=tmp_path / "x" / "y.duckdb")
    assert explicit.engine.url.database == str(tmp_path / "x" / "y.duckdb")

    monkeypatch.setenv("ORAGAMI_WAREHOUSE_URL", "postgresql+psycopg2://app:s3cret@db.example:5432/wh")
    # an explicit argument beats the environment; without one the environment URL wins over ORAGAMI_DUCKDB_PATH
    explicit = Warehouse.from_settings(duckdb_path=tmp_path / "x" / "y.duckdb")
    assert explicit.backend == "duckdb" and explicit.engine.url.database == str(tmp_path / "x" / "y.duckdb")
    from_env = Warehouse.from_settings()
    assert from_env.backend == "postgresql"
    assert "s3cret" not in from_env.safe_url and "s3cret" not in repr(from_env)
    assert from_env.safe_url == "postgresql+psycopg2://app:***@db.example:5432/wh"

    assert Warehouse.from_settings(url="duckdb:///:memory:").backend == "duckdb"
    with pytest.raises(ValueError, match="unsupported warehouse backend 'sqlite'"):
        Warehouse("sqlite:///x.db")


def test_in_memory_duckdb_keeps_its_data_between_calls() -> None:
    with Warehouse("duckdb:///:memory:") as wh:
        wh.create_schema()
        wh.replace("daily_bars", bars(JAN1, {"SPY": 1.0}), {"session_date": JAN1})
        assert wh.row_counts(ALL)["daily_bars"] == 1


def test_create_schema_adds_new_columns_to_an_older_warehouse(warehouse_url: str) -> None:
    """A warehouse made by an earlier release (daily_bars without ``feed``) is upgraded in place, rows kept."""
    import sqlalchemy as sa

    old = sa.MetaData()
    sa.Table("daily_bars", old, sa.Column("session_date", sa.Date, primary_key=True),
             sa.Column("ticker", sa.Text, primary_key=True), sa.Column("adj_close", sa.Float(53)))
    engine = sa.create_engine(warehouse_url)
    with engine.begin() as conn:
        old.create_all(conn)
        conn.execute(old.tables["daily_bars"].insert(), [{"session_date": dt.date(2024, 1, 2), "ticker": "SPY",
                                                          "adj_close": 470.0}])
    engine.dispose()
    wh = Warehouse(warehouse_url)
    wh.create_schema()
    wh.create_schema()  # idempotent
    rows = wh.read("daily_bars")
    assert rows["adj_close"].tolist() == [470.0] and "feed" in rows.columns and rows["feed"].isna().all()
    wh.dispose()


def test_positions_before_and_latest_closes_in_one_query(seeded: Warehouse) -> None:
    from tests.warehouse.conftest import D1, D2, D3

    before_d3 = ledgers.positions_before(seeded, D3, ALL)
    assert set(before_d3["session_date"]) == {D1}                      # sym-a1's snapshot carried into D3
    assert dict(zip(before_d3["ticker"], before_d3["qty"])) == {"SPY": 10.0, CASH_TICKER: 9000.0}
    after = ledgers.positions_before(seeded, dt.date(2022, 1, 6), ALL)
    assert dict(zip(after["ticker"], after["qty"])) == {"SPY": 20.0, CASH_TICKER: 8000.0}
    assert ledgers.positions_before(seeded, D1, ALL).empty
    # TLT has no bar on D2: its latest close on or before D2 is D1's
    assert bar_repo.latest_closes(seeded, ["SPY", "TLT", "XYZ"], D2) == {"SPY": 102.0, "TLT": 111.0}
    assert bar_repo.latest_closes(seeded, ["SPY", "TLT"], D3) == {"SPY": 103.0, "TLT": 113.0}


def test_pinned_reuses_one_connection_and_keeps_transactions_separate(wh: Warehouse) -> None:
    """Inside ``pinned()`` every call of this thread shares one connection; each ``begin()`` still commits or
    rolls back on its own, and a read between writes does not leave a transaction open."""
    bars = pd.DataFrame({"session_date": [D1], "ticker": ["SPY"], "adj_close": [1.0], "close": [1.0],
                         "source": ["t"]})
    with wh.pinned():
        with wh.connect() as first, wh.connect() as second:
            assert first is second
        wh.replace("daily_bars", bars, {"session_date": D1})
        assert wh.row_counts(ALL)["daily_bars"] == 1              # a read in between
        with pytest.raises(RuntimeError, match="boom"):
            with wh.begin() as conn:
                conn.execute(sa.delete(TABLES["daily_bars"]))
                raise RuntimeError("boom")                       # this transaction alone is rolled back
        assert wh.row_counts(ALL)["daily_bars"] == 1
        wh.replace("daily_bars", bars.assign(ticker="TLT"), {"session_date": D1})
    with wh.connect() as outside:                                 # a fresh connection sees what was committed
        assert outside.execute(sa.select(sa.func.count()).select_from(TABLES["daily_bars"])).scalar() == 1
    assert wh.read("daily_bars", columns=["ticker"])["ticker"].tolist() == ["TLT"]
