"""Alert events and their delivery: :data:`warehouse.schema.notifications`, one row per event and channel.

Delivery is *once per channel* because of the table's key ``(event_key, channel)``: a sender first
:func:`claim`\\ s the pair (inserting it ``sending``), delivers only if the claim was new, then :func:`finish`\\ es
it (``sent`` or ``failed``, with the attempts made and the last error). A sensor that evaluates the same run twice,
or two sensors that see the same event, find the pair claimed and send nothing. A row left ``sending`` means the
sender stopped between claim and answer (the delivery may or may not have happened); it is shown, never resent.

``account_id`` is NULL for platform-wide events (a failed run): like the audit trail, an analyst's scope never
returns those rows, :meth:`AccountScope.all` does. Messages and errors must not hold secrets: :func:`finish` and
:func:`claim` take text already redacted by the sender, and refuse text containing a configured secret value
(:data:`warehouse.repos.audit.SECRET_ENV_VARS` and the alert channel secrets named in :data:`ALERT_SECRET_ENV_VARS`).
"""
from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
import sqlalchemy as sa

from warehouse.repos.audit import SECRET_ENV_VARS
from warehouse.schema import NOTIFICATION_CHANNELS, NOTIFICATION_KINDS, NOTIFICATION_STATUSES, notifications
from warehouse.scope import AccountScope, require_scope
from warehouse.store import Warehouse

#: Environment variables of the alert channels whose values must never be stored.
ALERT_SECRET_ENV_VARS: tuple[str, ...] = ("ORAGAMI_ALERT_WEBHOOK_URL", "ORAGAMI_ALERT_SMTP_PASSWORD")
#: Longest ``message`` / ``last_error`` kept, characters (longer text is cut with an ellipsis).
MAX_TEXT_CHARS = 4_000
#: Columns of the event itself (the rest are delivery state).
EVENT_COLUMNS: tuple[str, ...] = ("event_key", "kind", "account_id", "symphony_id", "session_date", "run_id",
                                  "title", "message")


def secret_values() -> list[str]:
    """The values (8+ characters) of the secret environment variables set now: never to be stored."""
    values = [os.environ.get(n, "") for n in (*SECRET_ENV_VARS, *ALERT_SECRET_ENV_VARS)]
    values += [v for k, v in os.environ.items() if k.startswith(("ALPACA_API_KEY_", "ALPACA_SECRET_KEY_"))]
    return [v for v in values if len(v) >= 8]


def _clean(text: Any, what: str) -> str | None:
    if text is None:
        return None
    text = str(text)
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS - 1] + "…"
    for secret in secret_values():
        if secret in text:
            raise ValueError(f"notification {what} contains a secret value; not recorded")
    return text


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def claim(wh: Warehouse, event: Mapping[str, Any], channel: str, *, status: str = "sending",
          at: dt.datetime | None = None) -> bool:
    """Insert the ``(event_key, channel)`` row unless it exists; True when this call inserted it (deliver now).

    Args:
        event: the :data:`EVENT_COLUMNS` (``event_key``, ``kind``, ``title``, ``message`` required; the others
            may be missing or None).
        channel: one of :data:`warehouse.schema.NOTIFICATION_CHANNELS`.
        status: ``'sending'`` (a delivery follows) or ``'recorded'`` (no channel configured: nothing follows).
        at: the claim time (UTC); default now.

    Raises:
        ValueError: unknown kind, channel or status; a missing required field; text holding a secret value.
    """
    if event.get("kind") not in NOTIFICATION_KINDS:
        raise ValueError(f"unknown notification kind {event.get('kind')!r}; expected one of "
                         f"{', '.join(NOTIFICATION_KINDS)}")
    if channel not in NOTIFICATION_CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; expected one of {', '.join(NOTIFICATION_CHANNELS)}")
    if status not in ("sending", "recorded"):
        raise ValueError(f"a claim is 'sending' or 'recorded', not {status!r}")
    for field in ("event_key", "title", "message"):
        if not event.get(field):
            raise ValueError(f"notification without {field}")
    row = {c: event.get(c) for c in EVENT_COLUMNS}
    row.update(title=_clean(row["title"], "title"), message=_clean(row["message"], "message"), channel=channel,
               status=status, attempts=0, last_error=None, created_at=at or _now(), sent_at=None)
    t = notifications
    with wh.begin() as conn:
        exists = conn.execute(sa.select(sa.func.count()).select_from(t).where(
            t.c.event_key == row["event_key"], t.c.channel == channel)).scalar_one()
        if exists:
            return False
        conn.execute(t.insert().values(**row))
    return True


