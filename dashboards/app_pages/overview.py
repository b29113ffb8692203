"""Overview page: the symphonies, today's target allocations, paper NAV against the backtest, and why.

Scope: the page context's (:func:`dashboards.context.current`), passed to every read. Reads go through
:mod:`dashboards.cache` (cached, read-only, short-lived connections) over :mod:`dashboards.reads.overview`; this
file only lays the answers out, in sections: :func:`_headline`, :func:`_symphony_table`, :func:`_allocation_chart`,
:func:`_per_symphony`.
"""
from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboards import cache, context, notices
from dashboards.present.charts import date_axis
from dashboards.present.format import (CASH_LABEL, delta_style, display_table, format_drawdown, format_usd,
                                       format_weight, md, plain_reason, signed_pct, signed_usd)
from dashboards.reads import overview as ov
from warehouse import CASH_TICKER, WarehouseLockedError

CASH_COLOR = "#B0B7C3"


def _headline(d: dict) -> None:
    h = ov.headline(d["symphonies"], d["accounts"], d["nav"], d["session"])
    # two rows, so no figure is cut short in a narrow column ("Latest session 2026-07…")
    c1, c2, c3 = st.columns(3)
    c4, c5 = st.columns(2)
    c1.metric("Accounts", str(h["accounts"]), border=True)
    c2.metric("Active symphonies", str(h["active_symphonies"]), border=True,
              help=f"{len(d['symphonies'])} registered in all")
    c3.metric("Latest session", h["latest_session"].isoformat() if h["latest_session"] else "none yet", border=True,
              help="Newest session written by the daily graph (evaluations, allocations or NAV)")
    nav_help = (f"Sum of every symphony's paper NAV on {h['nav_date']}; change against the previous session"
                if h["nav_date"] else "No paper NAV yet")
    change = signed_usd(h["total_nav_change_usd"]) if h["total_nav_change_usd"] is not None else None
    c4.metric("Total paper NAV", format_usd(h["total_nav_usd"]), border=True, help=nav_help, delta=change,
              **delta_style(change))
    c5.metric("Total P&L", signed_usd(h["total_pnl_usd"]), border=True,
              help="Paper NAV minus the symphonies' starting capital; the day's P&L is the change under the NAV")


def _symphony_table(overview: pd.DataFrame) -> None:
    st.subheader("Symphonies")
    table = overview.assign(
        account=overview["account_name"].where(overview["account_name"].notna(), overview["account_id"]),
        last_run=[("—" if pd.isna(s) else (f"{s}: {plain_reason(r)}" if isinstance(r, str) and r else str(s)))
                  for s, r in zip(overview["last_run_status"], overview["last_run_reason"])],
        holdings=overview["holdings"].replace("", "—"),
    )
    # one convention on every page: drawdown as a positive percent (as Composer), money as −$0.99, no None cell
    table = display_table(table, {"paper_nav_usd": "usd", "backtest_cagr": "pct", "backtest_sharpe": "ratio",
                                  "backtest_max_drawdown": "drawdown", "holdings_date": "date",
                                  "last_run_date": "date"})
    st.dataframe(
        table,
        hide_index=True,
        key="overview_symphonies",
        column_order=["label", "account", "rebalance", "status", "holdings", "holdings_date", "last_run",
                      "last_run_date", "paper_nav_usd", "backtest_cagr", "backtest_sharpe", "backtest_max_drawdown"],
        column_config={
            "label": st.column_config.TextColumn("Symphony", help="Name (id when the name is shared)"),
            "account": st.column_config.TextColumn("Account"),
            "rebalance": st.column_config.TextColumn("Rebalance"),
            "status": st.column_config.TextColumn("Status"),
            "holdings": st.column_config.TextColumn("Holdings (target)", width="large",
                                                    help="Target weights of the newest evaluated session"),
            "holdings_date": st.column_config.TextColumn("As of"),
            "last_run": st.column_config.TextColumn("Last run", help="Outcome of the newest evaluation"),
            "last_run_date": st.column_config.TextColumn("Run session"),
            "paper_nav_usd": st.column_config.TextColumn("Paper NAV", alignment="right"),
            "backtest_cagr": st.column_config.TextColumn("Backtest CAGR", alignment="right"),
            "backtest_sharpe": st.column_config.TextColumn("Sharpe", alignment="right"),
            "backtest_max_drawdown": st.column_config.TextColumn(
                "Max drawdown", alignment="right", help="Largest peak-to-trough fall, as a positive percent"),
        },
    )


