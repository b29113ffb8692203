"""NYSE sessions and the trading time, from ``exchange_calendars`` (offline, calendar ``XNYS``).

A *session* is a trading day (a ``datetime.date`` in America/New_York). The *trading time* of a session is ten
minutes before its close: 15:50 New York on a normal day, 12:50 on an early-close day (composer_format.md §5.3,
"Default deploy time 10 minutes before market close"). All times returned are tz-aware America/New_York.
"""
from __future__ import annotations

import datetime as dt
from functools import lru_cache

import pandas as pd

NEW_YORK = "America/New_York"
TRADE_LEAD = dt.timedelta(minutes=10)
CALENDAR_START = "2005-01-03"


@lru_cache(maxsize=1)
def nyse():
    """The ``exchange_calendars`` XNYS calendar, from 2005 to the library's default horizon (about a year ahead)."""
    import exchange_calendars as xcals

    return xcals.get_calendar("XNYS", start=CALENDAR_START)


def _date(d) -> dt.date:
    return pd.Timestamp(d).date()


def is_session(d) -> bool:
    """True if ``d`` (date-like) is an NYSE trading day."""
    return bool(nyse().is_session(pd.Timestamp(_date(d))))


def sessions_in_range(start, end) -> list[dt.date]:
    """NYSE sessions from ``start`` to ``end`` inclusive, ascending."""
    return [ts.date() for ts in nyse().sessions_in_range(pd.Timestamp(_date(start)), pd.Timestamp(_date(end)))]


def session_close(d) -> pd.Timestamp:
    """Close time of session ``d`` in America/New_York (16:00, or 13:00 on early-close days)."""
    return nyse().session_close(pd.Timestamp(_date(d))).tz_convert(NEW_YORK)


def is_early_close(d) -> bool:
    """True when session ``d`` closes before 16:00 New York."""
    close = session_close(d)
    return (close.hour, close.minute) < (16, 0)


def trading_time(d) -> pd.Timestamp:
    """When the platform trades on session ``d``: close − 10 minutes, America/New_York."""
    return session_close(d) - TRADE_LEAD


def previous_session(d) -> dt.date:
    """The session before ``d`` (``d`` need not be a session)."""
    return nyse().date_to_session(pd.Timestamp(_date(d)), direction="previous").date() if not is_session(d) \
        else nyse().previous_session(pd.Timestamp(_date(d))).date()
