"""Performance page: one symphony's paper NAV against a benchmark, drawdown, rolling Sharpe, monthly returns,
metrics (Composer's definitions and quantstats'), and downloads (daily CSV, quantstats HTML tear sheet).

Scope: the page context's (:func:`dashboards.context.current`), passed to every read (:mod:`dashboards.cache`).
Metrics come from :mod:`engine.metrics`; the table and tear sheet from :mod:`dashboards.reads.performance`.
Sections: :func:`_headline`, :func:`_growth`, :func:`_risk`, :func:`_monthly`, :func:`_metrics`,
:func:`_downloads`.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboards import cache, context, notices
from dashboards.present import charts
from dashboards.present.format import display_table, format_drawdown, format_usd, md, signed_pct
from dashboards.reads import performance as perf
from engine.metrics import ROLLING_SHARPE_WINDOW, daily_returns, drawdown_series, monthly_returns, rolling_sharpe
from warehouse import WarehouseLockedError

PLOTLY = {"displaylogo": False}


@dataclass(frozen=True)
class _View:
    """What the sections draw: one symphony's paper NAV and its benchmark."""

    sid: str
    label: str
    capital: float | None
    nav_frame: pd.DataFrame
    nav: pd.Series
    bench_ticker: str
    bench: pd.Series | None


def _headline(v: _View, growth: pd.DataFrame, dd: pd.Series) -> None:
    nav = v.nav
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Paper NAV", format_usd(nav.iloc[-1]), border=True, help=f"On {nav.index[-1].date()}")
    c2.metric("Paper return", signed_pct(growth["paper"].iloc[-1] - 1), border=True,
              help=f"{nav.index[0].date()} → {nav.index[-1].date()}, {len(nav)} sessions")
    if "benchmark" in growth and pd.notna(growth["benchmark"].iloc[-1]):
        c3.metric(f"{v.bench_ticker} same window", signed_pct(growth["benchmark"].iloc[-1] - 1), border=True)
    else:
        c3.metric(f"{v.bench_ticker} same window", "—", border=True, help="No benchmark bars in daily_bars")
    # drawdowns are positive percentages on every page (Composer's convention)
    c4.metric("Drawdown", format_drawdown(dd.iloc[-1]), border=True,
              help=f"Below the running peak today; worst over the window: {format_drawdown(dd.min())}")


def _growth(v: _View, growth: pd.DataFrame) -> None:
    st.subheader("Paper NAV vs benchmark")
    if v.bench is None:
        st.caption(f"No {v.bench_ticker} bars in `daily_bars` over the paper window — the daily graph ingests them "
                   "(`make demo`).")
    st.caption("Both rebased to 1.0 on the first paper session.")
    st.plotly_chart(charts.growth_chart(growth, {"paper": f"{v.label} (paper)", "benchmark": v.bench_ticker}),
                    key="performance_growth", config=PLOTLY)


def _risk(v: _View, dd: pd.Series) -> None:
    left, right = st.columns(2)
    with left:
        st.subheader("Drawdown")
        st.caption("Fall below the running peak, as a positive percent (drawn downwards).")
        st.plotly_chart(charts.drawdown_chart(dd), key="performance_drawdown", config=PLOTLY)
    with right:
        st.subheader("Rolling Sharpe")
        window = ROLLING_SHARPE_WINDOW
        rs = rolling_sharpe(v.nav, window)
        st.caption(f"Sharpe over the last {window} daily returns (≈ one quarter): mean · 252 / (stdev · √252), no "
                   "risk-free rate — Composer's definition on a moving window.")
        if rs.dropna().empty:
            st.info(f"Needs at least {window + 1} paper sessions ({len(v.nav)} so far).", icon=":material/info:")
        else:
            st.plotly_chart(charts.rolling_sharpe_chart(rs, window), key="performance_rolling_sharpe", config=PLOTLY)


def _monthly(v: _View) -> None:
    st.subheader("Monthly returns (%)")
    monthly = monthly_returns(v.nav)
    if monthly.empty:
        st.info("Needs at least two paper sessions.", icon=":material/info:")
        return
    st.plotly_chart(charts.monthly_heatmap(monthly), key="performance_monthly", config=PLOTLY)
    st.caption("Month-end NAV over the previous month-end (the first month from the first NAV); "
               "the Year column chains year-ends the same way.")
    table = display_table(monthly.round(2), {c: "number" for c in monthly.columns})
    st.dataframe(table, key="performance_monthly_table",
                 column_config={c: st.column_config.TextColumn(c, alignment="right") for c in monthly.columns})


