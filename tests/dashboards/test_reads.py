"""The dashboard's pure reads (dashboards.reads) and formatting helpers (dashboards.present.format), without
Streamlit, on a hand-seeded warehouse. Reads here use the operator's explicit ``ALL_ACCOUNTS``; the tenant
restriction is tested in :mod:`tests.dashboards.test_auth` and, through the app, :mod:`test_tenancy`."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from dashboards.present import format as fmt
from dashboards.reads import common, overview, store
from tests.dashboards.seed_data import D0, D1, D2, D3, D4
from warehouse import ALL_ACCOUNTS, CASH_TICKER, Warehouse, open_read_only


@pytest.fixture
def ro(seeded_duckdb_shared):
    """The seeded warehouse opened the way the dashboard opens it: read-only."""
    wh = open_read_only(seeded_duckdb_shared)
    yield wh
    wh.dispose()


def _frames(wh: Warehouse) -> dict:
    runs = overview.latest_backtest_runs(wh, ALL_ACCOUNTS)
    return {
        "symphonies": common.symphonies(wh, ALL_ACCOUNTS), "accounts": common.accounts(wh, ALL_ACCOUNTS),
        "allocations": overview.latest_allocations(wh, ALL_ACCOUNTS),
        "runs": overview.symphony_runs(wh, ALL_ACCOUNTS), "nav": common.paper_nav(wh, ALL_ACCOUNTS),
        "backtests": runs, "backtest_nav": overview.backtest_nav(wh, ALL_ACCOUNTS, runs),
    }


# -- pure helpers ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("weight, text", [(0.6, "60%"), (1.0, "100%"), (0.445218, "44.5%"), (1 / 3, "33.3%"),
                                          (0.1249, "12.5%"), (0.0, "0%")])
def test_format_weight(weight, text):
    assert fmt.format_weight(weight) == text


def test_holdings_string_orders_by_weight_and_puts_cash_last():
    alloc = pd.DataFrame({"ticker": ["TLT", CASH_TICKER, "SPY", "GLD", "BIL"],
                          "target_weight": [0.3, 0.25, 0.4, 0.05, 0.0001]})
    assert fmt.holdings_string(alloc) == "SPY 40%, TLT 30%, GLD 5%, Cash 25%"
    assert fmt.holdings_string(alloc.iloc[0:0]) == ""


def test_display_labels_add_the_id_only_to_shared_names():
    syms = pd.DataFrame({"symphony_id": ["a", "b", "c", "d"], "name": ["Same", "Same", "Unique", None]})
    assert common.display_labels(syms) == {"a": "Same (a)", "b": "Same (b)", "c": "Unique", "d": "d"}


def test_format_usd():
    assert fmt.format_usd(15150.0) == "$15,150.00"
    assert fmt.format_usd(-1234.5) == "\u2212$1,234.50"  # U+2212 before the dollar sign
    assert fmt.format_usd(None) == "—"


def test_nav_comparison_rebases_on_the_first_common_session():
    paper = pd.DataFrame({"session_date": [D1, D2, D3], "nav_usd": [10000.0, 10100.0, 10200.0]})
    # the backtest starts one session after the paper: rebased on D2, where both exist
    bt = pd.DataFrame({"session_date": [D2, D3, D4], "nav_usd": [200.0, 210.0, 220.0]})
    out = overview.nav_comparison(paper, bt)
    back = out[out["series"] == overview.BACKTEST]
    assert list(back["session_date"].dt.date) == [D2, D3]
    assert back["nav_usd"].tolist() == pytest.approx([10100.0, 10100.0 * 210 / 200])


def test_nav_comparison_without_overlap_has_only_paper():
    paper = pd.DataFrame({"session_date": [D2, D3], "nav_usd": [1.0, 2.0]})
    out = overview.nav_comparison(paper, pd.DataFrame({"session_date": [D0], "nav_usd": [5.0]}))
    assert set(out["series"]) == {overview.PAPER}
    assert overview.window_return(out, overview.PAPER) == pytest.approx(1.0)
    assert overview.window_return(out, overview.BACKTEST) is None


def test_headline_of_an_empty_warehouse():
    empty_syms = pd.DataFrame(columns=["symphony_id", "status"])
    empty_nav = pd.DataFrame(columns=["symphony_id", "session_date", "nav_usd"])
    h = overview.headline(empty_syms, pd.DataFrame(columns=["account_id"]), empty_nav, None)
    assert h == {"accounts": 0, "active_symphonies": 0, "latest_session": None, "nav_date": None,
                 "total_nav_usd": None, "total_nav_change_usd": None, "total_pnl_usd": None}


# -- reads on the seeded warehouse (DuckDB, and PostgreSQL when reachable) -------------------------------------

def test_latest_session_is_the_newest_written_session(ro):
    assert common.latest_session(ro, ALL_ACCOUNTS) == D3


def test_symphonies_carry_account_status_and_rebalance_active_first(ro):
    syms = common.symphonies(ro, ALL_ACCOUNTS)
    assert syms["symphony_id"].tolist() == ["sym-6040", "sym-qqq", "sym-old"]
    row = syms.set_index("symphony_id").loc["sym-qqq"]
    assert (row["name"], row["label"], row["account_id"], row["account_name"], row["status"], row["rebalance"]) == \
        ("Nasdaq Tilt", "Nasdaq Tilt", "acct-b", "Bob", "active", "none")
    assert syms.set_index("symphony_id").loc["sym-old", "status"] == "inactive"


def test_overview_holdings_runs_nav_and_backtest_stats(ro):
    f = _frames(ro)
    ov = overview.symphony_overview(f["symphonies"], f["allocations"], f["runs"], f["nav"], f["backtests"])
    assert list(ov.columns) == list(overview.OVERVIEW_COLUMNS)
    ov = ov.set_index("symphony_id")
    assert ov.loc["sym-6040", "holdings"] == "SPY 60%, TLT 40%"
    assert ov.loc["sym-6040", "holdings_date"] == D3
    assert ov.loc["sym-qqq", "holdings"] == "QQQ 80%, Cash 20%"
    assert ov.loc["sym-old", "holdings"] == "GLD 100%"
    assert ov.loc["sym-old", "holdings_date"] == D1
    assert (ov.loc["sym-6040", "last_run_status"], ov.loc["sym-6040", "last_run_date"]) == ("ok", D3)
    assert (ov.loc["sym-old", "last_run_status"], ov.loc["sym-old", "last_run_reason"]) == \
        ("failed", "ValueError: no prices")
    assert ov.loc["sym-6040", "paper_nav_usd"] == 10200.0
    assert ov.loc["sym-qqq", "paper_nav_usd"] == 4950.0
    assert pd.isna(ov.loc["sym-old", "paper_nav_usd"])
    # the newest backtest run (bt-new), not the older one
    assert (ov.loc["sym-6040", "backtest_cagr"], ov.loc["sym-6040", "backtest_sharpe"],
            ov.loc["sym-6040", "backtest_max_drawdown"]) == (0.10, 1.2, -0.2)
    assert pd.isna(ov.loc["sym-qqq", "backtest_cagr"])


def test_headline_numbers(ro):
    f = _frames(ro)
    h = overview.headline(f["symphonies"], f["accounts"], f["nav"], common.latest_session(ro, ALL_ACCOUNTS))
    assert h["accounts"] == 2
    assert h["active_symphonies"] == 2
    assert h["latest_session"] == D3 and h["nav_date"] == D3
    assert h["total_nav_usd"] == pytest.approx(15150.0)
    assert h["total_nav_change_usd"] == pytest.approx(50.0)
    # both symphonies started with the default 10,000: 10,200 + 4,950 − 20,000
    assert h["total_pnl_usd"] == pytest.approx(-4850.0)


def test_backtest_nav_is_the_newest_run_rebased_over_the_paper_window(ro):
    f = _frames(ro)
    runs = f["backtests"]
    assert runs["run_id"].tolist() == ["bt-new"]
    assert set(f["backtest_nav"]["run_id"]) == {"bt-new"}
    paper = f["nav"][f["nav"]["symphony_id"] == "sym-6040"]
    out = overview.nav_comparison(paper, f["backtest_nav"])
    back = out[out["series"] == overview.BACKTEST]
    # D0 and D4 lie outside the paper window; 100 -> 10000 (x100) on D1
    assert [d.date() for d in back["session_date"]] == [D1, D2, D3]
    assert back["nav_usd"].tolist() == pytest.approx([10000.0, 9900.0, 10200.0])
    assert overview.window_return(out, overview.PAPER) == pytest.approx(0.02)
    assert overview.window_return(out, overview.BACKTEST) == pytest.approx(0.02)


def test_decision_traces_of_one_session_in_tree_order(ro):
    traces = overview.decision_traces(ro, ALL_ACCOUNTS, D3)
    assert traces["node_path"].tolist() == ["root/0", "root/0/2", "root/0/10"]
    assert traces["summary"].iloc[0] == "SPY above its 200d average -> then"
    assert overview.decision_traces(ro, ALL_ACCOUNTS, D2)["summary"].tolist() == ["yesterday's reason"]
    assert overview.decision_traces(ro, ALL_ACCOUNTS, None).empty


def test_symphony_runs_keep_the_newest_per_symphony(ro):
    runs = overview.symphony_runs(ro, ALL_ACCOUNTS).set_index("symphony_id")
    assert runs["session_date"].to_dict() == {"sym-6040": D3, "sym-old": D1, "sym-qqq": D3}


def test_every_read_gives_the_same_answer_on_both_backends(seeded_url, seeded_duckdb_shared):
    """The reads are backend-neutral: a freshly seeded warehouse (PostgreSQL when reachable) answers like DuckDB."""
    with open_read_only(seeded_url) as other, open_read_only(seeded_duckdb_shared) as ref:
        assert common.latest_session(other, ALL_ACCOUNTS) == common.latest_session(ref, ALL_ACCOUNTS) == D3
        got, want = _frames(other), _frames(ref)
        got["traces"], want["traces"] = overview.decision_traces(other, ALL_ACCOUNTS, D3), overview.decision_traces(ref, ALL_ACCOUNTS, D3)
    for name in want:
        pd.testing.assert_frame_equal(got[name], want[name], obj=name)


def test_reads_of_an_empty_warehouse(warehouse_url):
    with Warehouse(warehouse_url) as wh:
        wh.create_schema()
    with open_read_only(warehouse_url) as ro:
        assert common.latest_session(ro, ALL_ACCOUNTS) is None
        assert common.symphonies(ro, ALL_ACCOUNTS).empty
        assert overview.latest_backtest_runs(ro, ALL_ACCOUNTS).empty and overview.backtest_nav(ro, ALL_ACCOUNTS).empty
        assert overview.symphony_runs(ro, ALL_ACCOUNTS).empty
        assert store.warehouse_state(warehouse_url) == "ok"


def test_warehouse_state_without_file_or_schema(tmp_path):
    missing = tmp_path / "nothing.duckdb"
    assert store.warehouse_state(f"duckdb:///{missing}") == "missing"
    assert not missing.exists()  # looking must not create the file
    bare = tmp_path / "bare.duckdb"
    import duckdb

    duckdb.connect(str(bare)).close()
    assert store.warehouse_state(f"duckdb:///{bare}") == "no_schema"


def test_settings_url_follows_the_environment_and_safe_url_hides_the_password(monkeypatch, tmp_path):
    monkeypatch.delenv("ORAGAMI_WAREHOUSE_URL", raising=False)
    monkeypatch.setenv("ORAGAMI_DUCKDB_PATH", str(tmp_path / "w.duckdb"))
    assert store.settings_url() == f"duckdb:///{tmp_path / 'w.duckdb'}"
    assert not (tmp_path / "w.duckdb").exists()
    monkeypatch.setenv("ORAGAMI_WAREHOUSE_URL", "postgresql+psycopg2://bob:s3cret@db:5432/oragami")
    assert store.settings_url() == "postgresql+psycopg2://bob:s3cret@db:5432/oragami"
    assert store.safe_url(store.settings_url()) == "postgresql+psycopg2://bob:***@db:5432/oragami"
    assert store.duckdb_file(store.settings_url()) is None


def test_dates_are_plain_dates(ro):
    assert isinstance(overview.latest_allocations(ro, ALL_ACCOUNTS)["session_date"].iloc[0], dt.date)
