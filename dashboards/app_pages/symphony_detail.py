"""Symphony detail: the tree of one symphony with the path taken on a chosen day, and the strategy in words.

Scope: the page context's (:func:`dashboards.context.current`): only the symphonies in scope can be chosen or
read. The day's path comes from evaluating the stored model on the closes the daily graph traded on — the
warehouse's bars, through the one price reader (:func:`dashboards.reads.prices.symphony_closes`; the bundled
closes only for a symphony whose tickers the warehouse has never stored, and the page says so). The tree is DOT
text built by :mod:`dashboards.present.tree`, the description by :mod:`engine.describe`. Sections:
:func:`_choice`, :func:`_words`, :func:`_controls` (live controls: go to cash until the next rebalance, skip the
next rebalance — for an operator or the account's analyst — and the preview of the next run's netted orders),
:func:`_path_and_tree`.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
import streamlit as st

from dashboards import actions, cache, context, notices
from dashboards.context import PageContext
from dashboards.present import tree
from dashboards.present.format import holdings_string_from_weights, md
from dashboards.reads import controls as control_reads
from dashboards.reads.library import parse_stored
from engine import describe
from engine.model import Root
from warehouse import WarehouseLockedError
from warehouse.repos.controls import next_trading_session

#: The two live controls and their button labels.
CONTROL_LABELS = {"cash_until_rebalance": "Go to cash until the next rebalance",
                  "skip_next_rebalance": "Skip the next rebalance"}
_NOTICE_KEY = "_controls_notice"


def _default_day(ctx: PageContext) -> dt.date:
    session = cache.latest_session(ctx.url, ctx.scope)
    if session is not None:
        return session
    try:
        from warehouse.bundled import last_session

        return last_session()
    except FileNotFoundError:
        return dt.date.today()


def _choice(ctx: PageContext) -> tuple[str, dt.date, dict | None] | None:
    """The symphony and day chosen, with the stored record (``None`` when there is nothing to choose)."""
    lib = cache.library_table(ctx.url, ctx.scope)
    if lib.empty:
        st.info("No symphonies in view — upload one on the Symphony library page.", icon=":material/info:")
        return None
    labels = dict(zip(lib["symphony_id"], lib["label"]))
    left, right = st.columns([3, 1])
    sid = left.selectbox("Symphony", list(labels), format_func=lambda s: labels[s], key="detail_symphony")
    day = right.date_input("Day", value=_default_day(ctx), key="detail_day",
                           help="Default: the latest session in the warehouse (or of the bundled prices)")
    return sid, day, cache.symphony_record(ctx.url, ctx.scope, sid)


def _words(sid: str, record: dict, root: Root) -> None:
    st.markdown(f"### {md(root.name)}")
    st.caption(f"`{sid}` · account `{record['account_id']}` · {record['status']}")
    st.markdown(md(describe.describe(root)))


def _act(ctx: PageContext, sid: str, control: str | None) -> None:
    """Button callback: set ``control`` (None: clear) for the signed-in user; the outcome is shown next run."""
    try:
        if control is None:
            row = actions.clear_live_control(ctx.url, ctx.scope, ctx.user, sid)
            msg = ("success", "Control cleared." if row else "No open control to clear.")
        else:
            row = actions.set_live_control(ctx.url, ctx.scope, ctx.user, sid, control)
            msg = ("success", f"{CONTROL_LABELS[control]}: set from session {row['effective_session']}.")
    except (PermissionError, LookupError, ValueError) as exc:
        msg = ("error", str(exc))
    st.session_state[_NOTICE_KEY] = msg


def _controls(ctx: PageContext, sid: str, record: dict) -> None:
    """Live controls of the symphony: the open one (who, when), the buttons, the history and the preview."""
    st.markdown("#### Live controls")
    notice = st.session_state.pop(_NOTICE_KEY, None)
    if notice:
        (st.success if notice[0] == "success" else st.error)(md(notice[1]))
    with cache.reading(ctx.url) as wh:
        hist = control_reads.history(wh, ctx.scope, sid)
    open_rows = hist[hist["status"] == "open"]
    if len(open_rows):
        r = open_rows.iloc[0]
        st.info(f"**{CONTROL_LABELS[r['control']]}** from session {r['effective_session']} — set by "
                f"`{md(r['set_by'])}` ({r['set_role']}) at {r['set_at']:%Y-%m-%d %H:%M} UTC",
                icon=":material/pan_tool:")
    else:
        st.caption("No live control on this symphony: it trades as its rebalance rule says.")
    allowed = ctx.user.is_operator or record["account_id"] in ctx.user.accounts
    cols = st.columns(4)
    for col, (control, label) in zip(cols, CONTROL_LABELS.items()):
        col.button(label, key=f"ctl_{control}", disabled=not allowed or bool(len(open_rows)),
                   on_click=_act, args=(ctx, sid, control))
    cols[2].button("Clear the control", key="ctl_clear", disabled=not allowed or not len(open_rows),
                   on_click=_act, args=(ctx, sid, None))
    show = cols[3].button("Preview today's trades", key="ctl_preview")
    if not allowed:
        st.caption("Only an operator or the analyst who owns the account can change live controls.")
    if len(hist):
        with st.expander("Control history", icon=":material/history:"):
            st.dataframe(hist, hide_index=True, key="ctl_history")
    if show:
        _preview(ctx, sid, record["account_id"])


def _preview(ctx: PageContext, sid: str, account_id: str) -> None:
    """The netted orders the next run would send for the account (this symphony's part), sent nowhere."""
    session = next_trading_session()
    with cache.reading(ctx.url) as wh:
        try:
            pv = control_reads.preview(wh, ctx.scope, account_id, session, sid)
        except (PermissionError, LookupError, ValueError) as exc:
            st.warning(md(str(exc)), icon=":material/info:")
            return
    st.markdown(f"**Preview of session {pv.session}** (prices as of {pv.prices_as_of}; computed by the daily "
                "graph's own planning, nothing sent)")
    if pv.refused:
        st.error(f"The run would refuse this account: {md(pv.refused)}", icon=":material/block:")
    st.dataframe(pv.symphonies, hide_index=True, key="ctl_preview_symphonies")
    if pv.orders.empty:
        st.caption("No order: nothing to trade for this symphony on that session.")
    else:
        st.dataframe(pv.orders, hide_index=True, key="ctl_preview_orders")


def _path_and_tree(ctx: PageContext, root: Root, day: dt.date) -> None:
    path, source = cache.day_path(ctx.url, root.model_dump_json(), day)
    if path is None:
        st.warning(f"Cannot evaluate on {day}: {md(source)}. The tree is drawn without the day's path.",
                   icon=":material/warning:")
    else:
        held = holdings_string_from_weights(path.weights)
        note = "" if path.session == day else f" (the last session on or before {day})"
        st.markdown(f"**Path taken on {path.session}{note}:** holds {md(held) or 'nothing'}")
        st.caption(f"Prices: {md(source)}.")
        if not path.valid:
            st.caption("Some indicator was still warming up that day: the evaluation is not valid yet.")
    st.graphviz_chart(tree.tree_dot(root, path), width="stretch")
    if path is not None and path.trace:
        with st.expander("Decisions of the day", icon=":material/rule:"):
            st.dataframe([{"node": e["node_path"], "type": e["node_type"], "decision": e["summary"]}
                          for e in path.trace.values()], hide_index=True, key="detail_trace")


def render() -> None:
    st.title("Symphony detail")
    ctx = context.current()
    if not notices.warehouse_ready(ctx):
        return
    try:
        chosen = _choice(ctx)
    except WarehouseLockedError:
        notices.busy()
        return
    except sa.exc.OperationalError as exc:
        st.error(f"Cannot read the warehouse: {md(str(getattr(exc, 'orig', exc)).splitlines()[0])}",
                 icon=":material/error:")
        return
    if chosen is None:
        return
    sid, day, record = chosen
    if record is None:
        st.warning("That symphony is not in your account.", icon=":material/block:")
        return
    root = parse_stored(record.get("parsed_json"), record.get("source_text"), record.get("source_format"))
    if root is None:
        st.error("The stored text of this symphony cannot be read; upload it again.", icon=":material/error:")
        return
    _words(sid, record, root)
    _controls(ctx, sid, record)
    _path_and_tree(ctx, root, day)


render()