def finish(wh: Warehouse, event_key: str, channel: str, *, status: str, attempts: int,
           last_error: str | None = None, at: dt.datetime | None = None) -> None:
    """Record the outcome of a claimed delivery.

    Args:
        status: ``'sent'`` or ``'failed'``.
        attempts: delivery attempts made (>= 1).
        last_error: the last error, already redacted (kept also after a later success: None clears it).
        at: when the channel accepted it (``'sent'`` only); default now.

    Raises:
        ValueError: unknown status, or ``last_error`` holds a secret value.
        KeyError: the pair was never claimed.
    """
    if status not in ("sent", "failed"):
        raise ValueError(f"a delivery ends 'sent' or 'failed', not {status!r}")
    t = notifications
    values = {"status": status, "attempts": int(attempts), "last_error": _clean(last_error, "error"),
              "sent_at": (at or _now()) if status == "sent" else None}
    with wh.begin() as conn:
        n = conn.execute(sa.update(t).where(t.c.event_key == event_key, t.c.channel == channel)
                         .values(**values)).rowcount
    if not n:
        raise KeyError(f"notification {event_key!r} on {channel!r} was never claimed")


def statuses(wh: Warehouse, event_key: str) -> dict[str, str]:
    """``{channel: status}`` of one event (empty when it was never recorded)."""
    t = notifications
    df = wh.fetch(sa.select(t.c.channel, t.c.status).where(t.c.event_key == event_key))
    return dict(zip(df["channel"], df["status"]))


def read(wh: Warehouse, scope: AccountScope, *, kinds: Iterable[str] | None = None,
         account_id: str | None = None, statuses_in: Iterable[str] | None = None,
         since: dt.datetime | None = None, limit: int | None = 5_000) -> pd.DataFrame:
    """Notifications in ``scope``, newest first (then by key and channel).

    Args:
        kinds: only these kinds; account_id: only this account (within the scope);
        statuses_in: only these statuses (:data:`warehouse.schema.NOTIFICATION_STATUSES`);
        since: only rows created at or after this instant; limit: at most this many rows.

    Returns:
        The :data:`warehouse.schema.notifications` columns. An analyst's scope returns only its accounts' rows
        (platform-wide NULL-account rows excluded); :meth:`AccountScope.all` returns every row.

    Raises:
        TypeError: ``scope`` is not an :class:`AccountScope`.
        ValueError: an unknown status in ``statuses_in``.
    """
    require_scope(scope)
    t = notifications
    stmt = sa.select(*t.c).where(*scope.clauses(t.c.account_id))
    if kinds:
        stmt = stmt.where(t.c.kind.in_(list(kinds)))
    if account_id is not None:
        stmt = stmt.where(t.c.account_id == account_id)
    if statuses_in:
        wanted = list(statuses_in)
        bad = sorted(set(wanted) - set(NOTIFICATION_STATUSES))
        if bad:
            raise ValueError(f"unknown notification status(es) {', '.join(bad)}")
        stmt = stmt.where(t.c.status.in_(wanted))
    if since is not None:
        stmt = stmt.where(t.c.created_at >= since)
    stmt = stmt.order_by(t.c.created_at.desc(), t.c.event_key, t.c.channel)
    if limit is not None:
        stmt = stmt.limit(int(limit))
    return wh.fetch(stmt)


__all__ = ["ALERT_SECRET_ENV_VARS", "MAX_TEXT_CHARS", "EVENT_COLUMNS", "secret_values", "claim", "finish", "statuses", "read"]
