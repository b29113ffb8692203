"""Performance, Backtests and Orders & positions pages: pure queries and charts on hand-made data with known
answers, the quantstats tear sheet, and AppTest runs of each page file on a seeded warehouse."""
from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from dashboards import charts
from dashboards import queries_perf as qp
from engine.parsing import parse_defsymphony
from tests.dashboards.seed_data import D0, D1, D2, D3, D4, seed_overview
from warehouse import CASH_TICKER, Warehouse, open_read_only

PAGES = Path(__file__).resolve().parents[2] / "dashboards" / "app_pages"
TREND = ('(defsymphony "Sixty Forty" {:rebalance-frequency :daily} (weight-equal [(if (> (current-price "SPY") '
         '(moving-average-price "SPY" {:window 20})) [(asset "SPY")] [(asset "TLT")])]))')
UTC = dt.timezone.utc


# -- a seeded warehouse with trading and backtest detail ---------------------------------------------------------

def seed_perf(wh: Warehouse) -> None:
    """The overview dataset plus: a stored model for sym-6040, SPY bars, backtest config/stats/weights, and on D3
    one filled and one rejected netted order with the intents, fills and positions behind them."""
    seed_overview(wh)
    wh.upsert("symphonies", pd.DataFrame([{
        "symphony_id": "sym-6040", "account_id": "acct-a", "name": "Sixty Forty", "source_format": "defsymphony",
        "source_text": TREND, "parsed_json": parse_defsymphony(TREND).model_dump_json(), "status": "active",
        "rebalance": "daily"}]))
    wh.upsert("daily_bars", pd.DataFrame({"session_date": [D0, D1, D2, D3, D4], "ticker": "SPY",
                                          "adj_close": [470.0, 472.0, 468.0, 467.0, 470.0]}))
    wh.upsert("backtest_runs", pd.DataFrame([{
        "run_id": "bt-new", "account_id": "acct-a", "symphony_id": "sym-6040", "start_date": D0, "end_date": D4,
        "capital_usd": 10000.0, "slippage_bps": 5.0, "config_json": json.dumps({"benchmark": "SPY", "slippage_bps": 5}),
        "stats_json": json.dumps({"stats": {"cumulative_return": 1.06, "sharpe_ratio": 1.2},
                                  "costs": {"slippage": 1.5, "reg_fee": 0.1, "taf_fee": 0.0}, "benchmark": {}}),
        "cagr": 0.10, "sharpe": 1.2, "max_drawdown": 0.2, "created_at": dt.datetime(2024, 2, 1, tzinfo=UTC)}]))
    bw = pd.DataFrame([(D1, "SPY", 0.5), (D1, "TLT", 0.5), (D2, "TLT", 1.0), (D3, "SPY", 0.6), (D3, "TLT", 0.4),
                       (D4, "SPY", 1.0)], columns=["session_date", "ticker", "weight"])
    wh.replace("backtest_weights", bw.assign(run_id="bt-new", account_id="acct-a", symphony_id="sym-6040"),
               {"run_id": "bt-new"})
    wh.upsert("orders", pd.DataFrame([
        {"client_order_id": "o-spy", "account_id": "acct-a", "symphony_id": "net", "session_date": D3,
         "ticker": "SPY", "side": "buy", "qty": 1.0, "status": "filled", "filled_qty": 1.0,
         "filled_avg_price": 467.0, "ref_price": 466.5},
        {"client_order_id": "o-tlt", "account_id": "acct-a", "symphony_id": "net", "session_date": D3,
         "ticker": "TLT", "side": "sell", "qty": 2.0, "status": "rejected", "filled_qty": 0.0,
         "reason": "insufficient qty", "ref_price": 95.0},
    ]))
    wh.upsert("order_intents", pd.DataFrame([
        {"account_id": "acct-a", "symphony_id": "sym-6040", "session_date": D3, "ticker": "SPY", "delta_qty": 1.0,
         "ref_price": 466.5, "liquidate": False, "client_order_id": "o-spy", "disposition": "order"},
        {"account_id": "acct-a", "symphony_id": "sym-6040", "session_date": D3, "ticker": "TLT", "delta_qty": -2.0,
         "ref_price": 95.0, "liquidate": False, "client_order_id": "o-tlt", "disposition": "order"},
    ]))
    wh.upsert("fills", pd.DataFrame([{"fill_id": "f1", "client_order_id": "o-spy", "account_id": "acct-a",
                                      "symphony_id": "sym-6040", "session_date": D3, "ticker": "SPY", "side": "buy",
                                      "qty": 1.0, "price": 467.0, "notional_usd": 467.0,
                                      "filled_at": dt.datetime(2024, 1, 4, 20, 55, tzinfo=UTC)}]))
    wh.upsert("positions", pd.DataFrame([
        {"account_id": "acct-a", "symphony_id": "sym-6040", "session_date": D3, "ticker": "SPY", "qty": 13.0,
         "price": 467.0, "market_value_usd": 6071.0},
        {"account_id": "acct-a", "symphony_id": "sym-6040", "session_date": D3, "ticker": "TLT", "qty": 40.0,
         "price": 95.0, "market_value_usd": 3800.0},
        {"account_id": "acct-a", "symphony_id": "sym-6040", "session_date": D3, "ticker": CASH_TICKER, "qty": 329.0,
         "price": 1.0, "market_value_usd": 329.0},
    ]))


