"""Reads of the Notifications page: alert events and their delivery per channel.

Every read takes the signed-in user's :class:`~warehouse.AccountScope` (required; package docstring). Platform-wide
events (a failed run: ``account_id`` NULL) are in :meth:`AccountScope.all` only — an analyst, or an operator who
picked one account, sees that account's events.
"""
from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import sqlalchemy as sa

from warehouse import AccountScope, Warehouse
from warehouse.repos import notifications as notification_repo
from warehouse.schema import NOTIFICATION_CHANNELS, notifications
from warehouse.scope import require_scope

#: Columns of :func:`events`, one row per event.
EVENT_COLUMNS: tuple[str, ...] = ("event_key", "created_at", "kind", "account_id", "symphony_id", "session_date",
                                  "run_id", "title", "message", "webhook", "email", "attempts", "last_error")
#: Rows read at most (newest first).
MAX_ROWS = 5_000


def deliveries(wh: Warehouse, scope: AccountScope, kinds: Iterable[str] | None = None,
               account_id: str | None = None) -> pd.DataFrame:
    """One row per event and channel (:data:`warehouse.schema.notifications` columns), newest first; no rows
    when the warehouse predates the table (the dashboard reads read-only and never creates it)."""
    require_scope(scope)
    with wh.connect() as conn:
        if "notifications" not in sa.inspect(conn).get_table_names():
            return pd.DataFrame(columns=[c.name for c in notifications.columns])
    return notification_repo.read(wh, require_scope(scope), kinds=list(kinds or []) or None, account_id=account_id,
                                  limit=MAX_ROWS)


def events(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` of :func:`deliveries` folded to one row per event (:data:`EVENT_COLUMNS`).

    ``webhook`` / ``email``: that channel's status (``sent``, ``failed``, ``sending``), ``"—"`` when the event was
    not for that channel; both ``"not configured"`` when it was only recorded (channel ``'none'``). ``attempts``:
    the sum over channels; ``last_error``: ``"<channel>: <error>"`` of the channels that have one. ``created_at``:
    the first claim.
    """
    if rows.empty:
        return pd.DataFrame(columns=list(EVENT_COLUMNS))
    out = []
    for key, g in rows.groupby("event_key", sort=False):
        first = g.sort_values("created_at").iloc[0]
        status = dict(zip(g["channel"], g["status"]))
        unconfigured = set(status) == {"none"}
        errors = [f"{r['channel']}: {r['last_error']}" for r in g.to_dict("records")
                  if isinstance(r["last_error"], str) and r["last_error"]]
        row = {c: first[c] for c in ("created_at", "kind", "account_id", "symphony_id", "session_date", "run_id",
                                     "title", "message")}
        row.update(event_key=key, attempts=int(g["attempts"].sum()), last_error="; ".join(errors) or None,
                   **{ch: ("not configured" if unconfigured else status.get(ch, "—"))
                      for ch in NOTIFICATION_CHANNELS if ch != "none"})
        out.append(row)
    return pd.DataFrame(out, columns=list(EVENT_COLUMNS)).sort_values("created_at", ascending=False,
                                                                      ignore_index=True)


__all__ = ["EVENT_COLUMNS", "MAX_ROWS", "deliveries", "events"]
