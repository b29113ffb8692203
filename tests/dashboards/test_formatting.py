"""The dashboard's one set of conventions (``dashboards/present/format.py``): money as ``−$0.99`` (U+2212 before the
dollar sign), drawdown a positive percent everywhere (as Composer), no ``None``/``nan`` cell, key figures short
enough for their column, the replay's Detail column in words.

Unit tests of the formatters with real values, then every page opened from the router after signing in (AppTest)
and checked cell by cell.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest

from dashboards import auth
from dashboards.present import charts
from dashboards.present import format as fmt
from dashboards.reads import backtests as bt
from tests.dashboards.door import add_users, as_user
from tests.dashboards.seed_data import seed_perf
from warehouse import Warehouse

MINUS = "\u2212"


# -- formatters ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, text", [
    (-0.99, f"{MINUS}$0.99"), (12345.6, "$12,345.60"), (-4850.0, f"{MINUS}$4,850.00"), (0.0, "$0.00"),
    (-0.004, "$0.00"),  # rounds to zero: no sign
    (None, "—"), (math.nan, "—"), (pd.NA, "—"),
])
def test_format_usd(value, text) -> None:
    assert fmt.format_usd(value) == text


def test_signed_money_and_percentages() -> None:
    assert fmt.signed_usd(50) == "+$50.00"
    assert fmt.signed_usd(-183.03) == f"{MINUS}$183.03"
    assert fmt.signed_usd(None) == "—"
    assert fmt.format_pct(0.1235) == "12.35%"
    assert fmt.format_pct(-0.012) == f"{MINUS}1.20%"
    assert fmt.signed_pct(0.02) == "+2.00%"
    assert fmt.signed_pct(-0.0049) == f"{MINUS}0.49%"
    assert fmt.signed_pct(math.nan) == "—"
    assert fmt.format_number(-3.14159) == f"{MINUS}3.14"
    assert fmt.format_number(1234.5, signed=True) == "+1,234.50"


def test_drawdown_is_positive_whatever_the_stored_sign() -> None:
    assert fmt.format_drawdown(-0.0816) == fmt.format_drawdown(0.0816) == "8.16%"
    assert fmt.drawdown_fraction(-0.2) == 0.2
    assert fmt.format_drawdown(None) == "—"


def test_quantities_dates_and_reasons() -> None:
    assert fmt.format_qty(0.370826) == "0.3708"
    assert fmt.format_qty(12.0) == "12"
    assert fmt.format_qty(-2.5) == f"{MINUS}2.5"
    assert fmt.FORMATS["signed_qty"](0.10317) == "+0.1032"
    assert fmt.format_timestamp(pd.Timestamp("2026-11-20 23:25:27", tz="UTC")) == "2026-11-20 23:25 UTC"
    assert fmt.format_timestamp(pd.Timestamp("2026-11-20 18:25:27", tz="America/New_York")) == \
        "2026-11-20 23:25 UTC"
    assert fmt.format_date(pd.NaT) == "—"
    assert fmt.plain_reason("ValueError: no price on 2024-06-21 for ticker(s) ZZZQ (unknown or not traded)") == \
        "no price on 2024-06-21 for ticker(s) ZZZQ (unknown or not traded)"
    assert fmt.plain_reason(None) == "—"


def test_display_table_leaves_no_none_cell() -> None:
    import datetime as dt

    frame = pd.DataFrame({"ticker": ["SPY", None], "notional_usd": [-0.99, None], "qty": [None, 0.3708],
                          "max_drawdown": [-0.0816, 0.0733], "day": [dt.date(2024, 6, 21), None],
                          "fills": [1, 2]})
    out = fmt.display_table(frame, {"notional_usd": "usd", "qty": "qty", "max_drawdown": "drawdown"})
    assert out.to_dict("list") == {
        "ticker": ["SPY", "—"], "notional_usd": [f"{MINUS}$0.99", "—"], "qty": ["—", "0.3708"],
        "max_drawdown": ["8.16%", "7.33%"], "day": ["2024-06-21", "—"], "fills": [1, 2]}
    with pytest.raises(KeyError):
        fmt.display_table(frame, {"qty": "no-such-format"})


def test_delta_style_reads_the_typographic_minus() -> None:
    assert fmt.delta_style(f"{MINUS}$183.03") == {"delta_arrow": "down", "delta_color": "red"}
    assert fmt.delta_style("+$50.00") == {"delta_arrow": "up", "delta_color": "green"}
    assert fmt.delta_style("+$0.00") == {"delta_arrow": "off", "delta_color": "gray"}
    assert fmt.delta_style(None) == {"delta_arrow": "off", "delta_color": "gray"}


def test_drawdown_chart_plots_positive_percent_downwards() -> None:
    idx = pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04"])
    fig = charts.drawdown_chart(pd.Series([0.0, -0.0111, -0.005], index=idx))
    assert list(fig.data[0].y) == [0.0, 0.0111, 0.005]
    assert fig.layout.yaxis.autorange == "reversed"


def test_short_windows_tick_by_day_with_distinct_growth_ticks() -> None:
    idx = pd.to_datetime(["2024-06-18", "2024-06-20", "2024-06-21"])
    fig = charts.growth_chart(pd.DataFrame({"paper": [1.0, 1.011, 0.995]}, index=idx))
    assert (fig.layout.xaxis.dtick, fig.layout.xaxis.tickformat) == (86_400_000, "%b %d, %Y")  # no "12:00" ticks
    assert fig.layout.yaxis.tickformat == ".3~f"  # 0.995 … 1.011 as 0.995, 1, 1.005, 1.01 — not "1.00" ×5
    long = pd.date_range("2024-01-02", periods=60, freq="B")
    assert charts.growth_chart(pd.DataFrame({"paper": [1.0] * 60}, index=long)).layout.xaxis.dtick is None


def test_monthly_heatmap_labels_use_the_typographic_minus() -> None:
    table = pd.DataFrame({"Jan": [1.234], "Feb": [-0.49], "Year": [0.74]}, index=[2024])
    fig = charts.monthly_heatmap(table)
    assert [list(row) for row in fig.data[0].text] == [["+1.2%", f"{MINUS}0.5%"]]


def test_replay_detail_is_in_words_not_json() -> None:
    entries = [
        {"node_path": "root/0", "node_type": "if", "summary": "SPY above its 200d average -> then",
         "detail": {"comparisons": [{"lhs": "current-price(SPY)", "lhs_value": 544.51, "comparator": "gt",
                                     "rhs": "moving-average-price(SPY, 200d)", "rhs_value": 501.2, "result": True}],
                    "operator": None, "branch": "then"}},
        {"node_path": "root/0/0", "node_type": "wt-inverse-vol", "summary": "inverse-vol 15d: SPY 53.5%, QQQ 46.5%",
         "detail": {"window": 15, "children": [{"child": "SPY", "sigma_pct": 0.43, "weight": 0.535},
                                               {"child": "QQQ", "sigma_pct": 0.71, "weight": 0.465}]}},
    ]
    detail = bt.trace_table(entries)["detail"].tolist()
    assert not any(d.lstrip().startswith("{") or '"' in d for d in detail)
    assert detail[0].endswith("true; → then") and "544.51" in detail[0] and "501.2" in detail[0]
    assert detail[1] == "SPY σ 0.43 → 53.5 %; QQQ σ 0.71 → 46.5 %"


# -- the pages, through the router -----------------------------------------------------------------------------

PAGES = ["app_pages/overview.py", "app_pages/performance.py", "app_pages/backtests.py", "app_pages/orders.py",
         "app_pages/library.py"]
#: What must never be shown: Python's missing values and a minus after the dollar sign (or an ASCII one before it).
BAD_CELL = re.compile(r"^(None|nan|NaN|NaT|<NA>)$|\$-|-\$")


@pytest.fixture(scope="module")
def perf_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Performance fixture of the other page tests: a notional-less share order, a rejected order, a backtest
    run with a positive stored max drawdown (0.2) beside the overview's negative one (−0.2)."""
    path = tmp_path_factory.mktemp("formatting") / "perf.duckdb"
    with Warehouse(f"duckdb:///{path}") as wh:
        wh.create_schema()
        seed_perf(wh)
        add_users(wh, ("alice",))
    return path


