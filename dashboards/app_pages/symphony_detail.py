"""Symphony detail: the tree of one symphony with the path taken on a chosen day, and the strategy in words.

The symphony list is scoped to the signed-in user's account (:func:`dashboards.data.account_scope`). The day's
path comes from evaluating the stored model on the bundled adjusted closes up to that day
(:func:`dashboards.data.day_path`); the tree is DOT text built by :mod:`dashboards.tree`, the description by
:mod:`engine.describe`.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
import streamlit as st

from dashboards import data, queries, tree
from engine import describe
from warehouse import WarehouseLockedError


def _md(text: object) -> str:
    return str(text).replace("$", "\\$")


def _default_day(url: str, scope: str | None) -> dt.date:
    session = data.latest_session(url, scope)
    if session is not None:
        return session
    try:
        from warehouse.bundled import last_session

        return last_session()
    except FileNotFoundError:
        return dt.date.today()


def render() -> None:
    st.title("Symphony detail")
    url = data.warehouse_url()
    scope = data.account_scope()
    try:
        if data.warehouse_state(url) != "ok":
            st.info("The warehouse has no tables yet — run `make demo` or `oragami seed FILE`.",
                    icon=":material/info:")
            return
        lib = data.library(url, scope)
        if lib.empty:
            st.info("No symphonies in view — upload one on the Symphony library page.", icon=":material/info:")
            return
        labels = dict(zip(lib["symphony_id"], lib["label"]))
        left, right = st.columns([3, 1])
        sid = left.selectbox("Symphony", list(labels), format_func=lambda s: labels[s], key="detail_symphony")
        day = right.date_input("Day", value=_default_day(url, scope), key="detail_day",
                               help="Default: the latest session in the warehouse (or of the bundled prices)")
        record = data.symphony_record(url, sid, scope)
    except WarehouseLockedError:
        st.warning("The warehouse is busy: another process (Dagster) is writing to it. Try again in a moment.",
                   icon=":material/hourglass_top:")
        return
    except sa.exc.OperationalError as exc:
        st.error(f"Cannot read the warehouse: {_md(str(getattr(exc, 'orig', exc)).splitlines()[0])}",
                 icon=":material/error:")
        return
    if record is None:
        st.warning("That symphony is not in your account.", icon=":material/block:")
        return
    root = queries.parse_stored(record.get("parsed_json"), record.get("source_text"), record.get("source_format"))
    if root is None:
        st.error("The stored text of this symphony cannot be read; upload it again.", icon=":material/error:")
        return
    st.markdown(f"### {_md(root.name)}")
    st.caption(f"`{sid}` · account `{record['account_id']}` · {record['status']}")
    st.markdown(_md(describe.describe(root)))

    path, reason = data.day_path(root.model_dump_json(), day)
    if path is None:
        st.warning(f"Cannot evaluate on {day}: {_md(reason)}. The tree is drawn without the day's path.",
                   icon=":material/warning:")
    else:
        held = queries.holdings_string_from_weights(path.weights)
        note = "" if path.session == day else f" (the last session on or before {day})"
        st.markdown(f"**Path taken on {path.session}{note}:** holds {_md(held) or 'nothing'}")
        if not path.valid:
            st.caption("Some indicator was still warming up that day: the evaluation is not valid yet.")
    st.graphviz_chart(tree.tree_dot(root, path), width="stretch")
    if path is not None and path.trace:
        with st.expander("Decisions of the day", icon=":material/rule:"):
            st.dataframe([{"node": e["node_path"], "type": e["node_type"], "decision": e["summary"]}
                          for e in path.trace.values()], hide_index=True, key="detail_trace")


render()
