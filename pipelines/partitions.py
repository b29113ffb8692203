"""The one partitions definition: NYSE sessions, America/New_York, from 2007 to the calendar's horizon.

Keys are ISO dates (``"2024-06-21"``) of real sessions from ``exchange_calendars`` (XNYS) — weekends and holidays
are not partitions, so no run can be launched for a day without a market.
"""
from __future__ import annotations

import datetime as dt

import dagster as dg

from engine.calendar import nyse

FIRST_SESSION = "2007-01-03"


def session_keys(start: str = FIRST_SESSION) -> list[str]:
    """ISO dates of every NYSE session from ``start`` to the calendar's last session."""
    cal = nyse()
    return [ts.date().isoformat() for ts in cal.sessions_in_range(start, cal.last_session)]


sessions_partitions = dg.StaticPartitionsDefinition(session_keys())


def partition_session(context) -> dt.date:
    """The session (``datetime.date``) of a partitioned asset or op context."""
    return dt.date.fromisoformat(context.partition_key)