@pytest.fixture
def signed_in_db(perf_db, use_duckdb, monkeypatch):
    use_duckdb(perf_db)
    monkeypatch.setenv(auth.ENV_AUTH, "on")
    return perf_db


def _shown(df_element) -> pd.DataFrame:
    """The columns the page shows (its ``column_order``, else all)."""
    frame = df_element.value
    order = [c for c in df_element.proto.column_order if c in frame.columns]
    return frame[order] if order else frame


@pytest.mark.parametrize("page", PAGES)
def test_no_none_cell_no_dollar_minus_and_positive_drawdown(page, signed_in_db) -> None:
    at = as_user("alice", page)
    assert not at.exception
    assert len(at.dataframe) >= 1
    for element in at.dataframe:
        shown = _shown(element)
        for column in shown.columns:
            for value in shown[column]:
                assert not (value is None or (isinstance(value, float) and math.isnan(value))), (page, column)
                assert not BAD_CELL.search(str(value)), (page, column, value)
            if "drawdown" in str(column).lower():
                assert all(not str(v).startswith((MINUS, "-")) for v in shown[column]), (page, column)
    for m in at.main.metric:
        assert not BAD_CELL.search(str(m.value)) and str(m.value) not in ("None", "nan"), (page, m.label, m.value)
        assert len(str(m.value)) <= 14, (page, m.label, m.value)  # fits a quarter-width column untruncated
        if "drawdown" in m.label.lower():
            assert not str(m.value).startswith((MINUS, "-"))


