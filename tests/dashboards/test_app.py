"""The Streamlit app end to end with AppTest: router + overview page on seeded, empty and missing warehouses.

These run with the login off (``ORAGAMI_DASHBOARD_AUTH=off``, the local demo's door: the anonymous operator sees
every account); the signed-in analyst's door is exercised by :mod:`tests.dashboards.test_tenancy` and the page
tests."""
from __future__ import annotations

import functools
import subprocess
import sys

import pandas as pd
from streamlit.testing.v1 import AppTest

from dashboards import cache
from dashboards.present.format import format_usd
from dashboards.reads import store
from tests.dashboards.door import APP
from tests.dashboards.seed_data import D3
from warehouse import Warehouse, open_read_only
from warehouse.repos import symphonies as symphony_repo
from warehouse.scope import ALL_ACCOUNTS


def _run() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=30).run()


def _main_metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.main.metric}


def _texts(at: AppTest) -> str:
    parts = [e.value for kind in ("info", "warning", "error", "caption", "markdown") for e in at.get(kind)]
    return "\n".join(str(p) for p in parts)


def test_overview_shows_the_seeded_warehouse(seeded_duckdb, use_duckdb):
    use_duckdb(seeded_duckdb)
    at = _run()
    assert not at.exception
    with open_read_only(seeded_duckdb) as wh:  # the expected values, read straight from the warehouse
        active = len(symphony_repo.active(wh, ALL_ACCOUNTS))
        nav = wh.read("daily_nav")
        total = nav.loc[nav["session_date"] == nav["session_date"].max(), "nav_usd"].sum()
    metrics = _main_metrics(at)
    assert metrics["Accounts"] == "2"
    assert metrics["Active symphonies"] == str(active) == "2"
    assert metrics["Latest session"] == D3.isoformat()
    assert metrics["Total paper NAV"] == format_usd(total) == "$15,150.00"
    assert [m.delta for m in at.main.metric if m.label == "Total paper NAV"] == ["+$50.00"]
    assert metrics["Total P&L"] == "\u2212$4,850.00"   # 10,200 + 4,950 − 2 × 10,000 starting capital (U+2212)

    table = at.dataframe[0].value
    assert table["label"].tolist() == ["Sixty Forty", "Nasdaq Tilt", "Retired"]  # active first, by account
    holdings = dict(zip(table["label"], table["holdings"]))
    assert holdings == {"Nasdaq Tilt": "QQQ 80%, Cash 20%", "Sixty Forty": "SPY 60%, TLT 40%", "Retired": "GLD 100%"}
    assert dict(zip(table["label"], table["last_run"]))["Retired"] == "failed: no prices"  # no Python class name

    labels = [e.label for e in at.expander]
    assert labels == ["**Sixty Forty** — SPY 60%, TLT 40%", "**Nasdaq Tilt** — QQQ 80%, Cash 20%",
                      "**Retired** (inactive) — GLD 100% (as of 2024-01-02)"]
    # allocation chart + one NAV chart per symphony with paper NAV (Retired has none)
    assert len(at.get("plotly_chart")) == 1 + 2
    # "why it holds this": the D3 decision trace of Sixty Forty, in tree order
    trace_tables = [df.value for df in at.dataframe[1:]]
    assert any(t["summary"].tolist()[:1] == ["SPY above its 200d average -> then"] for t in trace_tables)
    text = _texts(at)
    assert "Backtest 2023-12-29 → 2024-01-05: CAGR +10.00%, Sharpe 1.20, max drawdown 20.00%" in text  # positive
    assert "Paper +2.00% over 3 sessions · backtest +2.00% over the same window" in text
    assert "No backtest yet" in text  # Nasdaq Tilt
    # the sidebar names the warehouse and its latest session
    assert at.sidebar.code[0].value == f"duckdb:///{seeded_duckdb}"
    assert [m.value for m in at.sidebar.metric] == [D3.isoformat()]


def test_dashboard_holds_no_connection_between_runs(seeded_duckdb, use_duckdb):
    use_duckdb(seeded_duckdb)
    assert not _run().exception
    # a writer (Dagster) can open the file right after a page run: the page left no DuckDB connection open
    with Warehouse(f"duckdb:///{seeded_duckdb}") as wh:
        wh.upsert("accounts", pd.DataFrame({"account_id": ["acct-c"], "name": ["Carol"]}))


def test_empty_warehouse_explains_what_to_do(tmp_path, use_duckdb):
    path = use_duckdb(tmp_path / "empty.duckdb")
    with Warehouse(f"duckdb:///{path}") as wh:
        wh.create_schema()
    at = _run()
    assert not at.exception
    assert [i.value for i in at.info] == [
        "No symphonies yet — run `make demo` (a demo account trading 20 bundled sessions) or `oragami seed FILE`."]
    assert [m.value for m in at.sidebar.metric] == ["none yet"]


def test_missing_warehouse_explains_what_to_do_and_creates_nothing(tmp_path, use_duckdb):
    path = use_duckdb(tmp_path / "absent" / "oragami.duckdb")
    at = _run()
    assert not at.exception
    assert len(at.info) == 1 and at.info[0].value.startswith(f"No warehouse at `{path}` yet — run `make demo`")
    assert not path.exists() and not path.parent.exists()


def test_registered_but_never_evaluated(tmp_path, use_duckdb):
    path = use_duckdb(tmp_path / "registered.duckdb")
    with Warehouse(f"duckdb:///{path}") as wh:
        wh.create_schema()
        wh.upsert("accounts", pd.DataFrame({"account_id": ["a"], "name": ["A"]}))
        wh.upsert("symphonies", pd.DataFrame({"symphony_id": ["s"], "account_id": ["a"], "name": ["Only"],
                                              "source_format": ["json"], "status": ["active"]}))
    at = _run()
    assert not at.exception
    assert _main_metrics(at) == {"Accounts": "1", "Active symphonies": "1", "Latest session": "none yet",
                                 "Total paper NAV": "—", "Total P&L": "—"}
    infos = [i.value for i in at.info]
    assert any(i.startswith("Symphonies are registered but no session has been evaluated yet") for i in infos)
    assert any(i.startswith("No allocation yet") for i in infos)


def test_locked_warehouse_shows_a_warning(seeded_duckdb, use_duckdb, monkeypatch):
    use_duckdb(seeded_duckdb)
    # no retries, so that the test does not wait through the backoff
    fast = functools.partial(open_read_only, lock_retries=0)
    monkeypatch.setattr(cache, "open_read_only", fast)
    monkeypatch.setattr(store, "open_read_only", fast)
    writer = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
                               "sys.stdin.read()", str(seeded_duckdb)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "ready"
        at = _run()
    finally:
        writer.stdin.close()
        writer.wait(timeout=10)
    assert not at.exception
    assert len(at.warning) == 1 and at.warning[0].value.startswith("The warehouse is busy")


def test_unreachable_postgres_is_reported_without_the_password(monkeypatch, clean_cache):
    monkeypatch.setenv("ORAGAMI_WAREHOUSE_URL", "postgresql+psycopg2://bob:s3cret@127.0.0.1:1/oragami")
    at = _run()
    assert not at.exception
    assert len(at.error) == 1 and at.error[0].value.startswith(
        "Cannot read the warehouse at `postgresql+psycopg2://bob:***@127.0.0.1:1/oragami`")
    assert at.sidebar.code[0].value == "postgresql+psycopg2://bob:***@127.0.0.1:1/oragami"
    everything = "\n".join(str(e.value) for kind in ("error", "caption", "code", "markdown") for e in at.get(kind))
    assert "s3cret" not in everything
