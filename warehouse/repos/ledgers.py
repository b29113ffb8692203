"""The symphony ledgers as stored: target allocations, end-of-session holdings and daily NAV.

Every function takes an :class:`~warehouse.scope.AccountScope` (required): the daily job passes
:data:`~warehouse.scope.ALL_ACCOUNTS`, a dashboard page the signed-in user's scope.
"""
from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa

from warehouse.schema import positions, target_allocations
from warehouse.scope import AccountScope, require_scope
from warehouse.store import Between, Warehouse, to_python


def latest_allocations(wh: Warehouse, scope: AccountScope, as_of: Any = None) -> pd.DataFrame:
    """Each symphony's target allocation of its most recent session.

    Args:
        scope: the accounts whose symphonies are read.
        as_of: consider only sessions on or before this date; ``None``: no limit.

    Returns:
        Columns ``account_id, symphony_id, session_date, ticker, target_weight`` (fraction), the rows of the newest
        ``session_date`` of every symphony, ordered by ``symphony_id, ticker``.
    """
    ta = target_allocations
    filters = list(require_scope(scope).clauses(ta.c.account_id))
    if as_of is not None:
        filters.append(ta.c.session_date <= to_python(ta.c.session_date, as_of))
    latest = (sa.select(ta.c.symphony_id, sa.func.max(ta.c.session_date).label("latest_date"))
              .where(*filters).group_by(ta.c.symphony_id).subquery("latest"))
    stmt = (sa.select(ta.c.account_id, ta.c.symphony_id, ta.c.session_date, ta.c.ticker, ta.c.target_weight)
            .join(latest, sa.and_(ta.c.symphony_id == latest.c.symphony_id,
                                  ta.c.session_date == latest.c.latest_date))
            .where(*filters)
            .order_by(ta.c.symphony_id, ta.c.ticker))
    return wh.fetch(stmt)


def nav_history(wh: Warehouse, symphony_id: str, scope: AccountScope, start: Any = None,
                end: Any = None) -> pd.DataFrame:
    """A symphony's daily NAV series (empty when the symphony is outside ``scope``).

    Args:
        symphony_id: the symphony.
        scope: the accounts that may be read.
        start: first session (inclusive); ``None``: from the beginning.
        end: last session (inclusive); ``None``: to the latest.

    Returns:
        Columns ``account_id, symphony_id, session_date, nav_usd`` (USD), ``cash_usd`` (USD), ``daily_return``
        (fraction), ordered by ``session_date``.
    """
    where: dict[str, Any] = {"symphony_id": symphony_id}
    if start is not None or end is not None:
        where["session_date"] = Between(start, end)
    return wh.read("daily_nav", where=require_scope(scope).where(where), order_by="session_date")


def positions_on(wh: Warehouse, symphony_id: str, session_date: Any, scope: AccountScope) -> pd.DataFrame:
    """A symphony's end-of-session holdings for one session (cash is the ``'$USD'`` row).

    Returns:
        Columns ``account_id, symphony_id, session_date, ticker, qty`` (shares; dollars for cash), ``price`` (USD),
        ``market_value_usd`` (USD), ordered by ``ticker``; empty if none were stored (or outside ``scope``).
    """
    where = require_scope(scope).where({"symphony_id": symphony_id, "session_date": session_date})
    return wh.read("positions", where=where, order_by="ticker")


def last_positions_before(wh: Warehouse, symphony_id: str, session_date: Any, scope: AccountScope) -> pd.DataFrame:
    """The latest holdings snapshot strictly before ``session_date`` (the portfolio carried into it).

    Returns:
        The :func:`positions_on` columns for the newest stored session ``< session_date``; empty (with the
        columns) if there is none.
    """
    p = positions
    filters = [p.c.symphony_id == symphony_id, *require_scope(scope).clauses(p.c.account_id)]
    before = (sa.select(sa.func.max(p.c.session_date))
              .where(*filters, p.c.session_date < to_python(p.c.session_date, session_date))
              .scalar_subquery())
    stmt = sa.select(*p.columns).where(*filters, p.c.session_date == before).order_by(p.c.ticker)
    return wh.fetch(stmt)


def positions_before(wh: Warehouse, session_date: Any, scope: AccountScope) -> pd.DataFrame:
    """Every symphony's latest holdings snapshot strictly before ``session_date``, in one query.

    Returns:
        The ``positions`` columns; for each symphony only the rows of its newest stored session ``< session_date``
        (symphonies without one are absent).
    """
    p = positions
    cutoff = to_python(p.c.session_date, session_date)
    filters = [p.c.session_date < cutoff, *require_scope(scope).clauses(p.c.account_id)]
    latest = (sa.select(p.c.symphony_id, sa.func.max(p.c.session_date).label("last"))
              .where(*filters).group_by(p.c.symphony_id).subquery())
    stmt = (sa.select(*p.columns)
            .join(latest, sa.and_(p.c.symphony_id == latest.c.symphony_id, p.c.session_date == latest.c.last))
            .order_by(p.c.symphony_id, p.c.ticker))
    return wh.fetch(stmt)