def test_overview_figures(signed_in_db) -> None:
    at = as_user("alice", "app_pages/overview.py")
    metrics = {m.label: m.value for m in at.main.metric}
    assert metrics == {"Accounts": "1", "Active symphonies": "1", "Latest session": "2024-01-04",
                       "Total paper NAV": "$10,200.00", "Total P&L": "+$200.00"}  # 10,200 − 10,000 capital
    assert [m.delta for m in at.main.metric if m.label == "Total paper NAV"] == ["+$100.00"]  # 10,100 -> 10,200
    table = _shown(at.dataframe[0])
    drawdowns = dict(zip(table["label"], table["backtest_max_drawdown"]))
    assert drawdowns["Sixty Forty"] == "20.00%"  # the seed stores −0.2; shown positive
    assert dict(zip(table["label"], table["paper_nav_usd"]))["Sixty Forty"] == "$10,200.00"


def test_orders_page_share_order_has_a_dash_not_none(signed_in_db) -> None:
    at = as_user("alice", "app_pages/orders.py")
    orders = next(_shown(df) for df in at.dataframe if "client_order_id" in df.value and "notional_usd" in df.value
                  and "filled_avg_price" in df.value)
    rows = {r["ticker"]: r for r in orders.to_dict("records")}
    assert rows["SPY"]["notional_usd"] == "—" and rows["SPY"]["qty"] == "1" and rows["SPY"]["filled_avg_price"] == \
        "$467.00"
    assert rows["TLT"]["reason"] == "insufficient qty"


def test_backtests_runs_show_the_stored_drawdown_positive(signed_in_db) -> None:
    at = as_user("alice", "app_pages/backtests.py")
    runs = at.dataframe[0].value.set_index("run_id")
    assert runs.loc["bt-new", "max_drawdown"] == "20.00%"  # stored +0.2
    assert runs.loc["bt-old", "max_drawdown"] == "50.00%"  # stored −0.5: one convention on the page
    assert runs.loc["bt-new", "capital_usd"] == "$10,000.00"
    assert runs.loc["bt-new", "config_text"] == "benchmark SPY, slippage bps 5"
