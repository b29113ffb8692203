"""Performance, Backtests and Orders & positions pages: pure reads and charts on hand-made data with known
answers, the quantstats tear sheet, and each page opened through the router, signed in (AppTest).

The metrics and the live-vs-backtest attribution themselves are tested in ``tests/engine/test_attribution.py``."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboards import auth
from dashboards.present import charts
from dashboards.reads import backtests as bt
from dashboards.reads import common, orders
from dashboards.reads import performance as perf
from dashboards.reads.prices import WAREHOUSE_SOURCE, symphony_closes
from engine import attribution
from engine.metrics import MONTHS, monthly_returns
from tests.dashboards.door import add_users, as_user, frames, texts
from tests.dashboards.seed_data import D0, D1, D2, D3, D4, seed_perf
from warehouse import CASH_TICKER, AccountScope, Warehouse, open_read_only

A, B, NOBODY = AccountScope.only("acct-a"), AccountScope.only("acct-b"), AccountScope.only("acct-nobody")


@pytest.fixture(scope="module")
def perf_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("perf") / "perf.duckdb"
    with Warehouse(f"duckdb:///{path}") as wh:
        wh.create_schema()
        seed_perf(wh)
        wh.upsert("accounts", pd.DataFrame({"account_id": ["acct-nobody"], "name": ["Nobody"]}))
        add_users(wh)
    return path


@pytest.fixture
def signed_in_db(perf_db, use_duckdb, monkeypatch):
    """The seeded warehouse with the login on: tests sign in through the form."""
    use_duckdb(perf_db)
    monkeypatch.setenv(auth.ENV_AUTH, "on")
    return perf_db


@pytest.fixture
def ro(perf_db):
    wh = open_read_only(perf_db)
    yield wh
    wh.dispose()


# -- hand-made live vs backtest case (the engine's attribution, formatted by the page's reads) -----------------

S = [dt.date(2024, 3, d) for d in (4, 5, 6, 7, 8, 11)]


def _aligned() -> pd.DataFrame:
    paper = pd.DataFrame({"session_date": S[:3], "nav_usd": [100.0, 101.0, 102.01]})
    daily = pd.DataFrame({"session_date": S[:3], "nav_usd": [200.0, 202.0, 203.0]})
    return bt.live_vs_backtest(paper, daily)


def test_live_vs_backtest_adapts_the_warehouse_frames():
    aligned = _aligned()
    assert aligned["backtest_usd"].tolist() == pytest.approx([100.0, 101.0, 101.5])
    assert aligned["return_diff"].iloc[2] == pytest.approx(0.01 - 0.5 / 101.0)


def test_divergence_table_formats_the_weights():
    days = attribution.classify_days(
        _aligned(),
        pd.DataFrame({"session_date": [S[1], S[1]], "ticker": ["SPY", CASH_TICKER], "target_weight": [0.8, 0.2]}),
        pd.DataFrame({"session_date": [S[1]], "ticker": ["TLT"], "weight": [1.0]}))
    table = bt.divergence_table(days)
    assert list(table.columns) == list(bt.DIVERGENCE_COLUMNS)
    assert table[["cause", "paper_holdings", "backtest_holdings"]].values.tolist() == [
        ["different branch", "SPY 80%", "TLT 100%"], ["costs", "—", "—"]]


# -- series helpers -------------------------------------------------------------------------------------------

def test_rebase():
    s = pd.Series([50.0, 100.0, 75.0])
    assert perf.rebase(s).tolist() == [1.0, 2.0, 1.5]
    assert perf.rebase(s, 10000).tolist() == [10000.0, 20000.0, 15000.0]
    assert perf.rebase(pd.Series([np.nan, 0.0, 4.0, 8.0])).tolist()[2:] == [1.0, 2.0]


def test_nav_vs_benchmark_rebases_both_and_fills_missing_benchmark_days():
    idx = pd.to_datetime([D1, D2, D3])
    growth = perf.nav_vs_benchmark(pd.Series([100.0, 110.0, 121.0], index=idx),
                                 pd.Series([400.0, 440.0], index=pd.to_datetime([D0, D1])))
    assert growth["paper"].tolist() == pytest.approx([1.0, 1.1, 1.21])
    assert growth["benchmark"].tolist() == pytest.approx([1.0, 1.0, 1.0])  # D2, D3 forward-filled from D1


def test_metrics_table_labels_each_source():
    idx = pd.bdate_range("2024-01-01", periods=40)
    nav = pd.Series(10000 * np.cumprod(1 + np.random.default_rng(0).normal(0.001, 0.01, 40)), index=idx)
    table, error = perf.metrics_table(nav, capital=10000.0)
    assert error is None
    assert set(table["source"]) == {perf.SOURCE_COMPOSER, perf.SOURCE_QUANTSTATS}
    qs_rows = dict(zip(table.loc[table["source"] == perf.SOURCE_QUANTSTATS, "metric"],
                       table.loc[table["source"] == perf.SOURCE_QUANTSTATS, "raw"]))
    ours = dict(zip(table.loc[table["source"] == perf.SOURCE_COMPOSER, "metric"],
                    table.loc[table["source"] == perf.SOURCE_COMPOSER, "raw"]))
    assert set(qs_rows) == {"CAGR", "Sortino ratio", "Max drawdown", "Volatility (annualised)"}
    assert qs_rows["Max drawdown"] == pytest.approx(ours["Max drawdown"])  # one convention on the page: positive
    assert ours["Max drawdown"] > 0
    assert qs_rows["Volatility (annualised)"] == pytest.approx(ours["Volatility (annualised)"])


def test_metrics_table_reports_a_quantstats_failure(monkeypatch):
    def boom(_):
        raise TypeError("pandas 3 says no")

    monkeypatch.setattr(perf, "quantstats_metrics", boom)
    nav = pd.Series([100.0, 101.0, 100.5], index=pd.to_datetime([D1, D2, D3]))
    table, error = perf.metrics_table(nav)
    assert error.startswith("quantstats could not compute its metrics (TypeError")
    assert set(table["source"]) == {perf.SOURCE_COMPOSER}


def test_tear_sheet_html_contains_the_symphony_name(tmp_path):
    idx = pd.bdate_range("2024-01-02", periods=60)
    returns = pd.Series(np.random.default_rng(1).normal(0.0005, 0.01, 60), index=idx)
    bench = pd.Series(np.random.default_rng(2).normal(0.0004, 0.01, 60), index=idx)
    path = perf.tear_sheet_html(returns, "Sixty Forty", tmp_path / "t.html", benchmark=bench)
    assert "Sixty Forty" in path.read_text(encoding="utf-8")


def test_tear_sheet_failures_raise_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(perf.TearSheetError, match="at least two daily returns"):
        perf.tear_sheet_html(pd.Series([0.01], index=pd.to_datetime([D1])), "x", tmp_path / "t.html")
    import quantstats

    def boom(*args, **kwargs):
        raise AttributeError("'Series' object has no attribute 'iteritems'")

    monkeypatch.setattr(quantstats.reports, "html", boom)
    idx = pd.bdate_range("2024-01-02", periods=5)
    with pytest.raises(perf.TearSheetError, match="quantstats failed to build the tear sheet"):
        perf.tear_sheet_html(pd.Series([0.01] * 5, index=idx), "x", tmp_path / "t.html")


def test_charts_build_figures_including_empty_ones():
    idx = pd.to_datetime([D1, D2, D3])
    nav = pd.Series([100.0, 99.0, 102.0], index=idx)
    assert isinstance(charts.growth_chart(perf.nav_vs_benchmark(nav, None)), go.Figure)
    assert len(charts.drawdown_chart(pd.Series([0.0, -0.01, 0.0], index=idx)).data) == 1
    heat = charts.monthly_heatmap(monthly_returns(nav))
    assert heat.data[0].x == tuple(MONTHS)
    assert charts.monthly_heatmap(monthly_returns(nav.iloc[:1])).data
    assert charts.equity_curves_chart(bt.rebased_curves(pd.DataFrame(
        columns=["run_id", "session_date", "nav_usd"]))).data == ()
    assert [t.name for t in charts.live_vs_backtest_chart(_aligned()).data] == ["Paper", "Backtest (rebased)"]


# -- reads on the seeded warehouse --------------------------------------------------------------------------------

def test_reads_are_scoped_to_the_account(ro):
    assert common.symphonies(ro, B)["symphony_id"].tolist() == ["sym-qqq"]
    assert set(common.symphonies(ro, AccountScope.all())["symphony_id"]) == {"sym-6040", "sym-qqq", "sym-old"}
    assert bt.backtest_runs(ro, B).empty
    runs = bt.backtest_runs(ro, A)
    assert runs["run_id"].tolist() == ["bt-new", "bt-old"]  # newest first
    assert runs["config"].iloc[0]["benchmark"] == "SPY" and runs["costs"].iloc[0]["slippage"] == 1.5
    assert runs["config"].iloc[1] == {}
    assert common.paper_nav(ro, B, ["sym-6040"]).empty  # another account's symphony reads nothing
    assert orders.orders_on(ro, B, D3).empty and len(orders.orders_on(ro, A, D3)) == 2
    assert orders.activity_sessions(ro, A) == [D3, D2, D1]
    assert bt.symphony_order_outcomes(ro, B, "sym-6040", D1, D3).empty
    assert bt.backtest_weights(ro, B, "bt-new").empty and len(bt.backtest_weights(ro, A, "bt-new")) == 6


def test_live_vs_backtest_on_the_seeded_warehouse(ro):
    aligned = bt.live_vs_backtest(common.paper_nav(ro, A, ["sym-6040"]), bt.backtest_daily(ro, A, ["bt-new"]))
    assert aligned["backtest_usd"].tolist() == pytest.approx([10000.0, 9900.0, 10200.0])
    days = attribution.classify_days(aligned, bt.target_allocations(ro, A, "sym-6040", D1, D3),
                                     bt.backtest_weights(ro, A, "bt-new", D1, D3),
                                     bt.symphony_order_outcomes(ro, A, "sym-6040", D1, D3))
    assert list(zip(days["session_date"], days["cause"])) == [(D2, "different branch"), (D3, "missed fill")]


def test_replay_re_evaluates_the_stored_model_on_the_warehouse_bars(ro):
    model = common.symphony_model_json(ro, A, "sym-6040")
    found = symphony_closes(ro, bt.model_tickers(model), D4)
    # the seeded daily_bars hold SPY only; TLT is not in the warehouse, so the bundle answers and says why
    assert found.source.startswith("bundled closes (the warehouse has no bars of TLT")
    out = bt.replay(model, found.closes, D4)
    assert out["session"] == D4 and list(out["trace"]["node_type"]) == ["if"]
    assert list(out["weights"]) in (["SPY"], ["TLT"])
    assert common.symphony_model_json(ro, B, "sym-6040") is None


def test_symphony_closes_are_the_warehouse_bars_when_it_has_them(ro):
    found = symphony_closes(ro, ["SPY"], D3)
    assert found.source == WAREHOUSE_SOURCE
    assert found.closes["SPY"].tolist() == [470.0, 472.0, 468.0, 467.0]  # the seeded bars, not the bundle's


def test_benchmark_closes_read_the_warehouse(ro):
    assert perf.benchmark_closes(ro, "SPY", D1, D3).tolist() == [472.0, 468.0, 467.0]
    assert perf.benchmark_closes(ro, "QQQ", D1, D3).empty


# -- the pages, through the router, signed in ----------------------------------------------------------------------

def test_performance_page(signed_in_db):
    at = as_user("alice", "app_pages/performance.py")
    assert not at.exception
    assert at.selectbox(key="performance_symphony").value == "sym-6040"
    assert at.selectbox(key="performance_symphony").options == ["Sixty Forty", "Retired"]
    metrics = {m.label: m.value for m in at.main.metric}
    assert metrics["Paper NAV"] == "$10,200.00" and metrics["Paper return"] == "+2.00%"
    assert metrics["SPY same window"] == "\u22121.06%"  # 467 / 472 − 1, with the U+2212 minus
    table = next(df.value for df in at.dataframe if "source" in df.value)
    assert set(table["source"]) == {perf.SOURCE_COMPOSER, perf.SOURCE_QUANTSTATS}
    assert len(at.get("plotly_chart")) == 3  # growth, drawdown, monthly heatmap (rolling Sharpe needs 64 sessions)
    assert "Needs at least 64 paper sessions" in texts(at)
    at.button(key="performance_build_sym-6040").click().run()
    assert not at.exception and not at.error
    assert at.session_state["performance_tearsheet_sym-6040"].startswith(b"<")
    assert b"Sixty Forty" in at.session_state["performance_tearsheet_sym-6040"]


def test_performance_page_scoped_and_empty_states(signed_in_db):
    at = as_user("bob", "app_pages/performance.py")
    assert not at.exception
    assert at.selectbox(key="performance_symphony").options == ["Nasdaq Tilt"]
    at = as_user("nobody", "app_pages/performance.py")
    assert [i.value for i in at.info][0].startswith("No symphonies for this account yet")


def test_backtests_page(signed_in_db):
    at = as_user("alice", "app_pages/backtests.py")
    assert not at.exception
    assert frames(at, "run_id")[0]["run_id"].tolist() == ["bt-new", "bt-old"]
    assert at.multiselect(key="backtests_compare").value == ["bt-new"]
    trace = frames(at, "node_path")[0]
    assert trace["node_type"].tolist() == ["if"]
    assert frames(at, "weight")[1]["ticker"].tolist() == ["SPY"]
    days = frames(at, "cause")[0]
    assert days["cause"].tolist() == ["different branch", "missed fill"]
    assert days["paper_holdings"].tolist() == ["SPY 50%, TLT 50%", "SPY 60%, TLT 40%"]  # seeded D2, D3 targets
    assert days["backtest_holdings"].tolist() == ["TLT 100%", "SPY 60%, TLT 40%"]
    assert {m.label: m.value for m in at.main.metric}["Days that differed"] == "2 / 3"
    at = as_user("bob", "app_pages/backtests.py")
    assert not at.exception
    assert at.info[0].value.startswith("No backtests yet — run the `backtest_all` job in Dagster or `make demo`")


def test_orders_page(signed_in_db):
    at = as_user("root", "app_pages/orders.py")  # the operator sees every account
    assert not at.exception
    assert at.selectbox(key="orders_session").value == D3
    orders_table = frames(at, "filled_avg_price")[0]
    assert orders_table["status"].tolist() == ["filled", "rejected"]
    assert any("TLT sell rejected: insufficient qty" in w.value for w in at.warning)
    assert frames(at, "order_status")[0]["order_status"].tolist() == ["filled", "rejected"]
    assert {m.label: m.value for m in at.main.metric}["Cash"] == "$329.00"
    assert len(frames(at, "evaluated_at")[0]) == 2  # sym-6040 and sym-qqq on D3
    at.selectbox(key="orders_session").set_value(D1).run()
    assert not at.exception
    assert frames(at, "evaluated_at")[0]["status"].tolist() == ["failed"]
    at = as_user("bob", "app_pages/orders.py")  # an analyst sees only their account's runs on D3
    assert set(frames(at, "evaluated_at")[0]["symphony"]) == {"Nasdaq Tilt"}
    assert not frames(at, "filled_avg_price")
    at = as_user("nobody", "app_pages/orders.py")
    assert at.info[0].value.startswith("No orders or evaluations yet")
