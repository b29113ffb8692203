"""Reads for the Admin page: users (no hashes) and accounts with their risk gates, within a scope.

The Admin page is an admin's (scope :meth:`~warehouse.AccountScope.all`); the scope is still required, like every
read here: a narrower scope returns only the users that belong to its accounts and only its accounts.
"""
from __future__ import annotations

import pandas as pd

from warehouse import AccountScope, Warehouse
from warehouse.repos import users as user_repo
from warehouse.scope import require_scope


def users_table(wh: Warehouse, scope: AccountScope) -> pd.DataFrame:
    """Users in ``scope``: columns of :func:`warehouse.repos.users.list_users` (``username, role, accounts,
    disabled, must_change_password, is_demo, created_at``). With a scope of some accounts, only analysts with a
    membership among them.

    Raises:
        TypeError: ``scope`` is not an :class:`~warehouse.AccountScope`.
    """
    require_scope(scope)
    frame = user_repo.list_users(wh)
    if scope.is_all:
        return frame
    keep = [r == "analyst" and any(scope.allows(a.strip()) for a in str(accts).split(",") if a.strip())
            for r, accts in zip(frame["role"], frame["accounts"])]
    return frame[keep].reset_index(drop=True)


def accounts_table(wh: Warehouse, scope: AccountScope) -> pd.DataFrame:
    """Accounts in ``scope`` with their risk gates: columns of :func:`warehouse.repos.users.list_accounts`.

    Raises:
        TypeError: ``scope`` is not an :class:`~warehouse.AccountScope`.
    """
    require_scope(scope)
    frame = user_repo.list_accounts(wh)
    return frame[[scope.allows(a) for a in frame["account_id"]]].reset_index(drop=True)


__all__ = ["users_table", "accounts_table"]
