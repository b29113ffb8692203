"""Symphony library: upload (validated), search, filter, activate and deactivate the symphonies in view.

Scope: the page context's (:func:`dashboards.context.current`): every read and write passes it. An upload is
registered into the account in view (an operator viewing every account picks one). A new symphony is active while
its account is under ``accounts.max_active_symphonies`` (default 40), else inactive; activating beyond the limit
is refused by the warehouse in the same transaction as the count. Sections: :func:`_usage`, :func:`_table`,
:func:`_upload`.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from dashboards import actions, cache, context, notices
from dashboards.context import PageContext
from dashboards.present.format import display_table, md
from dashboards.reads import library as lib_reads
from warehouse import ActivationLimitError, WarehouseLockedError

UPLOAD_TYPES = ["json", "edn", "clj", "txt"]


def _usage(ctx: PageContext) -> pd.DataFrame:
    usage = cache.account_usage(ctx.url, ctx.scope)
    if len(usage):
        cols = st.columns(min(4, len(usage)))
        for i, row in enumerate(usage.itertuples(index=False)):
            cols[i % len(cols)].metric(
                f"{row.name or row.account_id}", lib_reads.usage_label(row.active, row.max_active_symphonies),
                border=True, help=f"Account {row.account_id}: active symphonies / limit")
    return usage


def _upload(ctx: PageContext, usage: pd.DataFrame) -> None:
    st.subheader("Upload a symphony")
    if usage.empty:
        st.info("No account yet: create one with `oragami seed FILE` or `make demo` first.", icon=":material/info:")
        return
    target = ctx.home_account
    if target is None:
        target = st.selectbox("Register into account", list(usage["account_id"]), key="library_target_account")
    uploaded = st.file_uploader("Symphony file (JSON score, EDN, or defsymphony text)", type=UPLOAD_TYPES,
                                key="library_upload")
    if uploaded is None:
        return
    check = lib_reads.check_upload(uploaded.getvalue(), uploaded.name)
    if not check.ok:
        where = [f"node path `{check.node_path}`" if check.node_path else None,
                 f"field `{check.field}`" if check.field else None]
        where_text = ", ".join(w for w in where if w) or "no node path"
        st.error(f"**{md(uploaded.name)} is not a valid symphony:** {md(check.message)}  \n{where_text}",
                 icon=":material/error:")
        return
    for note in check.warnings:
        st.warning(md(note), icon=":material/build:")
    root = check.root
    sid = actions.propose_symphony_id(ctx.url, ctx.scope, Path(uploaded.name).stem, target)
    st.success(f"**{md(root.name)}** is valid ({check.fmt}, rebalance {root.rebalance}); it will be stored as "
               f"`{sid}` in account `{target}`.", icon=":material/check_circle:")
    if st.button("Register", icon=":material/add:", key="library_register"):
        row = {"symphony_id": sid, "name": root.name, "source_format": check.fmt,
               "source_text": uploaded.getvalue().decode("utf-8-sig"), "parsed_json": root.model_dump_json(),
               "rebalance": root.rebalance}
        try:
            status = actions.register_symphony(ctx.url, ctx.scope, row, target)
        except (LookupError, ValueError, PermissionError) as exc:
            st.error(md(exc), icon=":material/error:")
            return
        if status == "active":
            st.session_state["library_message"] = ("success", f"Registered `{sid}` as **active**.")
        else:
            st.session_state["library_message"] = (
                "error", f"Registered `{sid}` as **inactive**: account `{target}` is at its limit of active "
                         "symphonies. Deactivate another one, then activate this one.")
        cache.clear()    # the list and the X/40 counter must show the new symphony at once
        st.rerun()


def _set_status(ctx: PageContext, sid: str, status: str) -> None:
    try:
        actions.set_symphony_status(ctx.url, ctx.scope, sid, status)
    except ActivationLimitError as exc:
        st.session_state["library_message"] = ("error", str(exc))
    except LookupError as exc:
        st.session_state["library_message"] = ("error", str(exc))
    else:
        st.session_state["library_message"] = ("success", f"`{sid}` is now {status}.")


def _table(ctx: PageContext) -> None:
    st.subheader("Symphonies")
    message = st.session_state.pop("library_message", None)
    if message:
        (st.error if message[0] == "error" else st.success)(md(message[1]))
    lib = cache.library_table(ctx.url, ctx.scope)
    left, right = st.columns([3, 1])
    text = left.text_input("Search by name or ticker", key="library_search", placeholder="e.g. TQQQ")
    status = right.selectbox("Status", ["all", "active", "inactive"], key="library_status")
    shown = lib_reads.filter_library(lib, text, status)
    st.caption(f"{len(shown)} of {len(lib)} symphonies")
    if shown.empty:
        return
    st.dataframe(display_table(shown, {"updated_at": "timestamp"}), hide_index=True, key="library_table",
                 column_order=["label", "account_id", "status", "rebalance", "source_format", "tickers",
                               "updated_at"],
                 column_config={"label": "Symphony", "account_id": "Account", "status": "Status",
                                "rebalance": "Rebalance", "source_format": "Format",
                                "tickers": st.column_config.TextColumn("Tickers", width="large"),
                                "updated_at": st.column_config.TextColumn("Updated")})
    labels = dict(zip(shown["symphony_id"], shown["label"]))
    statuses = dict(zip(shown["symphony_id"], shown["status"]))
    c1, c2, c3 = st.columns([3, 1, 1], vertical_alignment="bottom")
    sid = c1.selectbox("Symphony", list(labels), format_func=lambda s: f"{labels[s]} ({statuses[s]})",
                       key="library_pick")
    c2.button("Activate", icon=":material/play_arrow:", key="library_activate", disabled=statuses[sid] == "active",
              on_click=_set_status, args=(ctx, sid, "active"))
    c3.button("Deactivate", icon=":material/pause:", key="library_deactivate",
              disabled=statuses[sid] != "active", on_click=_set_status, args=(ctx, sid, "inactive"))


def render() -> None:
    st.title("Symphony library")
    ctx = context.current()
    if not notices.warehouse_ready(ctx):
        return
    try:
        usage = _usage(ctx)
        _table(ctx)
        _upload(ctx, usage)
    except WarehouseLockedError:
        notices.busy()
    except sa.exc.OperationalError as exc:
        st.error(f"Cannot read the warehouse: {md(str(getattr(exc, 'orig', exc)).splitlines()[0])}",
                 icon=":material/error:")


render()
