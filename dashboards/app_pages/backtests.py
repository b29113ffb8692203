"""Backtests page: the backtest runs in scope, overlaid equity curves of selected runs, a decision replay of one
run's symphony on a chosen date, and live (paper) vs backtest over the paper window with the days that differed.

Scope: the page context's (:func:`dashboards.context.current`), passed to every read (:mod:`dashboards.cache`).
The alignment and day causes are :mod:`engine.attribution`'s (see :func:`engine.attribution.classify_days` for the
rules), the tracking error :func:`engine.metrics.tracking_error`; the replay reads the warehouse's bars (what the
daily graph traded on). Sections: :func:`_runs_table`, :func:`_compare`, :func:`_replay`, :func:`_live_vs_backtest`.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboards import cache, context, notices
from dashboards.context import PageContext
from dashboards.present import charts
from dashboards.present.format import display_table, md, signed_pct
from dashboards.reads import backtests as bt
from engine import attribution
from engine.metrics import tracking_error
from warehouse import WarehouseLockedError

PLOTLY = {"displaylogo": False}
STAT_COLUMNS = {
    "cumulative_return": "Cumulative", "annualized_rate_of_return": "CAGR", "standard_deviation": "Volatility",
    "sharpe_ratio": "Sharpe", "sortino_ratio": "Sortino", "max_drawdown": "Max drawdown", "calmar_ratio": "Calmar",
}


def _config_text(config: dict) -> str:
    """A run's configuration in words: ``"apply reg fee, benchmark SPY"`` (switches that are on by name, others as
    ``name value``); ``"—"`` when empty."""
    keep = {k: v for k, v in (config or {}).items() if v not in (None, "", False)}
    words = [k.replace("_", " ") if v is True else f"{k.replace('_', ' ')} {v}" for k, v in sorted(keep.items())]
    return ", ".join(words) if words else "—"


def _run_label(run: pd.Series, labels: dict[str, str]) -> str:
    return f"{labels.get(run['symphony_id'], run['symphony_id'])} · {run['start_date']} → {run['end_date']} " \
           f"({run['run_id']})"


def _runs_table(runs: pd.DataFrame, labels: dict[str, str]) -> None:
    table = runs.assign(
        symphony=runs["symphony_id"].map(lambda s: labels.get(s, s)),
        config_text=[_config_text(c) for c in runs["config"]],
        total_costs_usd=[sum(float(v) for v in c.values() if isinstance(v, (int, float))) if c else None
                         for c in runs["costs"]],
    )
    # positive drawdown, −$ money, no None cell: the conventions of every page (dashboards.present.format)
    table = display_table(table, {"start_date": "date", "end_date": "date", "capital_usd": "usd",
                                  "slippage_bps": "ratio", "cagr": "pct", "sharpe": "ratio",
                                  "max_drawdown": "drawdown", "total_costs_usd": "usd", "created_at": "timestamp"})
    right = {"alignment": "right"}
    st.dataframe(
        table, hide_index=True, key="backtests_runs",
        column_order=["symphony", "start_date", "end_date", "capital_usd", "slippage_bps", "cagr", "sharpe",
                      "max_drawdown", "total_costs_usd", "config_text", "created_at", "run_id"],
        column_config={
            "symphony": "Symphony", "start_date": st.column_config.TextColumn("Start"),
            "end_date": st.column_config.TextColumn("End"),
            "capital_usd": st.column_config.TextColumn("Capital", **right),
            "slippage_bps": st.column_config.TextColumn("Slippage (bp)", **right),
            "cagr": st.column_config.TextColumn("CAGR", **right),
            "sharpe": st.column_config.TextColumn("Sharpe", **right),
            "max_drawdown": st.column_config.TextColumn("Max drawdown", help="Positive percent, as Composer", **right),
            "total_costs_usd": st.column_config.TextColumn("Costs", help="Slippage + regulatory fees over the run",
                                                           **right),
            "config_text": st.column_config.TextColumn("Config", width="large"),
            "created_at": st.column_config.TextColumn("Run at"), "run_id": "Run id",
        },
    )


def _compare(ctx: PageContext, runs: pd.DataFrame, labels: dict[str, str]) -> None:
    st.subheader("Compare runs")
    names = {r["run_id"]: _run_label(r, labels) for _, r in runs.iterrows()}
    default = list(runs.drop_duplicates("symphony_id")["run_id"])[:4]
    chosen = st.multiselect("Runs", list(names), default=default, format_func=names.get, key="backtests_compare")
    if not chosen:
        st.info("Pick one or more runs to overlay their equity curves.", icon=":material/info:")
        return
    with st.spinner("Reading the equity curves…"):
        daily = cache.backtest_daily(ctx.url, ctx.scope, tuple(chosen))
    curves = bt.rebased_curves(daily, names)
    st.plotly_chart(charts.equity_curves_chart(curves), key="backtests_curves", config=PLOTLY)
    st.caption("Each curve rebased to 1.0 on its own first session (log scale).")
    stats = pd.DataFrame([{"run": names[r["run_id"]], **{label: r["stats"].get(key) for key, label in
                                                         STAT_COLUMNS.items()}}
                          for _, r in runs[runs["run_id"].isin(chosen)].iterrows()])
    kinds = {"Cumulative": "pct", "CAGR": "pct", "Volatility": "pct", "Max drawdown": "drawdown"}
    stats = display_table(stats, {c: kinds.get(c, "ratio") for c in STAT_COLUMNS.values()})
    st.dataframe(stats, hide_index=True, key="backtests_compare_stats",
                 column_config={c: st.column_config.TextColumn(c, alignment="right") for c in STAT_COLUMNS.values()})


def _replay(ctx: PageContext, run: pd.Series) -> None:
    st.markdown("**Decision replay**")
    start, end = run["start_date"], run["end_date"]
    if not isinstance(start, dt.date) or not isinstance(end, dt.date):
        st.caption("The run has no date range.")
        return
    day = st.date_input("Session", value=end, min_value=start, max_value=end, key=f"backtests_replay_{run['run_id']}")
    with st.spinner(f"Re-evaluating the symphony on {day}…"):
        result = cache.replay(ctx.url, ctx.scope, run["symphony_id"], day)
        stored = cache.backtest_weights(ctx.url, ctx.scope, run["run_id"], day, day)
    if "error" in result:
        st.warning(md(result["error"]), icon=":material/warning:")
    else:
        st.caption(f"Prices: {md(result['prices'])}.")
        if result["session"] != day:
            st.caption(f"{day} is not a session: showing the next one, {result['session']}.")
        trace = result["trace"]
        if trace.empty:
            st.caption("No decision node on that session (the symphony has no conditions).")
        else:
            st.dataframe(display_table(trace), hide_index=True, key="backtests_replay_trace",
                         column_config={"node_path": "Node", "node_type": "Type",
                                        "summary": st.column_config.TextColumn("Decision", width="large"),
                                        "detail": st.column_config.TextColumn(
                                            "Detail", width="large", help="The values that decided the node")})
    shown = result.get("session", day)
    stored = cache.backtest_weights(ctx.url, ctx.scope, run["run_id"], shown, shown) if shown != day else stored
    left, right = st.columns(2)
    with left:
        st.caption("Re-evaluated target weights")
        weights = result.get("weights") or {}
        st.dataframe(display_table(pd.DataFrame({"ticker": list(weights), "weight": list(weights.values())}),
                                   {"weight": "weight"}), hide_index=True, key="backtests_replay_weights",
                     column_config={"ticker": "Ticker", "weight": st.column_config.TextColumn("Weight",
                                                                                            alignment="right")})
    with right:
        st.caption(f"Stored backtest weights on {shown}")
        if stored.empty:
            st.caption("None stored for that session.")
        else:
            st.dataframe(display_table(stored[["ticker", "weight"]], {"weight": "weight"}), hide_index=True,
                         key="backtests_stored_weights",
                         column_config={"ticker": "Ticker", "weight": st.column_config.TextColumn(
                             "Weight", alignment="right")})


def _live_vs_backtest(ctx: PageContext, run: pd.Series, label: str) -> None:
    st.markdown("**Live vs backtest**")
    sid = run["symphony_id"]
    with st.spinner("Reading paper and backtest series…"):
        paper = cache.paper_nav(ctx.url, ctx.scope, (sid,))
        daily = cache.backtest_daily(ctx.url, ctx.scope, (run["run_id"],))
    if paper.empty:
        st.info(f"No paper NAV for {md(label)} yet — {notices.NEXT_STEPS_RUN}.", icon=":material/info:")
        return
    aligned = bt.live_vs_backtest(paper, daily)
    if aligned.empty:
        st.info("This run shares no session with the paper NAV — rerun the backtest up to the latest session "
                f"({notices.NEXT_STEPS_BACKTEST}).", icon=":material/info:")
        return
    start, end = aligned.index[0].date(), aligned.index[-1].date()
    with st.spinner("Comparing holdings day by day…"):
        targets = cache.target_allocations(ctx.url, ctx.scope, sid, start, end)
        weights = cache.backtest_weights(ctx.url, ctx.scope, run["run_id"], start, end)
        outcomes = cache.symphony_order_outcomes(ctx.url, ctx.scope, sid, start, end)
    days = bt.divergence_table(attribution.classify_days(aligned, targets, weights, outcomes))
    te = tracking_error(aligned["paper_return"], aligned["backtest_return"])
    paper_ret = aligned["paper_usd"].iloc[-1] / aligned["paper_usd"].iloc[0] - 1
    bt_ret = aligned["backtest_usd"].iloc[-1] / aligned["backtest_usd"].iloc[0] - 1
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Paper", signed_pct(paper_ret), border=True, help=f"{start} → {end}")
    c2.metric("Backtest", signed_pct(bt_ret), border=True, help="Same sessions")
    c3.metric("Tracking error", "—" if pd.isna(te) else f"{te:.2%}", border=True,
              help="Annualised: stdev(paper daily return − backtest daily return, ddof 1) · √252, common sessions")
    c4.metric("Days that differed", f"{len(days)} / {len(aligned)}", border=True)
    st.plotly_chart(charts.live_vs_backtest_chart(aligned), key="backtests_live_vs_backtest", config=PLOTLY)
    st.caption("Backtest rebased to the paper NAV on the first common session.")
    if days.empty:
        st.success("Paper and backtest agreed on every common session (same tickers, weights within 0.5 pp, "
                   "returns within 1 bp, no missed fill).", icon=":material/check_circle:")
    else:
        st.dataframe(display_table(days, {"session_date": "date", "max_weight_gap": "pct", "return_diff_bp": "bp"}),
                     hide_index=True, key="backtests_divergences",
                     column_config={
                         "session_date": st.column_config.TextColumn("Session"), "cause": "Cause",
                         "detail": st.column_config.TextColumn("Detail", width="large"),
                         "paper_holdings": "Paper target", "backtest_holdings": "Backtest target",
                         "max_weight_gap": st.column_config.TextColumn("Max weight gap", alignment="right"),
                         "return_diff_bp": st.column_config.TextColumn("Return gap (bp)", alignment="right"),
                     })
    st.caption("Causes, first that applies: **different branch** (target tickers differ) · **missed fill** (an "
               "order of the symphony's was rejected, blocked, canceled, expired or partially filled) · **price "
               "difference** (same tickers, a weight differs by > 0.5 pp) · **costs** (same holdings, daily return "
               "differs by > 1 bp).")


def render() -> None:
    st.title("Backtests")
    ctx = context.current()
    if not notices.warehouse_ready(ctx):
        return
    try:
        with st.spinner("Reading the backtest runs…"):
            runs = cache.backtest_runs(ctx.url, ctx.scope)
            syms = cache.symphonies(ctx.url, ctx.scope)
    except WarehouseLockedError:
        notices.busy()
        return
    if runs.empty:
        st.info(f"No backtests yet — {notices.NEXT_STEPS_BACKTEST}.", icon=":material/info:")
        return
    labels = dict(zip(syms["symphony_id"], syms["label"]))
    st.subheader("Runs")
    _runs_table(runs, labels)
    try:
        _compare(ctx, runs, labels)
        st.subheader("Inspect one run")
        names = {r["run_id"]: _run_label(r, labels) for _, r in runs.iterrows()}
        run_id = st.selectbox("Run", list(names), format_func=names.get, key="backtests_inspect")
        run = runs[runs["run_id"] == run_id].iloc[0]
        replay_tab, live_tab = st.tabs(["Decision replay", "Live vs backtest"])
        with replay_tab:
            _replay(ctx, run)
        with live_tab:
            _live_vs_backtest(ctx, run, labels.get(run["symphony_id"], run["symphony_id"]))
    except WarehouseLockedError:
        notices.busy()


render()