@pytest.fixture(scope="module")
def perf_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("perf") / "perf.duckdb"
    with Warehouse(f"duckdb:///{path}") as wh:
        wh.create_schema()
        seed_perf(wh)
    return path


@pytest.fixture
def ro(perf_db):
    wh = open_read_only(perf_db)
    yield wh
    wh.dispose()


# -- hand-made live vs backtest case -----------------------------------------------------------------------------

S = [dt.date(2024, 3, d) for d in (4, 5, 6, 7, 8, 11)]
PAPER_R = [0.01, 0.01, 0.01, 0.01, 0.01]
BT_R = [0.01, 0.01, 0.005, 0.0102, 0.01005]


def _nav(start: float, rets: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"session_date": S, "nav_usd": start * np.cumprod([1.0] + [1 + r for r in rets])})


def _targets(rows: list[tuple[int, str, float]], col: str) -> pd.DataFrame:
    return pd.DataFrame([(S[i], t, w) for i, t, w in rows], columns=["session_date", "ticker", col])


def _case():
    aligned = qp.align_live_backtest(_nav(100.0, PAPER_R), _nav(200.0, BT_R))
    split = [("SPY", 0.6), ("TLT", 0.4)]
    paper = _targets([(i, t, w) for i in range(6) for t, w in ([("SPY", 1.0)] if i == 1 else split)]
                     + [(0, CASH_TICKER, 0.0)], "target_weight")
    bt = {0: split, 1: [("TLT", 1.0)], 2: split, 3: [("SPY", 0.59), ("TLT", 0.41)], 4: split,
          5: [("SPY", 0.597), ("TLT", 0.403)]}
    bt = _targets([(i, t, w) for i, rows in bt.items() for t, w in rows], "weight")
    outcomes = pd.DataFrame([(S[2], "TLT", -2.0, "order", "o1", "rejected", "insufficient qty", 2.0, 0.0),
                             (S[4], "SPY", 1.0, "order", "o2", "filled", None, 1.0, 1.0)],
                            columns=["session_date", "ticker", "delta_qty", "disposition", "client_order_id",
                                     "status", "reason", "qty", "filled_qty"])
    return aligned, paper, bt, outcomes


def test_align_rebases_the_backtest_to_the_paper_start():
    aligned, *_ = _case()
    assert aligned["backtest_usd"].iloc[0] == pytest.approx(100.0)
    assert aligned["paper_usd"].iloc[0] == pytest.approx(100.0)
    assert aligned["backtest_return"].iloc[1:].tolist() == pytest.approx(BT_R)
    assert math.isnan(aligned["return_diff"].iloc[0])


def test_tracking_error_is_the_annualised_stdev_of_return_differences():
    aligned, *_ = _case()
    diffs = np.array(PAPER_R) - np.array(BT_R)
    assert qp.tracking_error(aligned) == pytest.approx(float(np.std(diffs, ddof=1) * math.sqrt(252)), rel=1e-9)
    assert math.isnan(qp.tracking_error(aligned.iloc[:2]))  # one difference only


def test_classify_days_on_a_hand_made_case():
    days = qp.classify_days(*_case())
    assert days["session_date"].tolist() == S[1:5]
    assert days["cause"].tolist() == ["different branch", "missed fill", "price difference", "costs"]
    assert days["detail"].iloc[0] == "only live: SPY; only backtest: TLT"
    assert days["detail"].iloc[1] == "TLT rejected (insufficient qty)"
    assert days["max_weight_gap"].iloc[2] == pytest.approx(0.01)
    assert days["return_diff_bp"].iloc[3] == pytest.approx(-2.0)
    assert days["paper_holdings"].iloc[0] == "SPY 100%" and days["backtest_holdings"].iloc[0] == "TLT 100%"
    # S[5]: weight gap 0.3 pp and return gap 0.5 bp are within the tolerances: not listed