def _metrics(v: _View) -> None:
    st.subheader("Metrics")
    table, error = perf.metrics_table(v.nav, capital=v.capital, benchmark=v.bench)
    if error:
        st.warning(md(error), icon=":material/warning:")
    st.dataframe(table, hide_index=True, key="performance_metrics", column_order=["metric", "value", "source"],
                 column_config={"metric": "Metric", "value": "Value", "source": "Source"})
    st.caption("Composer rows: engine.metrics.full_stats on the paper NAV from the symphony's capital. quantstats "
               "rows: its own formulas on the daily simple returns (CAGR years = returns / 252) — a cross-check, "
               "not the reference. Max drawdown is a positive percent in both.")


def _tear_sheet(v: _View) -> None:
    st.markdown("**quantstats tear sheet**")
    state_key = f"performance_tearsheet_{v.sid}"
    if st.button("Build the HTML tear sheet", key=f"performance_build_{v.sid}", icon=":material/description:",
                 help="quantstats report of the paper NAV's daily simple returns (takes a few seconds)"):
        with st.spinner("Building the tear sheet with quantstats…"):
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    path = perf.tear_sheet_html(daily_returns(v.nav), v.label, Path(tmp) / "tearsheet.html",
                                                benchmark=daily_returns(v.bench) if v.bench is not None else None)
                    st.session_state[state_key] = path.read_bytes()
            except perf.TearSheetError as exc:
                st.session_state.pop(state_key, None)
                st.error(md(exc), icon=":material/error:")
    html = st.session_state.get(state_key)
    if html:
        st.download_button("Download the tear sheet (HTML)", data=html, file_name=f"{v.sid}_tearsheet.html",
                           mime="text/html", key=f"performance_tearsheet_download_{v.sid}",
                           icon=":material/download:")


def _downloads(v: _View) -> None:
    st.subheader("Downloads")
    left, right = st.columns(2)
    with left:
        st.markdown("**Daily series (CSV)**")
        csv = perf.daily_table(v.nav_frame, v.bench).to_csv(index=False)
        st.download_button("Download the daily series", data=csv, file_name=f"{v.sid}_daily.csv", mime="text/csv",
                           key="performance_csv", icon=":material/download:")
    with right:
        _tear_sheet(v)


def _view(ctx: context.PageContext) -> _View | None:
    """The symphony chosen and its series (``None`` when there is nothing to show, after saying why)."""
    with st.spinner("Reading the warehouse…"):
        syms = cache.symphonies(ctx.url, ctx.scope)
    if syms.empty:
        st.info(f"No symphonies for this account yet — {notices.NEXT_STEPS_SEED}.", icon=":material/info:")
        return None
    labels = dict(zip(syms["symphony_id"], syms["label"]))
    sid = st.selectbox("Symphony", list(syms["symphony_id"]), format_func=lambda s: labels.get(s, s),
                       key="performance_symphony")
    row = syms[syms["symphony_id"] == sid].iloc[0]
    with st.spinner("Reading the paper NAV…"):
        nav_frame = cache.paper_nav(ctx.url, ctx.scope, (sid,))
        runs = cache.backtest_runs(ctx.url, ctx.scope)
    nav = perf.nav_series(nav_frame)
    if nav.empty:
        st.info(f"No paper NAV for {md(labels[sid])} yet — {notices.NEXT_STEPS_RUN}.", icon=":material/info:")
        return None
    mine = runs[runs["symphony_id"] == sid]
    bench_ticker = perf.BENCHMARK
    if len(mine) and isinstance(mine["config"].iloc[0], dict):
        bench_ticker = str(mine["config"].iloc[0].get("benchmark") or perf.BENCHMARK)
    bench = cache.benchmark_closes(ctx.url, bench_ticker, nav.index[0].date(), nav.index[-1].date())
    capital = float(row["capital_usd"]) if pd.notna(row["capital_usd"]) else None
    return _View(sid=sid, label=labels[sid], capital=capital, nav_frame=nav_frame, nav=nav,
                 bench_ticker=bench_ticker, bench=bench if len(bench) else None)


def render() -> None:
    st.title("Performance")
    ctx = context.current()
    if not notices.warehouse_ready(ctx):
        return
    try:
        v = _view(ctx)
    except WarehouseLockedError:
        notices.busy()
        return
    if v is None:
        return
    growth = perf.nav_vs_benchmark(v.nav, v.bench)
    dd = drawdown_series(v.nav)
    _headline(v, growth, dd)
    _growth(v, growth)
    _risk(v, dd)
    _monthly(v)
    _metrics(v)
    _downloads(v)


render()
