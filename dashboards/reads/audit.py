"""Reads of the audit trail for the Audit log page: events in the user's scope, filtered; the CSV export.

Operators and admins read with :meth:`~warehouse.AccountScope.all` (every event, platform-wide ones included);
an analyst's scope returns only their accounts' events (:func:`warehouse.repos.audit.read`).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd

from warehouse import AccountScope, Warehouse
from warehouse.repos import audit
from warehouse.scope import require_scope

#: Columns of :func:`audit_events`, in display order.
EVENT_COLUMNS: tuple[str, ...] = ("occurred_at", "actor", "role", "account_id", "action", "target", "origin",
                                  "detail")
#: Most events one read returns (newest first).
MAX_EVENTS = 5_000


def _utc_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=dt.timezone.utc)


def audit_events(wh: Warehouse, scope: AccountScope, *, actions: Iterable[str] | None = None,
                 actor: str | None = None, account_id: str | None = None, start: dt.date | None = None,
                 end: dt.date | None = None, limit: int = MAX_EVENTS) -> pd.DataFrame:
    """Audit events in ``scope``, newest first.

    Args:
        actions: only these actions (:data:`warehouse.repos.audit.ACTIONS`); ``None``/empty: every action.
        actor: only this username (exact).
        account_id: only this account (an account outside ``scope`` gives no rows).
        start, end: UTC calendar days, both inclusive (``None``: open).
        limit: at most this many rows.

    Returns:
        Columns :data:`EVENT_COLUMNS` (``occurred_at`` a UTC timestamp).

    Raises:
        TypeError: ``scope`` is not an :class:`~warehouse.AccountScope`.
    """
    require_scope(scope)
    if account_id:
        scope = AccountScope.only(account_id) if scope.allows(account_id) else AccountScope.only()
    frame = audit.read(wh, scope, actions=list(actions or []) or None, actor=actor or None,
                       since=_utc_midnight(start) if start else None,
                       until=_utc_midnight(end + dt.timedelta(days=1)) if end else None, limit=limit)
    return frame[list(EVENT_COLUMNS)].reset_index(drop=True)


def to_csv(events: pd.DataFrame) -> bytes:
    """``events`` as UTF-8 CSV bytes (ISO-8601 UTC times, header row), for the export button."""
    out = events.copy()
    if "occurred_at" in out.columns:
        out["occurred_at"] = pd.to_datetime(out["occurred_at"], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    return out.to_csv(index=False).encode("utf-8")


__all__ = ["EVENT_COLUMNS", "MAX_EVENTS", "audit_events", "to_csv"]
