"""Performance page: one symphony's paper NAV against a benchmark, drawdown, rolling Sharpe, monthly returns,
metrics (Composer's definitions and quantstats'), and downloads (daily CSV, quantstats HTML tear sheet).

Scope: the signed-in account (``st.session_state["account_id"]``; ``None`` = every account, the operator). Reads go
through :mod:`dashboards.data_perf`; computations live in :mod:`dashboards.queries_perf`.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboards import charts, data_perf
from dashboards import queries_perf as qp
from engine.metrics import daily_returns, drawdown_series
from warehouse import WarehouseLockedError

PLOTLY = {"displaylogo": False}


def _tear_sheet(nav: pd.Series, bench: pd.Series | None, title: str, key: str) -> None:
    st.markdown("**quantstats tear sheet**")
    state_key = f"performance_tearsheet_{key}"
    if st.button("Build the HTML tear sheet", key=f"performance_build_{key}", icon=":material/description:",
                 help="quantstats report of the paper NAV's daily simple returns (takes a few seconds)"):
        with st.spinner("Building the tear sheet with quantstats…"):
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    path = qp.tear_sheet_html(daily_returns(nav), title, Path(tmp) / "tearsheet.html",
                                              benchmark=daily_returns(bench) if bench is not None else None)
                    st.session_state[state_key] = path.read_bytes()
            except qp.TearSheetError as exc:
                st.session_state.pop(state_key, None)
                st.error(str(exc).replace("$", "\\$"), icon=":material/error:")
    html = st.session_state.get(state_key)
    if html:
        st.download_button("Download the tear sheet (HTML)", data=html, file_name=f"{key}_tearsheet.html",
                           mime="text/html", key=f"performance_tearsheet_download_{key}",
                           icon=":material/download:")


def render() -> None:
    st.title("Performance")
    url = data_perf.open_warehouse_or_explain()
    if url is None:
        return
    account_id = st.session_state.get("account_id")
    try:
        with st.spinner("Reading the warehouse…"):
            syms = data_perf.symphonies(url, account_id)
    except WarehouseLockedError:
        st.warning(data_perf.BUSY, icon=":material/hourglass_top:")
        return
    if syms.empty:
        st.info(f"No symphonies for this account yet — {data_perf.NEXT_STEPS_SEED}.", icon=":material/info:")
        return
    labels = dict(zip(syms["symphony_id"], syms["label"]))
    sid = st.selectbox("Symphony", list(syms["symphony_id"]), format_func=lambda s: labels.get(s, s),
                       key="performance_symphony")
    row = syms[syms["symphony_id"] == sid].iloc[0]
    try:
        with st.spinner("Reading the paper NAV…"):
            nav_frame = data_perf.paper_nav(url, account_id, sid)
            runs = data_perf.backtest_runs(url, account_id)
    except WarehouseLockedError:
        st.warning(data_perf.BUSY, icon=":material/hourglass_top:")
        return
    nav = qp.nav_series(nav_frame)
    if nav.empty:
        st.info(f"No paper NAV for {labels[sid]} yet — {data_perf.NEXT_STEPS_RUN}.", icon=":material/info:")
        return

    mine = runs[runs["symphony_id"] == sid]
    bench_ticker = qp.BENCHMARK
    if len(mine) and isinstance(mine["config"].iloc[0], dict):
        bench_ticker = str(mine["config"].iloc[0].get("benchmark") or qp.BENCHMARK)
    bench = data_perf.benchmark_closes(url, bench_ticker, nav.index[0].date(), nav.index[-1].date())
    bench = bench if len(bench) else None

    capital = float(row["capital_usd"]) if pd.notna(row["capital_usd"]) else None
    growth = qp.nav_vs_benchmark(nav, bench)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Paper NAV", f"${nav.iloc[-1]:,.2f}", border=True, help=f"On {nav.index[-1].date()}")
    c2.metric("Paper return", f"{growth['paper'].iloc[-1] - 1:+.2%}", border=True,
              help=f"{nav.index[0].date()} → {nav.index[-1].date()}, {len(nav)} sessions")
    if "benchmark" in growth and pd.notna(growth["benchmark"].iloc[-1]):
        c3.metric(f"{bench_ticker} same window", f"{growth['benchmark'].iloc[-1] - 1:+.2%}", border=True)
    else:
        c3.metric(f"{bench_ticker} same window", "—", border=True, help="No benchmark bars in daily_bars")
    dd = drawdown_series(nav)
    c4.metric("Current drawdown", f"{dd.iloc[-1]:.2%}", border=True, help=f"Worst: {dd.min():.2%}")

    st.subheader("Paper NAV vs benchmark")
    if bench is None:
        st.caption(f"No {bench_ticker} bars in `daily_bars` over the paper window — the daily graph ingests them "
                   "(`make demo`).")
    st.caption("Both rebased to 1.0 on the first paper session.")
    st.plotly_chart(charts.growth_chart(growth, {"paper": f"{labels[sid]} (paper)", "benchmark": bench_ticker}),
                    key="performance_growth", config=PLOTLY)

    left, right = st.columns(2)
    with left:
        st.subheader("Drawdown")
        st.plotly_chart(charts.drawdown_chart(dd), key="performance_drawdown", config=PLOTLY)
    with right:
        st.subheader("Rolling Sharpe")
        window = qp.ROLLING_SHARPE_WINDOW
        rs = qp.rolling_sharpe(nav, window)
        st.caption(f"Sharpe over the last {window} daily returns (≈ one quarter): mean · 252 / (stdev · √252), no "
                   "risk-free rate — Composer's definition on a moving window.")
        if rs.dropna().empty:
            st.info(f"Needs at least {window + 1} paper sessions ({len(nav)} so far).", icon=":material/info:")
        else:
            st.plotly_chart(charts.rolling_sharpe_chart(rs, window), key="performance_rolling_sharpe", config=PLOTLY)

    st.subheader("Monthly returns (%)")
    monthly = qp.monthly_returns(nav)
    if monthly.empty:
        st.info("Needs at least two paper sessions.", icon=":material/info:")
    else:
        st.plotly_chart(charts.monthly_heatmap(monthly), key="performance_monthly", config=PLOTLY)
        st.caption("Month-end NAV over the previous month-end (the first month from the first NAV); "
                   "the Year column chains year-ends the same way.")
        st.dataframe(monthly.round(2), key="performance_monthly_table",
                     column_config={c: st.column_config.NumberColumn(c, format="%.2f") for c in monthly.columns})

    st.subheader("Metrics")
    table, error = qp.metrics_table(nav, capital=capital, benchmark=bench)
    if error:
        st.warning(error.replace("$", "\\$"), icon=":material/warning:")
    st.dataframe(table, hide_index=True, key="performance_metrics", column_order=["metric", "value", "source"],
                 column_config={"metric": "Metric", "value": "Value", "source": "Source"})
    st.caption("Composer rows: engine.metrics.full_stats on the paper NAV from the symphony's capital (max drawdown "
               "positive). quantstats rows: its own formulas on the daily simple returns (max drawdown negative, "
               "CAGR years = returns / 252) — a cross-check, not the reference.")

    st.subheader("Downloads")
    left, right = st.columns(2)
    with left:
        st.markdown("**Daily series (CSV)**")
        csv = qp.daily_table(nav_frame, bench).to_csv(index=False)
        st.download_button("Download the daily series", data=csv, file_name=f"{sid}_daily.csv", mime="text/csv",
                           key="performance_csv", icon=":material/download:")
    with right:
        _tear_sheet(nav, bench, labels[sid], sid)


render()
