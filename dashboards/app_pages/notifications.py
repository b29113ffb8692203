"""Notifications: the alerts the platform raised (failed runs, failed blocking checks, symphonies liquidated to
cash, kill switches, rejected orders) and whether each reached the webhook and the e-mail channel.

Scope: the page context's. Operators see every account and the platform-wide events (failed runs); with the
sidebar's account pick, that account's events; an analyst sees their own account's events only. Reads are not
cached: an alert must show the moment it was raised. Sections: :func:`_filters`, :func:`_headline`,
:func:`_table`, :func:`_message`.
"""
from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from dashboards import cache, context, notices
from dashboards.context import PageContext
from dashboards.present.format import md
from dashboards.reads import notifications as notification_reads
from warehouse import WarehouseLockedError
from warehouse.schema import NOTIFICATION_KINDS

KIND_LABELS = {"run_failed": "Run failed", "check_failed": "Blocking check failed",
               "symphony_liquidated": "Symphony liquidated to cash", "kill_switch_tripped": "Kill switch tripped",
               "order_rejected": "Order rejected", "warehouse_locked": "Warehouse locked"}


def _filters(ctx: PageContext) -> dict:
    """Kind, account and symphony pickers (options from the scope only)."""
    c1, c2, c3 = st.columns(3)
    kind = c1.selectbox("Kind", [None, *NOTIFICATION_KINDS], key="notifications_kind",
                        format_func=lambda k: "every kind" if k is None else KIND_LABELS.get(k, k))
    accounts = cache.accounts(ctx.url, ctx.scope)
    account_ids = list(accounts["account_id"]) if accounts is not None and not accounts.empty else []
    account = c2.selectbox("Account", [None, *account_ids], key="notifications_account",
                           format_func=lambda a: "every account in view" if a is None else a)
    syms = cache.symphonies(ctx.url, ctx.scope)
    labels = dict(zip(syms["symphony_id"], syms["label"])) if syms is not None and not syms.empty else {}
    symphony = c3.selectbox("Symphony", [None, *labels], key="notifications_symphony",
                            format_func=lambda s: "every symphony" if s is None else labels.get(s, s))
    return {"kind": kind, "account_id": account, "symphony_id": symphony, "labels": labels}


def _headline(events: pd.DataFrame) -> None:
    c1, c2, c3 = st.columns(3)
    failed = int(((events["webhook"] == "failed") | (events["email"] == "failed")).sum()) if len(events) else 0
    unsent = int((events["webhook"] == "not configured").sum()) if len(events) else 0
    c1.metric("Events", str(len(events)), border=True)
    c2.metric("Failed deliveries", str(failed), border=True,
              help="Events that one channel could not deliver after its retries")
    c3.metric("Recorded only", str(unsent), border=True, help="Raised while no alert channel was configured")


def _table(events: pd.DataFrame, labels: dict[str, str]) -> None:
    table = events.assign(kind=events["kind"].map(lambda k: KIND_LABELS.get(k, k)),
                          symphony=events["symphony_id"].map(lambda s: labels.get(s, s) if isinstance(s, str)
                                                             else None))
    st.dataframe(table, hide_index=True, key="notifications_table",
                 column_order=["created_at", "kind", "account_id", "symphony", "session_date", "title", "webhook",
                               "email", "attempts", "last_error"],
                 column_config={"created_at": st.column_config.DatetimeColumn("Raised (UTC)"), "kind": "Kind",
                                "account_id": "Account", "symphony": "Symphony",
                                "session_date": st.column_config.DateColumn("Session"),
                                "title": st.column_config.TextColumn("Alert", width="large"),
                                "webhook": "Webhook", "email": "E-mail",
                                "attempts": st.column_config.NumberColumn("Attempts"),
                                "last_error": st.column_config.TextColumn("Last error", width="medium")})


def _message(events: pd.DataFrame) -> None:
    key = st.selectbox("Message of", list(events["event_key"]), key="notifications_event",
                       format_func=lambda k: str(events.loc[events["event_key"] == k, "title"].iloc[0]))
    row = events.loc[events["event_key"] == key].iloc[0]
    st.code(row["message"], language=None, wrap_lines=True)
    if isinstance(row["run_id"], str):
        st.caption(f"Dagster run `{row['run_id']}`")


def render() -> None:
    st.title("Notifications")
    ctx = context.current()
    if not notices.warehouse_ready(ctx):
        return
    try:
        filters = _filters(ctx)
        with cache.reading(ctx.url) as wh:
            rows = notification_reads.deliveries(wh, ctx.scope, kinds=[filters["kind"]] if filters["kind"] else None,
                                                 account_id=filters["account_id"])
    except WarehouseLockedError:
        notices.busy()
        return
    except sa.exc.OperationalError as exc:
        st.error(f"Cannot read the warehouse: {md(str(getattr(exc, 'orig', exc)).splitlines()[0])}",
                 icon=":material/error:")
        return
    events = notification_reads.events(rows)
    if filters["symphony_id"] is not None and len(events):
        events = events[events["symphony_id"] == filters["symphony_id"]].reset_index(drop=True)
    st.caption("Alerts go to the webhook and e-mail channels set by `ORAGAMI_ALERT_*` (see `docs/alerts.md`); each "
               "event is delivered once per channel" + (" — every account and platform-wide events (failed runs)"
                                                        if ctx.scope.is_all else f" — account(s) {ctx.scope}"))
    _headline(events)
    if events.empty:
        st.info("No alert in view.", icon=":material/notifications_off:")
        return
    _table(events, filters["labels"])
    _message(events)


render()
