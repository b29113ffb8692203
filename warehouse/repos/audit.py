"""The audit trail: one append-only table (:data:`warehouse.schema.audit_log`) of who did what, when, from where.

:func:`record` is the only writer; nothing updates or deletes audit rows. Readers go through :func:`read`, which
takes an :class:`warehouse.scope.AccountScope` like every tenant read: an analyst's scope returns only the rows
of their account(s) (platform-wide rows, whose ``account_id`` is NULL, are operator/admin reading only).

Never put a secret in ``detail`` (keys, tokens, passwords): :func:`record` refuses text that looks like one of the
values in :data:`SECRET_ENV_VARS` currently set in the environment, as a last line of defence.
"""
from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterable

import pandas as pd
import sqlalchemy as sa

from warehouse.schema import audit_log
from warehouse.scope import AccountScope, require_scope
from warehouse.store import Warehouse

#: The actions the platform records (``audit_log.action``). Free text is refused so that filters stay exact.
ACTIONS: tuple[str, ...] = (
    "sign_in_ok", "sign_in_failed", "sign_in_locked", "sign_out",
    "user_created", "user_changed", "user_disabled", "password_reset", "password_changed",
    "account_created", "account_changed", "account_disabled", "risk_gate_changed",
    "symphony_uploaded", "symphony_activated", "symphony_deactivated", "symphony_changed",
    "live_control_set", "live_control_cleared",
    "broker_connected", "broker_disconnected", "broker_verified", "key_rotated",
    "order_batch_submitted", "kill_switch_tripped", "symphony_liquidated", "run_failed",
)

#: Environment variables whose values must never reach the audit trail.
SECRET_ENV_VARS: tuple[str, ...] = (
    "ORAGAMI_MASTER_KEY", "ORAGAMI_NEW_MASTER_KEY", "ORAGAMI_ALPACA_OAUTH_CLIENT_SECRET", "ALPACA_API_KEY",
    "ALPACA_SECRET_KEY", "EODHD_API_KEY", "ORAGAMI_ALERT_SMTP_PASSWORD", "ORAGAMI_ALERT_WEBHOOK_URL")

#: Longest ``detail`` kept, characters (longer text is cut with an ellipsis).
MAX_DETAIL_CHARS = 2_000


def _secrets() -> list[str]:
    values = [os.environ.get(name, "") for name in SECRET_ENV_VARS]
    values += [v for k, v in os.environ.items() if k.startswith(("ALPACA_API_KEY_", "ALPACA_SECRET_KEY_"))]
    return [v for v in values if len(v) >= 8]


def record(wh: Warehouse, *, action: str, actor: str | None, role: str | None = None,
           account_id: str | None = None, target: str | None = None, origin: str | None = None,
           detail: str = "", at: dt.datetime | None = None) -> str:
    """Append one audit event and return its ``event_id``.

    Args:
        action: one of :data:`ACTIONS`.
        actor: the username (``'system'`` for the scheduled job).
        role: the actor's role at the time.
        account_id: the account concerned (``None``: platform-wide, e.g. a user change by an admin).
        target: what the action was applied to (symphony id, username, ...).
        origin: ``'dashboard'``, ``'cli'``, ``'dagster'`` or a client address.
        detail: a short human-readable detail (cut to :data:`MAX_DETAIL_CHARS`).
        at: when (UTC); default now.

    Raises:
        ValueError: unknown ``action``, or ``detail``/``target`` contains a configured secret value.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; expected one of {', '.join(ACTIONS)}")
    detail = str(detail or "")
    if len(detail) > MAX_DETAIL_CHARS:
        detail = detail[:MAX_DETAIL_CHARS - 1] + "…"
    for secret in _secrets():
        if secret in detail or (target and secret in target):
            raise ValueError(f"audit {action}: the detail contains a secret value; not recorded")
    event_id = uuid.uuid4().hex
    row = {"event_id": event_id, "occurred_at": at or dt.datetime.now(dt.timezone.utc), "actor": actor,
           "role": role, "account_id": account_id, "action": action, "target": target, "origin": origin, "detail": detail}
    with wh.begin() as conn:
        conn.execute(audit_log.insert().values(**row))
    return event_id


def read(wh: Warehouse, scope: AccountScope, *, actions: Iterable[str] | None = None,
         actor: str | None = None, since: dt.datetime | None = None, until: dt.datetime | None = None,
         limit: int | None = 10_000) -> pd.DataFrame:
    """Audit events in ``scope``, newest first.

    Returns:
        Columns of :data:`warehouse.schema.audit_log` (``occurred_at`` a UTC timestamp). With a scope of some
        accounts, only their rows (NULL-account rows excluded); with :meth:`AccountScope.all`, every row.

    Raises:
        TypeError: ``scope`` is not an :class:`AccountScope`.
    """
    require_scope(scope)
    t = audit_log
    stmt = sa.select(*t.c).where(*scope.clauses(t.c.account_id))
    if actions:
        stmt = stmt.where(t.c.action.in_(list(actions)))
    if actor:
        stmt = stmt.where(t.c.actor == actor)
    if since is not None:
        stmt = stmt.where(t.c.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(t.c.occurred_at < until)
    stmt = stmt.order_by(t.c.occurred_at.desc(), t.c.event_id)
    if limit is not None:
        stmt = stmt.limit(int(limit))
    return wh.fetch(stmt)


__all__ = ["ACTIONS", "SECRET_ENV_VARS", "MAX_DETAIL_CHARS", "record", "read"]