def _allocation_chart(d: dict, overview: pd.DataFrame) -> None:
    session = d["session"]
    st.subheader(f"Target allocations — {session.isoformat()}" if session else "Target allocations")
    alloc = d["allocations"]
    if alloc.empty:
        st.info(f"No allocation yet: the symphonies have never been evaluated — {notices.NEXT_STEPS_RUN}.")
        return
    labels = dict(zip(overview["symphony_id"], overview["label"]))
    dates = alloc.groupby("symphony_id")["session_date"].max()
    y_label = {sid: labels.get(sid, sid) + ("" if day == session else f" (as of {day})")
               for sid, day in dates.items()}
    plot = alloc.assign(
        symphony=alloc["symphony_id"].map(y_label),
        holding=alloc["ticker"].where(alloc["ticker"] != CASH_TICKER, CASH_LABEL),
        weight_text=[format_weight(w) for w in alloc["target_weight"]],
    )
    order = [y_label[sid] for sid in overview["symphony_id"] if sid in y_label]
    fig = px.bar(plot, x="target_weight", y="symphony", color="holding", orientation="h", text="holding",
                 custom_data=["weight_text"], category_orders={"symphony": order},
                 color_discrete_map={CASH_LABEL: CASH_COLOR})
    fig.update_traces(texttemplate="%{text} %{customdata[0]}", textposition="inside", insidetextanchor="middle",
                      hovertemplate="%{y}<br>%{text}: %{customdata[0]}<extra></extra>")
    fig.update_layout(barmode="stack", height=120 + 44 * plot["symphony"].nunique(), legend_title_text="Ticker",
                      xaxis=dict(tickformat=".0%", range=[0, 1], title="Target weight"), yaxis_title=None,
                      margin=dict(l=10, r=10, t=10, b=10), uniformtext_minsize=9, uniformtext_mode="hide")
    st.plotly_chart(fig, key="overview_allocations", config={"displaylogo": False})