def test_partial_fill_counts_as_missed():
    aligned, paper, bt, _ = _case()
    partial = pd.DataFrame([(S[4], "SPY", 1.0, "order", "o2", "filled", None, 1.0, 0.4)],
                           columns=["session_date", "ticker", "delta_qty", "disposition", "client_order_id",
                                    "status", "reason", "qty", "filled_qty"])
    days = qp.classify_days(aligned, paper, bt, partial)
    assert dict(zip(days["session_date"], days["cause"]))[S[4]] == "missed fill"


# -- series helpers -------------------------------------------------------------------------------------------

def test_rebase():
    s = pd.Series([50.0, 100.0, 75.0])
    assert qp.rebase(s).tolist() == [1.0, 2.0, 1.5]
    assert qp.rebase(s, 10000).tolist() == [10000.0, 20000.0, 15000.0]
    assert qp.rebase(pd.Series([np.nan, 0.0, 4.0, 8.0])).tolist()[2:] == [1.0, 2.0]


def test_nav_vs_benchmark_rebases_both_and_fills_missing_benchmark_days():
    idx = pd.to_datetime([D1, D2, D3])
    growth = qp.nav_vs_benchmark(pd.Series([100.0, 110.0, 121.0], index=idx),
                                 pd.Series([400.0, 440.0], index=pd.to_datetime([D0, D1])))
    assert growth["paper"].tolist() == pytest.approx([1.0, 1.1, 1.21])
    assert growth["benchmark"].tolist() == pytest.approx([1.0, 1.0, 1.0])  # D2, D3 forward-filled from D1


def test_monthly_returns_table_values():
    nav = pd.Series([100.0, 110.0, 99.0, 121.0, 121.0, 133.1],
                    index=pd.to_datetime(["2024-01-02", "2024-01-31", "2024-02-15", "2024-02-29", "2024-03-28",
                                          "2025-01-02"]))
    table = qp.monthly_returns(nav)
    assert table.index.tolist() == [2024, 2025]
    assert list(table.columns) == list(qp.MONTHS) + ["Year"]
    assert table.loc[2024, ["Jan", "Feb", "Mar"]].tolist() == pytest.approx([10.0, 10.0, 0.0])
    assert table.loc[2024, "Year"] == pytest.approx(21.0)
    assert table.loc[2025, "Jan"] == pytest.approx(10.0) and table.loc[2025, "Year"] == pytest.approx(10.0)
    assert table.loc[2024, "Apr":"Dec"].isna().all()
    assert qp.monthly_returns(nav.iloc[:1]).empty


def test_rolling_sharpe_window():
    idx = pd.bdate_range("2024-01-01", periods=70)
    nav = pd.Series(100 * np.cumprod(1 + np.tile([0.01, -0.005], 35)), index=idx)
    rs = qp.rolling_sharpe(nav, 63)
    assert rs.iloc[:62].isna().all() and rs.notna().sum() == 69 - 62
    window = nav.pct_change().iloc[-63:]
    assert rs.iloc[-1] == pytest.approx(window.mean() * 252 / (window.std(ddof=1) * math.sqrt(252)))


def test_metrics_table_labels_each_source():
    idx = pd.bdate_range("2024-01-01", periods=40)
    nav = pd.Series(10000 * np.cumprod(1 + np.random.default_rng(0).normal(0.001, 0.01, 40)), index=idx)
    table, error = qp.metrics_table(nav, capital=10000.0)
    assert error is None
    assert set(table["source"]) == {qp.SOURCE_COMPOSER, qp.SOURCE_QUANTSTATS}
    qs_rows = dict(zip(table.loc[table["source"] == qp.SOURCE_QUANTSTATS, "metric"],
                       table.loc[table["source"] == qp.SOURCE_QUANTSTATS, "raw"]))
    ours = dict(zip(table.loc[table["source"] == qp.SOURCE_COMPOSER, "metric"],
                    table.loc[table["source"] == qp.SOURCE_COMPOSER, "raw"]))
    assert set(qs_rows) == {"CAGR", "Sortino ratio", "Max drawdown", "Volatility (annualised)"}
    assert qs_rows["Max drawdown"] == pytest.approx(-ours["Max drawdown"])  # same drawdown, opposite sign
    assert qs_rows["Volatility (annualised)"] == pytest.approx(ours["Volatility (annualised)"])


