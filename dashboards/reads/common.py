"""Reads every page needs: the accounts, the symphonies and the latest session in scope.

Every function takes the signed-in user's :class:`~warehouse.AccountScope` (required; package docstring).
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable

import pandas as pd

from warehouse import AccountScope, Warehouse
from warehouse.repos import tenant
from warehouse.scope import require_scope

#: Tables whose newest ``session_date`` makes the latest session (the daily graph writes them).
SESSION_TABLES: tuple[str, ...] = ("symphony_runs", "target_allocations", "daily_nav")
#: Columns of :func:`symphonies`.
SYMPHONY_COLUMNS: tuple[str, ...] = ("symphony_id", "name", "label", "account_id", "account_name", "status",
                                     "rebalance", "capital_usd")


def display_labels(symphonies: pd.DataFrame) -> dict[str, str]:
    """``{symphony_id: label}``: the symphony's name, followed by its id when the name is missing or shared.

    Args:
        symphonies: rows with ``symphony_id`` and ``name`` (already scoped: labels only compare names in view).
    """
    if symphonies.empty:
        return {}
    names = symphonies["name"].where(symphonies["name"].notna() & (symphonies["name"].astype(str) != ""), None)
    counts = names.value_counts()
    out = {}
    for sid, name in zip(symphonies["symphony_id"], names):
        if name is None or (isinstance(name, float) and math.isnan(name)):
            out[sid] = sid
        elif counts.get(name, 0) > 1:
            out[sid] = f"{name} ({sid})"
        else:
            out[sid] = str(name)
    return out


def _latest_date(wh: Warehouse, table: str, scope: AccountScope) -> dt.date | None:
    newest = tenant.read(wh, table, scope, columns=["session_date"], order_by="-session_date", limit=1)
    return None if newest.empty else newest["session_date"].iloc[0]


def latest_session(wh: Warehouse, scope: AccountScope) -> dt.date | None:
    """The newest session the daily graph wrote for ``scope`` (max ``session_date`` of :data:`SESSION_TABLES`),
    or ``None`` if none."""
    require_scope(scope)
    dates = [d for d in (_latest_date(wh, t, scope) for t in SESSION_TABLES) if d is not None]
    return max(dates) if dates else None


def accounts(wh: Warehouse, scope: AccountScope) -> pd.DataFrame:
    """The accounts in scope: columns ``account_id, name``, ordered by ``account_id``."""
    return tenant.read(wh, "accounts", scope, columns=["account_id", "name"], order_by="account_id")


def symphonies(wh: Warehouse, scope: AccountScope) -> pd.DataFrame:
    """The symphonies in scope with their account's name, active ones first.

    Returns:
        Columns :data:`SYMPHONY_COLUMNS`: ``symphony_id, name, label`` (:func:`display_labels`), ``account_id,
        account_name, status`` (``active|inactive``), ``rebalance``, ``capital_usd`` (USD, NaN when not stored).
        Ordered by status (active first), account, label (case-insensitive), id.
    """
    syms = tenant.read(wh, "symphonies", scope,
                       columns=["symphony_id", "account_id", "name", "status", "rebalance", "capital_usd"])
    accts = accounts(wh, scope).rename(columns={"name": "account_name"})
    out = syms.merge(accts, on="account_id", how="left")
    out["label"] = out["symphony_id"].map(display_labels(out)).astype("str")
    out = out.assign(_inactive=out["status"] != "active", _name=out["label"].str.lower())
    out = out.sort_values(["_inactive", "account_id", "_name", "symphony_id"], na_position="last")
    return out[list(SYMPHONY_COLUMNS)].reset_index(drop=True)


def symphony_record(wh: Warehouse, scope: AccountScope, symphony_id: str) -> dict | None:
    """One stored symphony (every ``symphonies`` column) if it exists in ``scope``, else ``None``."""
    rows = tenant.read(wh, "symphonies", scope, where={"symphony_id": symphony_id}, limit=1)
    return None if rows.empty else rows.iloc[0].to_dict()


def symphony_model_json(wh: Warehouse, scope: AccountScope, symphony_id: str) -> str | None:
    """The stored parsed model (``symphonies.parsed_json``) of a symphony in scope, or ``None`` when absent."""
    row = tenant.read(wh, "symphonies", scope, where={"symphony_id": symphony_id}, columns=["parsed_json"])
    if row.empty or not isinstance(row["parsed_json"].iloc[0], str) or not row["parsed_json"].iloc[0]:
        return None
    return str(row["parsed_json"].iloc[0])


def paper_nav(wh: Warehouse, scope: AccountScope, symphony_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """Paper NAV history (``daily_nav``) of every symphony in scope, or of ``symphony_ids`` (those in scope).

    Returns:
        Columns ``account_id, symphony_id, session_date, nav_usd, cash_usd`` (USD), ``daily_return``
        (fraction), ordered by ``symphony_id, session_date``.
    """
    where = None if symphony_ids is None else {"symphony_id": list(symphony_ids)}
    return tenant.read(wh, "daily_nav", scope, where=where, order_by=["symphony_id", "session_date"])


__all__ = ["SESSION_TABLES", "SYMPHONY_COLUMNS", "display_labels", "latest_session", "accounts", "symphonies",
           "symphony_record", "symphony_model_json", "paper_nav"]