def _nav_figure(comparison: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    for name, dash in ((ov.PAPER, "solid"), (ov.BACKTEST, "dash")):
        s = comparison[comparison["series"] == name]
        if s.empty:
            continue
        fig.add_trace(go.Scatter(x=s["session_date"], y=s["nav_usd"], name=name,
                                 mode="lines+markers" if len(s) <= 30 else "lines",
                                 line=dict(dash=dash, width=2)))
    fig.update_layout(height=320, hovermode="x unified", margin=dict(l=10, r=10, t=30, b=10),
                      yaxis=dict(tickprefix="$", tickformat=",.0f", title="NAV (USD)"), xaxis_title=None,
                      legend=dict(orientation="h", y=1.12, x=0))
    date_axis(fig, comparison["session_date"])
    return fig


def _symphony_detail(row: pd.Series, d: dict, expanded: bool) -> None:
    sid = row["symphony_id"]
    active = row["status"] == "active"
    holdings = md(row["holdings"]) or "not evaluated yet"
    if row["holdings"] and row["holdings_date"] != d["session"]:
        holdings += f" (as of {row['holdings_date']})"
    label = f"**{md(row['label'])}**{'' if active else ' (inactive)'} — {holdings}"
    with st.expander(label, expanded=expanded, icon=":material/show_chart:"):
        left, right = st.columns([3, 2], gap="large")
        with left:
            st.markdown("**Paper NAV vs backtest**")
            paper = d["nav"][d["nav"]["symphony_id"] == sid]
            if paper.empty:
                st.info(f"No paper NAV yet — {notices.NEXT_STEPS_RUN}." if active else
                        "No paper NAV: the symphony is inactive, so the daily job does not trade it.")
            else:
                bt = d["backtest_nav"][d["backtest_nav"]["symphony_id"] == sid]
                comparison = ov.nav_comparison(paper, bt)
                st.plotly_chart(_nav_figure(comparison), key=f"overview_nav_{sid}", config={"displaylogo": False})
                sessions = int((comparison["series"] == ov.PAPER).sum())
                parts = [f"Paper {signed_pct(ov.window_return(comparison, ov.PAPER))} over {sessions} "
                         f"session{'s' if sessions != 1 else ''}"]
                if (comparison["series"] == ov.BACKTEST).any():
                    parts.append(f"backtest {signed_pct(ov.window_return(comparison, ov.BACKTEST))} over the "
                                 "same window")
                st.caption(" · ".join(parts))
            runs = d["backtests"][d["backtests"]["symphony_id"] == sid]
            if runs.empty:
                st.caption(f"No backtest yet — {notices.NEXT_STEPS_BACKTEST}.")
            else:
                r = runs.iloc[0]
                sharpe = "—" if pd.isna(r["sharpe"]) else f"{r['sharpe']:.2f}"
                st.caption(f"Backtest {r['start_date']} → {r['end_date']}: CAGR {signed_pct(r['cagr'])}, "
                           f"Sharpe {sharpe.replace('-', '−')}, max drawdown {format_drawdown(r['max_drawdown'])}")
        with right:
            session = d["session"]
            st.markdown(f"**Why it holds this on {session}**" if session else "**Why it holds this**")
            if isinstance(row["last_run_status"], str) and row["last_run_status"] != "ok" \
                    and row["last_run_date"] == session:
                st.error(f"Evaluation {row['last_run_status']}: {md(plain_reason(row['last_run_reason']))}",
                         icon=":material/error:")
            traces = d["traces"][d["traces"]["symphony_id"] == sid]
            if traces.empty:
                if session is None:
                    st.caption(f"Not evaluated yet — {notices.NEXT_STEPS_RUN}.")
                else:
                    st.caption(f"No decision trace for {session} (the symphony was not evaluated that session, or "
                               "it has no conditions to explain).")
            else:
                st.dataframe(
                    traces, hide_index=True, key=f"overview_trace_{sid}",
                    column_order=["node_path", "node_type", "summary"],
                    column_config={
                        "node_path": st.column_config.TextColumn("Node", width="small"),
                        "node_type": st.column_config.TextColumn("Type", width="small"),
                        "summary": st.column_config.TextColumn("Decision", width="large"),
                    },
                )


def _per_symphony(d: dict, overview: pd.DataFrame) -> None:
    st.subheader("Per symphony")
    st.caption("Paper NAV (solid) against the newest backtest over the same window, rebased to the paper NAV on "
               "the first common session (dashed); on the right, the decisions of the latest session.")
    for i, (_, row) in enumerate(overview.iterrows()):
        _symphony_detail(row, d, expanded=(i == 0))


def render() -> None:
    st.title("Overview")
    ctx = context.current()
    if not notices.warehouse_ready(ctx):
        return
    try:
        with st.spinner("Reading the warehouse…"):
            d = cache.overview_frames(ctx.url, ctx.scope)
    except WarehouseLockedError:
        notices.busy()
        return
    if d["symphonies"].empty:
        st.info(f"No symphonies yet — {notices.NEXT_STEPS_SEED}.", icon=":material/info:")
        return
    overview = ov.symphony_overview(d["symphonies"], d["allocations"], d["runs"], d["nav"], d["backtests"])
    _headline(d)
    if d["session"] is None:
        st.info(f"Symphonies are registered but no session has been evaluated yet — {notices.NEXT_STEPS_RUN}.",
                icon=":material/info:")
    _symphony_table(overview)
    _allocation_chart(d, overview)
    _per_symphony(d, overview)


render()