def test_metrics_table_reports_a_quantstats_failure(monkeypatch):
    def boom(_):
        raise TypeError("pandas 3 says no")

    monkeypatch.setattr(qp, "quantstats_metrics", boom)
    nav = pd.Series([100.0, 101.0, 100.5], index=pd.to_datetime([D1, D2, D3]))
    table, error = qp.metrics_table(nav)
    assert error.startswith("quantstats could not compute its metrics (TypeError")
    assert set(table["source"]) == {qp.SOURCE_COMPOSER}


def test_tear_sheet_html_contains_the_symphony_name(tmp_path):
    idx = pd.bdate_range("2024-01-02", periods=60)
    returns = pd.Series(np.random.default_rng(1).normal(0.0005, 0.01, 60), index=idx)
    bench = pd.Series(np.random.default_rng(2).normal(0.0004, 0.01, 60), index=idx)
    path = qp.tear_sheet_html(returns, "Sixty Forty", tmp_path / "t.html", benchmark=bench)
    assert "Sixty Forty" in path.read_text(encoding="utf-8")


def test_tear_sheet_failures_raise_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(qp.TearSheetError, match="at least two daily returns"):
        qp.tear_sheet_html(pd.Series([0.01], index=pd.to_datetime([D1])), "x", tmp_path / "t.html")
    import quantstats

    def boom(*args, **kwargs):
        raise AttributeError("'Series' object has no attribute 'iteritems'")

    monkeypatch.setattr(quantstats.reports, "html", boom)
    idx = pd.bdate_range("2024-01-02", periods=5)
    with pytest.raises(qp.TearSheetError, match="quantstats failed to build the tear sheet"):
        qp.tear_sheet_html(pd.Series([0.01] * 5, index=idx), "x", tmp_path / "t.html")


def test_charts_build_figures_including_empty_ones():
    idx = pd.to_datetime([D1, D2, D3])
    nav = pd.Series([100.0, 99.0, 102.0], index=idx)
    assert isinstance(charts.growth_chart(qp.nav_vs_benchmark(nav, None)), go.Figure)
    assert len(charts.drawdown_chart(pd.Series([0.0, -0.01, 0.0], index=idx)).data) == 1
    heat = charts.monthly_heatmap(qp.monthly_returns(nav))
    assert heat.data[0].x == tuple(qp.MONTHS)
    assert charts.monthly_heatmap(qp.monthly_returns(nav.iloc[:1])).data
    assert charts.equity_curves_chart(qp.rebased_curves(pd.DataFrame(
        columns=["run_id", "session_date", "nav_usd"]))).data == ()
    aligned, *_ = _case()
    assert [t.name for t in charts.live_vs_backtest_chart(aligned).data] == ["Paper", "Backtest (rebased)"]


# -- reads on the seeded warehouse --------------------------------------------------------------------------------

def test_reads_are_scoped_to_the_account(ro):
    assert qp.symphonies(ro, "acct-b")["symphony_id"].tolist() == ["sym-qqq"]
    assert set(qp.symphonies(ro, None)["symphony_id"]) == {"sym-6040", "sym-qqq", "sym-old"}
    assert qp.backtest_runs(ro, "acct-b").empty
    runs = qp.backtest_runs(ro, "acct-a")
    assert runs["run_id"].tolist() == ["bt-new", "bt-old"]  # newest first
    assert runs["config"].iloc[0]["benchmark"] == "SPY" and runs["costs"].iloc[0]["slippage"] == 1.5
    assert runs["config"].iloc[1] == {}
    assert qp.paper_nav(ro, "sym-6040", "acct-b").empty  # another account's symphony reads nothing
    assert qp.orders_on(ro, D3, "acct-b").empty and len(qp.orders_on(ro, D3, "acct-a")) == 2
    assert qp.activity_sessions(ro, "acct-a") == [D3, D2, D1]


def test_live_vs_backtest_on_the_seeded_warehouse(ro):
    aligned = qp.align_live_backtest(qp.paper_nav(ro, "sym-6040", "acct-a"),
                                     qp.backtest_daily(ro, ["bt-new"], "acct-a"))
    assert aligned["backtest_usd"].tolist() == pytest.approx([10000.0, 9900.0, 10200.0])
    days = qp.classify_days(aligned, qp.target_allocations(ro, "sym-6040", "acct-a", D1, D3),
                            qp.backtest_weights(ro, "bt-new", "acct-a", D1, D3),
                            qp.symphony_order_outcomes(ro, "sym-6040", "acct-a", D1, D3))
    assert list(zip(days["session_date"], days["cause"])) == [(D2, "different branch"), (D3, "missed fill")]


