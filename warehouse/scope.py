"""Account scope: which accounts' rows a query may return — the one tenant filter of the warehouse.

Every query that returns tenant data (the tables in :data:`warehouse.schema.USER_SCOPED_TABLES`) takes an
:class:`AccountScope` argument, **required**, so "no scope" can no longer mean "every account" by accident:

* ``AccountScope.only("alice")`` — an analyst's scope (one or more accounts);
* ``AccountScope.all()`` (also :data:`ALL_ACCOUNTS`) — operators and the daily job, said explicitly.

A scope of no accounts (``AccountScope.only()``) matches nothing.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa


@dataclass(frozen=True)
class AccountScope:
    """The accounts a reader may see: ``accounts is None`` means every account (operators only)."""

    accounts: frozenset[str] | None

    @classmethod
    def all(cls) -> "AccountScope":
        """Every account: operators, the daily job and the CLI on the operator's behalf."""
        return cls(None)

    @classmethod
    def only(cls, *account_ids: str) -> "AccountScope":
        """Just these accounts (an analyst's); no ids → a scope that matches nothing."""
        return cls(frozenset(str(a) for a in account_ids))

    @classmethod
    def of(cls, account_ids: str | Iterable[str] | None) -> "AccountScope":
        """From a CLI-style value: ``None`` → :meth:`all`, one id or several → :meth:`only`."""
        if account_ids is None:
            return cls.all()
        if isinstance(account_ids, str):
            return cls.only(account_ids)
        return cls.only(*account_ids)

    @property
    def is_all(self) -> bool:
        return self.accounts is None

    def allows(self, account_id: Any) -> bool:
        """Whether rows of ``account_id`` are visible in this scope."""
        return self.accounts is None or str(account_id) in self.accounts

    def where(self, where: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A :meth:`warehouse.Warehouse.read` filter with the account restriction added (``account_id IN …``)."""
        out = dict(where or {})
        if self.accounts is not None:
            out["account_id"] = sorted(self.accounts)
        return out

    def clauses(self, column: sa.ColumnElement) -> list[sa.ColumnElement[bool]]:
        """SQL filters restricting ``column`` (an ``account_id`` column) to this scope; none for :meth:`all`."""
        if self.accounts is None:
            return []
        return [column.in_(sorted(self.accounts))]

    def __str__(self) -> str:
        return "all accounts" if self.accounts is None else ", ".join(sorted(self.accounts)) or "no account"


#: Every account, said explicitly.
ALL_ACCOUNTS = AccountScope.all()


def require_scope(scope: Any) -> AccountScope:
    """``scope`` itself, or :class:`TypeError` when a caller passed something else (``None``, a bare id)."""
    if not isinstance(scope, AccountScope):
        raise TypeError(f"an AccountScope is required (AccountScope.only(id) or AccountScope.all()), got {scope!r}")
    return scope
