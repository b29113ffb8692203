"""Orders & positions page: for one session, the netted account orders (status, fills, rejections and blocks
with reasons, dry-run), the per-symphony intents behind them, fills, end-of-session positions (shares, value,
cash) and the symphony runs (ok / failed / skipped with reasons).

Scope: the page context's (:func:`dashboards.context.current`), passed to every read (:mod:`dashboards.cache` over
:mod:`dashboards.reads.orders`). Sections: :func:`_runs`, :func:`_orders`, :func:`_intents`, :func:`_positions`.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import cache, context, notices
from dashboards.present.format import display_table, format_usd, md, plain_reason
from engine.attribution import MISSED_STATUSES
from warehouse import CASH_TICKER, WarehouseLockedError

ALL = "__all__"
PROBLEM_STATUSES = MISSED_STATUSES


def _runs(runs: pd.DataFrame, labels: dict[str, str]) -> None:
    st.subheader("Symphony runs")
    if runs.empty:
        st.caption("No symphony was evaluated on this session.")
        return
    counts = runs["status"].value_counts()
    st.caption(" · ".join(f"{counts.get(s, 0)} {s}" for s in ("ok", "failed", "skipped")))
    table = display_table(runs.assign(symphony=runs["symphony_id"].map(lambda s: labels.get(s, s))),
                          {"reason": "reason", "evaluated_at": "timestamp"})
    st.dataframe(table, hide_index=True,
                 key="orders_runs", column_order=["symphony", "account_id", "status", "reason", "evaluated_at"],
                 column_config={"symphony": "Symphony", "account_id": "Account", "status": "Status",
                                "reason": st.column_config.TextColumn("Reason", width="large"),
                                "evaluated_at": st.column_config.TextColumn("Evaluated at")})


def _orders(orders: pd.DataFrame, fills: pd.DataFrame) -> None:
    st.subheader("Account orders (netted)")
    if orders.empty:
        st.caption("No order on this session (nothing to rebalance, or every intent was crossed between "
                   "symphonies or skipped).")
        return
    problems = orders[orders["status"].isin(PROBLEM_STATUSES)]
    for _, o in problems.iterrows():
        st.warning(md(f"{o['ticker']} {o['side']} {o['status']}: "
                      f"{plain_reason(o['reason']).replace('—', 'no reason given')}"),
                   icon=":material/block:")
    dry = int((orders["status"] == "dry_run").sum())
    if dry:
        st.caption(f"{dry} order(s) recorded as **dry_run**: the account plans orders but sends none.")
    filled = fills.groupby("client_order_id")["qty"].sum() if len(fills) else pd.Series(dtype="float64")
    table = orders.assign(fill_count=orders["client_order_id"].map(
        fills.groupby("client_order_id").size() if len(fills) else {}).fillna(0).astype("int64"),
        fills_qty=orders["client_order_id"].map(filled).astype("float64"))
    # a notional order has no quantity and a qty order no notional: "—", never None; money as −$0.99
    table = display_table(table, {"notional_usd": "usd", "qty": "qty", "ref_price": "usd", "filled_qty": "qty",
                                  "filled_avg_price": "usd", "reason": "reason", "submitted_at": "timestamp"})
    right = {"alignment": "right"}
    st.dataframe(table, hide_index=True, key="orders_orders",
                 column_order=["account_id", "ticker", "side", "notional_usd", "qty", "ref_price", "status",
                               "filled_qty", "filled_avg_price", "fill_count", "reason", "submitted_at",
                               "client_order_id"],
                 column_config={
                     "account_id": "Account", "ticker": "Ticker", "side": "Side",
                     "notional_usd": st.column_config.TextColumn("Notional", help="Dollar order (— for a share "
                                                                 "order)", **right),
                     "qty": st.column_config.TextColumn("Qty", help="Share order (— for a dollar order)", **right),
                     "ref_price": st.column_config.TextColumn("Ref price", **right),
                     "status": "Status", "filled_qty": st.column_config.TextColumn("Filled qty", **right),
                     "filled_avg_price": st.column_config.TextColumn("Avg fill", **right),
                     "fill_count": st.column_config.NumberColumn("Fills"),
                     "reason": st.column_config.TextColumn("Reason", width="large"),
                     "submitted_at": st.column_config.TextColumn("Submitted"),
                     "client_order_id": "Client order id",
                 })
    if len(fills):
        with st.expander(f"Fills ({len(fills)})", icon=":material/receipt_long:"):
            st.dataframe(display_table(fills, {"qty": "qty", "price": "usd", "notional_usd": "usd",
                                               "filled_at": "timestamp"}), hide_index=True, key="orders_fills",
                         column_config={"qty": st.column_config.TextColumn("Qty", alignment="right"),
                                        "price": st.column_config.TextColumn("Price", alignment="right"),
                                        "notional_usd": st.column_config.TextColumn("Notional", alignment="right"),
                                        "filled_at": st.column_config.TextColumn("Filled at")})


def _intents(intents: pd.DataFrame, orders: pd.DataFrame, labels: dict[str, str]) -> None:
    st.subheader("Per-symphony intents")
    st.caption("Each symphony's wanted change per ticker, netted into the account orders above: `order` went into "
               "the netted order, `crossed` was matched against another symphony's opposite intent, `skipped` was "
               "too small to trade.")
    if intents.empty:
        st.caption("No intent on this session.")
        return
    status = dict(zip(orders["client_order_id"], orders["status"])) if len(orders) else {}
    table = intents.assign(symphony=intents["symphony_id"].map(lambda s: labels.get(s, s)),
                           order_status=intents["client_order_id"].map(status))
    table = display_table(table, {"delta_qty": "signed_qty", "ref_price": "usd"})
    st.dataframe(table, hide_index=True, key="orders_intents",
                 column_order=["symphony", "ticker", "delta_qty", "ref_price", "liquidate", "disposition",
                               "order_status", "client_order_id"],
                 column_config={"symphony": "Symphony", "delta_qty": st.column_config.TextColumn(
                     "Δ shares", alignment="right"), "ref_price": st.column_config.TextColumn("Ref price",
                                                                                             alignment="right"),
                     "liquidate": "Liquidate", "disposition": "Disposition", "order_status": "Order status",
                     "client_order_id": "Client order id"})


def _positions(positions: pd.DataFrame, labels: dict[str, str]) -> None:
    st.subheader("Positions at the close")
    if positions.empty:
        st.caption("No positions recorded for this session.")
        return
    cash = positions["ticker"] == CASH_TICKER
    c1, c2, c3 = st.columns(3)
    total = float(positions["market_value_usd"].fillna(0).sum())
    cash_usd = float(positions.loc[cash, "market_value_usd"].fillna(positions.loc[cash, "qty"]).sum())
    c1.metric("Total value", format_usd(total), border=True)
    c2.metric("Cash", format_usd(cash_usd), border=True)
    c3.metric("Holdings", str(int((~cash & (positions["qty"].abs() > 1e-9)).sum())), border=True,
              help="Non-cash positions over all symphonies")
    table = positions.assign(symphony=positions["symphony_id"].map(lambda s: labels.get(s, s)),
                             ticker=positions["ticker"].where(~cash, "Cash"))
    table = display_table(table, {"qty": "qty", "price": "usd", "market_value_usd": "usd"})
    st.dataframe(table, hide_index=True, key="orders_positions",
                 column_order=["symphony", "ticker", "qty", "price", "market_value_usd"],
                 column_config={"symphony": "Symphony", "ticker": "Ticker",
                                "qty": st.column_config.TextColumn("Shares (USD for cash)", alignment="right"),
                                "price": st.column_config.TextColumn("Close", alignment="right"),
                                "market_value_usd": st.column_config.TextColumn("Value", alignment="right")})


def render() -> None:
    st.title("Orders & positions")
    ctx = context.current()
    if not notices.warehouse_ready(ctx):
        return
    try:
        with st.spinner("Reading the sessions…"):
            sessions = cache.activity_sessions(ctx.url, ctx.scope)
            syms = cache.symphonies(ctx.url, ctx.scope)
    except WarehouseLockedError:
        notices.busy()
        return
    if not sessions:
        st.info(f"No orders or evaluations yet — {notices.NEXT_STEPS_RUN}.", icon=":material/info:")
        return
    labels = dict(zip(syms["symphony_id"], syms["label"]))
    left, right = st.columns(2)
    session = left.selectbox("Session", sessions, format_func=lambda d: d.isoformat(), key="orders_session")
    options = [ALL] + list(syms["symphony_id"])
    symphony = right.selectbox("Symphony", options, format_func=lambda s: "All symphonies" if s == ALL
                               else labels.get(s, s), key="orders_symphony",
                               help="Narrows the intents, positions and runs; account orders are netted over "
                                    "every symphony of the account")
    try:
        with st.spinner(f"Reading orders and positions of {session}…"):
            d = cache.session_activity(ctx.url, ctx.scope, session)
    except WarehouseLockedError:
        notices.busy()
        return

    def pick(frame: pd.DataFrame) -> pd.DataFrame:
        return frame if symphony == ALL or frame.empty else frame[frame["symphony_id"] == symphony]

    orders = d["orders"]
    if symphony != ALL and len(orders):
        ids = set(pick(d["intents"])["client_order_id"].dropna())
        orders = orders[orders["client_order_id"].isin(ids)]
    fills = d["fills"][d["fills"]["client_order_id"].isin(set(orders["client_order_id"]))] if len(d["fills"]) \
        else d["fills"]
    _runs(pick(d["runs"]), labels)
    _orders(orders, fills)
    _intents(pick(d["intents"]), d["orders"], labels)
    _positions(pick(d["positions"]), labels)


render()
