"""Scoped reads of user tables: the tenant filter every dashboard query goes through."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from warehouse.schema import USER_SCOPED_TABLES
from warehouse.scope import AccountScope, require_scope
from warehouse.store import Warehouse


def read(wh: Warehouse, table: str, scope: AccountScope, where: Mapping[str, Any] | None = None,
         columns: Sequence[str] | None = None, order_by: str | Sequence[str] | None = None,
         limit: int | None = None) -> pd.DataFrame:
    """:meth:`Warehouse.read` of a user-scoped table restricted to ``scope``'s accounts.

    Args:
        table: one of :data:`warehouse.schema.USER_SCOPED_TABLES`.
        scope: the accounts whose rows may be returned (required; :meth:`AccountScope.all` for operators).
        where, columns, order_by, limit: as :meth:`Warehouse.read`.

    Raises:
        TypeError: ``scope`` is not an :class:`AccountScope`.
        ValueError: ``table`` has no ``account_id`` column, or as :meth:`Warehouse.read`.
    """
    require_scope(scope)
    if table not in USER_SCOPED_TABLES:
        raise ValueError(f"table '{table}' has no account_id: it is not tenant data")
    return wh.read(table, where=scope.where(where), columns=columns, order_by=order_by, limit=limit)