def test_replay_re_evaluates_the_stored_model(ro):
    from warehouse.bundled import load_adjusted_closes

    model = qp.symphony_model_json(ro, "sym-6040", "acct-a")
    out = qp.replay(model, load_adjusted_closes(qp.model_tickers(model), end=D4), D4)
    assert out["session"] == D4 and list(out["trace"]["node_type"]) == ["if"]
    assert list(out["weights"]) in (["SPY"], ["TLT"])
    assert qp.symphony_model_json(ro, "sym-qqq", "acct-b") is None


# -- the pages, run directly with AppTest --------------------------------------------------------------------------

def _page(name: str, account_id: str | None) -> AppTest:
    at = AppTest.from_file(str(PAGES / name), default_timeout=60)
    at.session_state["account_id"] = account_id
    return at.run()


def _frames(at: AppTest, column: str) -> list[pd.DataFrame]:
    """The page's dataframes that have ``column`` (AppTest exposes no key on dataframes), in page order."""
    return [df.value for df in at.dataframe if column in df.value.columns]


def _texts(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("info", "warning", "error", "caption", "markdown", "success")
                     for e in at.get(kind))


def test_performance_page(perf_db, use_duckdb):
    use_duckdb(perf_db)
    at = _page("performance.py", "acct-a")
    assert not at.exception
    assert at.selectbox(key="performance_symphony").value == "sym-6040"
    assert at.selectbox(key="performance_symphony").options == ["Sixty Forty", "Retired"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Paper NAV"] == "$10,200.00" and metrics["Paper return"] == "+2.00%"
    assert metrics["SPY same window"] == f"{467.0 / 472.0 - 1:+.2%}"
    table = next(df.value for df in at.dataframe if "source" in df.value)
    assert set(table["source"]) == {qp.SOURCE_COMPOSER, qp.SOURCE_QUANTSTATS}
    assert len(at.get("plotly_chart")) == 3  # growth, drawdown, monthly heatmap (rolling Sharpe needs 64 sessions)
    assert "Needs at least 64 paper sessions" in _texts(at)
    at.button(key="performance_build_sym-6040").click().run()
    assert not at.exception and not at.error
    assert at.session_state["performance_tearsheet_sym-6040"].startswith(b"<")
    assert b"Sixty Forty" in at.session_state["performance_tearsheet_sym-6040"]


def test_performance_page_scoped_and_empty_states(perf_db, use_duckdb):
    use_duckdb(perf_db)
    at = _page("performance.py", "acct-b")
    assert not at.exception
    assert at.selectbox(key="performance_symphony").options == ["Nasdaq Tilt"]
    at = _page("performance.py", "acct-nobody")
    assert [i.value for i in at.info][0].startswith("No symphonies for this account yet")


def test_backtests_page(perf_db, use_duckdb):
    use_duckdb(perf_db)
    at = _page("backtests.py", "acct-a")
    assert not at.exception
    assert _frames(at, "run_id")[0]["run_id"].tolist() == ["bt-new", "bt-old"]
    assert at.multiselect(key="backtests_compare").value == ["bt-new"]
    trace = _frames(at, "node_path")[0]
    assert trace["node_type"].tolist() == ["if"]
    assert _frames(at, "weight")[1]["ticker"].tolist() == ["SPY"]
    days = _frames(at, "cause")[0]
    assert days["cause"].tolist() == ["different branch", "missed fill"]
    assert {m.label: m.value for m in at.metric}["Days that differed"] == "2 / 3"
    at = _page("backtests.py", "acct-b")
    assert not at.exception
    assert at.info[0].value.startswith("No backtests yet — run the `backtest_all` job in Dagster or `make demo`")


def test_orders_page(perf_db, use_duckdb):
    use_duckdb(perf_db)
    at = _page("orders.py", None)  # the operator sees every account
    assert not at.exception
    assert at.selectbox(key="orders_session").value == D3
    orders = _frames(at, "filled_avg_price")[0]
    assert orders["status"].tolist() == ["filled", "rejected"]
    assert any("TLT sell rejected: insufficient qty" in w.value for w in at.warning)
    assert _frames(at, "order_status")[0]["order_status"].tolist() == ["filled", "rejected"]
    assert {m.label: m.value for m in at.metric}["Cash"] == "$329.00"
    assert len(_frames(at, "evaluated_at")[0]) == 2  # sym-6040 and sym-qqq on D3
    at.selectbox(key="orders_session").set_value(D1).run()
    assert not at.exception
    assert _frames(at, "evaluated_at")[0]["status"].tolist() == ["failed"]
    at = _page("orders.py", "acct-nobody")
    assert at.info[0].value.startswith("No orders or evaluations yet")
