"""Reads of the live controls section (Symphony detail): a symphony's controls and the preview of the next run.

Every read takes the signed-in user's :class:`~warehouse.AccountScope` (required; package docstring).
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from warehouse import AccountScope, Warehouse
from warehouse.repos import controls as control_repo
from warehouse.scope import require_scope

#: Columns of :func:`history`.
HISTORY_COLUMNS: tuple[str, ...] = ("control", "status", "effective_session", "set_by", "set_role", "set_at",
                                    "origin", "note", "started_session", "consumed_session", "cleared_by",
                                    "cleared_at")


def history(wh: Warehouse, scope: AccountScope, symphony_id: str) -> pd.DataFrame:
    """Every control of ``symphony_id`` in ``scope`` (open, consumed, cleared), newest first.

    Returns:
        Columns :data:`HISTORY_COLUMNS` (sessions ``datetime.date``, ``*_at`` UTC timestamps); empty when the
        symphony is outside ``scope`` or never had one.
    """
    rows = control_repo.controls(wh, require_scope(scope), symphony_id=symphony_id, status=None)
    return rows[list(HISTORY_COLUMNS)].reset_index(drop=True)


def preview(wh: Warehouse, scope: AccountScope, account_id: str, session: dt.date,
            symphony_id: str | None = None) -> control_repo.Preview:
    """:func:`warehouse.repos.controls.preview`: the netted orders the daily run of ``session`` would send for
    ``account_id`` (with ``symphony_id``: the orders that symphony takes part in), computed by the graph's own
    planning, sent nowhere.

    Raises:
        PermissionError: ``account_id`` is outside ``scope``.
        LookupError: the symphony is not an active, traded symphony of the account.
    """
    return control_repo.preview(wh, require_scope(scope), account_id, session, symphony_id)


__all__ = ["HISTORY_COLUMNS", "history", "preview"]
