"""Audit log: who did what, to which account, when and from where — filtered, and exported as CSV.

Scope: the page context's. Operators and admins see every event (with the sidebar's account pick: that account's);
an analyst sees their own accounts' events only (their sign-ins, uploads, activations, and what others did to
their accounts). Reads are not cached: the log must show an action the moment it happened. Sections:
:func:`_filters`, :func:`_table`.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
import streamlit as st

from dashboards import cache, context, notices
from dashboards.context import PageContext
from dashboards.present.format import md
from dashboards.reads import audit as audit_reads
from warehouse import WarehouseLockedError
from warehouse.repos.audit import ACTIONS


def _filters(ctx: PageContext) -> dict:
    """The filter widgets: action(s), actor, account, date range (UTC days)."""
    c1, c2, c3, c4 = st.columns([3, 2, 2, 3])
    actions = c1.multiselect("Action", list(ACTIONS), key="audit_actions", placeholder="every action")
    actor = c2.text_input("Actor (username)", key="audit_actor").strip()
    accounts = cache.accounts(ctx.url, ctx.scope)
    account_ids = list(accounts["account_id"]) if accounts is not None and not accounts.empty else []
    account = c3.selectbox("Account", [None, *account_ids], key="audit_account",
                           format_func=lambda a: "every account in view" if a is None else a)
    dates = c4.date_input("Days (UTC)", value=(), key="audit_dates", max_value=dt.date.today() + dt.timedelta(1))
    start, end = (tuple(dates) + (None, None))[:2] if isinstance(dates, (tuple, list)) else (dates, dates)
    if start is not None and end is None:
        end = start
    return {"actions": actions, "actor": actor or None, "account_id": account, "start": start, "end": end}


def _table(ctx: PageContext, filters: dict) -> None:
    with cache.reading(ctx.url) as wh:
        events = audit_reads.audit_events(wh, ctx.scope, **filters)
    st.caption(f"{len(events)} events" + (f" (the newest {audit_reads.MAX_EVENTS})"
                                          if len(events) >= audit_reads.MAX_EVENTS else "")
               + (" — every account and platform-wide events" if ctx.scope.is_all
                  else f" — account(s) {ctx.scope}"))
    st.dataframe(events, hide_index=True, key="audit_table",
                 column_config={"occurred_at": st.column_config.DatetimeColumn("When (UTC)"),
                                "actor": "Who", "role": "Role", "account_id": "Account", "action": "What",
                                "target": "Target", "origin": "From where", "detail": "Detail"})
    st.download_button("Export CSV", data=audit_reads.to_csv(events), file_name="audit_log.csv",
                       mime="text/csv", icon=":material/download:", key="audit_csv")


def render() -> None:
    """Draw the page: the filters, the events in the context's scope and the CSV export."""
    st.title("Audit log")
    ctx = context.current()
    if not notices.warehouse_ready(ctx):
        return
    try:
        with cache.reading(ctx.url) as wh, wh.connect() as conn:
            has_log = "audit_log" in sa.inspect(conn).get_table_names()
        if not has_log:   # a warehouse older than the audit trail (read-only dashboards never create it)
            st.info("No audit log in this warehouse yet: any `oragami` command or a sign-in creates it.",
                    icon=":material/info:")
            return
        _table(ctx, _filters(ctx))
    except WarehouseLockedError:
        notices.busy()
    except sa.exc.OperationalError as exc:
        st.error(f"Cannot read the warehouse: {md(str(getattr(exc, 'orig', exc)).splitlines()[0])}",
                 icon=":material/error:")


render()
