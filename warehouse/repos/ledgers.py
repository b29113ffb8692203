"""The symphony ledgers as stored: target allocations, end-of-session holdings and daily NAV.

:class:`SessionBook` reads what the trading assets need about one session (prices, carried ledgers, last NAVs);
:func:`stored_violations` checks the stored ledgers against :mod:`engine.ledger`'s invariant.

Every function takes an :class:`~warehouse.scope.AccountScope` (required): the daily job passes
:data:`~warehouse.scope.ALL_ACCOUNTS`, a dashboard page the signed-in user's scope.
"""
from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa

from engine.ledger import Ledger, violations
from warehouse.schema import CASH_TICKER, DEFAULT_CAPITAL_USD, positions, target_allocations
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


class SessionBook:
    """What the trading assets read about one session, in a few batched queries (not one per symphony).

    * prices: each ticker's latest adjusted close on or before the session (the live-price proxy offline; the
      live price itself once ``daily_bars`` stored one), USD;
    * ledgers: every symphony's holdings snapshot carried into the session (``positions`` of its newest earlier
      session) as an :class:`engine.ledger.Ledger`, or its starting capital in cash if it never traded;
    * NAVs: every symphony's last NAV before the session, USD.

    Reads every account (the daily job's :data:`~warehouse.scope.ALL_ACCOUNTS`).
    """

    def __init__(self, wh: Warehouse, session: Any) -> None:
        from warehouse.scope import ALL_ACCOUNTS

        self.wh = wh
        self.session = session
        self._prices: dict[str, float] = {}
        self._asked: set[str] = set()
        before = positions_before(wh, session, ALL_ACCOUNTS)
        self._ledgers = {sid: g for sid, g in before.groupby("symphony_id")}
        self._navs: dict[str, float] | None = None

    def prices(self, tickers) -> dict[str, float]:
        """``{ticker: USD}`` for the tickers that have a close on or before the session (others absent)."""
        from warehouse.repos import bars as bar_repo

        tickers = list(tickers)
        want = [t for t in set(tickers) if t not in self._asked]
        if want:
            self._prices.update(bar_repo.latest_closes(self.wh, sorted(want), self.session))
            self._asked.update(want)
        return {t: self._prices[t] for t in tickers if t in self._prices}

    def book(self, row: dict) -> tuple[Ledger, bool]:
        """``(ledger carried into the session, has traded before)`` of a symphony row (``capital_usd`` default
        :data:`~warehouse.schema.DEFAULT_CAPITAL_USD` when it never traded)."""
        prev = self._ledgers.get(row["symphony_id"])
        if prev is None or prev.empty:
            capital = row.get("capital_usd")
            return Ledger({}, float(capital) if capital is not None and capital == capital and capital
                          else DEFAULT_CAPITAL_USD), False
        holdings = {r["ticker"]: float(r["qty"]) for r in prev.to_dict("records") if r["ticker"] != CASH_TICKER}
        cash_rows = prev.loc[prev["ticker"] == CASH_TICKER, "qty"]
        return Ledger(holdings, float(cash_rows.iloc[0]) if len(cash_rows) else 0.0), True

    def ledger(self, row: dict) -> tuple[dict[str, float], float, bool]:
        """``(shares per ticker, cash USD, has traded before)`` — :meth:`book` unpacked."""
        led, traded = self.book(row)
        return dict(led.holdings), led.cash, traded

    def nav_before(self, symphony_id: str) -> float | None:
        """The symphony's NAV at its last session before this one, USD (None if it has none)."""
        if self._navs is None:
            from engine.calendar import previous_session

            navs = self.wh.read("daily_nav", where={"session_date": Between(None, previous_session(self.session))},
                                columns=["symphony_id", "session_date", "nav_usd"])
            navs = navs.sort_values(["symphony_id", "session_date"]).groupby("symphony_id").tail(1)
            self._navs = dict(zip(navs["symphony_id"], navs["nav_usd"].astype(float)))
        return self._navs.get(symphony_id)


def position_rows(account_id: str, symphony_id: str, session: Any, ledger: Ledger,
                  prices: dict[str, float]) -> list[dict]:
    """A ledger as ``positions`` rows: one per holding (``market_value_usd = qty·price``) and the cash row."""
    out = [{"account_id": account_id, "symphony_id": symphony_id, "session_date": session, "ticker": t, "qty": q,
            "price": prices[t], "market_value_usd": q * prices[t]} for t, q in sorted(ledger.holdings.items())]
    out.append({"account_id": account_id, "symphony_id": symphony_id, "session_date": session, "ticker": CASH_TICKER,
                "qty": ledger.cash, "price": 1.0, "market_value_usd": ledger.cash})
    return out


def stored_violations(wh: Warehouse, session: Any, scope: AccountScope) -> list[str]:
    """Every stored ledger of ``session`` that breaks :func:`engine.ledger.violations` (negative shares, or cash
    below −1 cent), in words; empty when all hold."""
    pos = wh.read("positions", where=require_scope(scope).where({"session_date": session}))
    out: list[str] = []
    for sid, g in pos.groupby("symphony_id", sort=True):
        holdings = {r["ticker"]: float(r["qty"]) for r in g.to_dict("records") if r["ticker"] != CASH_TICKER}
        cash = float(g.loc[g["ticker"] == CASH_TICKER, "qty"].sum())
        out.extend(violations(str(sid), Ledger(holdings, cash)))
    return out
