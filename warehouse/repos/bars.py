"""Market-data queries over ``daily_bars`` (shared by every account: not tenant data)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from warehouse.schema import daily_bars
from warehouse.store import Warehouse, as_list, to_python


def latest_closes(wh: Warehouse, tickers: str | Iterable[str], on_or_before: Any) -> dict[str, float]:
    """Each ticker's latest adjusted close on or before a session, in one query: ``{ticker: USD}``.

    Tickers without any bar up to that session are absent.
    """
    names = as_list(tickers)
    if not names:
        return {}
    b = daily_bars
    cutoff = to_python(b.c.session_date, on_or_before)
    latest = (sa.select(b.c.ticker, sa.func.max(b.c.session_date).label("last"))
              .where(b.c.ticker.in_(names), b.c.session_date <= cutoff, b.c.adj_close.is_not(None))
              .group_by(b.c.ticker).subquery())
    stmt = (sa.select(b.c.ticker, b.c.adj_close)
            .join(latest, sa.and_(b.c.ticker == latest.c.ticker, b.c.session_date == latest.c.last)))
    frame = wh.fetch(stmt)
    return {t: float(v) for t, v in zip(frame["ticker"], frame["adj_close"])}


def last_bar_date(wh: Warehouse, tickers: str | Iterable[str]) -> dict[str, dt.date | None]:
    """The newest ``daily_bars.session_date`` of each ticker.

    Returns:
        ``{ticker: datetime.date}``, with ``None`` for a ticker that has no bars; keys in the order given.
    """
    names = as_list(tickers)
    out: dict[str, dt.date | None] = {n: None for n in names}
    if not names:
        return out
    b = daily_bars
    stmt = (sa.select(b.c.ticker, sa.func.max(b.c.session_date).label("session_date"))
            .where(b.c.ticker.in_(names)).group_by(b.c.ticker))
    for row in wh.fetch(stmt).itertuples(index=False):
        out[row.ticker] = row.session_date
    return out
