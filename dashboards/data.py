"""Cached reads of the warehouse for the Streamlit pages (style guide §3.4, §5.6).

Every function takes the warehouse URL (:func:`warehouse_url`) as its first argument, so the URL is part of the
cache key, and opens a **read-only** warehouse for the duration of the call only: on DuckDB each query opens the
file ``read_only=True`` and closes it at once, retrying with a bounded backoff while Dagster holds the write lock
(:func:`warehouse.open_read_only`); nothing keeps a connection between reruns, so Dagster can keep writing.
No connection or :class:`~warehouse.Warehouse` is ever cached; only the plain DataFrames are (``st.cache_data``,
bounded by ``ttl`` and ``max_entries``).

The logic lives in :mod:`dashboards.queries` (no Streamlit, unit-tested); this module only adds caching.
"""
from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

import pandas as pd
import streamlit as st

from dashboards import queries
from warehouse import Warehouse, open_read_only

#: Seconds a cached read is reused before the warehouse is read again.
CACHE_TTL_S = 60
#: Cached results kept per function (one per warehouse URL, or per URL and session).
CACHE_MAX_ENTRIES = 8
#: The warehouse state is re-checked sooner, so that `make demo` shows up quickly.
STATE_TTL_S = 10


def warehouse_url() -> str:
    """The configured warehouse URL (env ``ORAGAMI_WAREHOUSE_URL`` / ``ORAGAMI_DUCKDB_PATH``), read now.

    Contains the password if any: pass it to the functions below, display :func:`queries.safe_url` instead.
    """
    return queries.settings_url()


@contextlib.contextmanager
def _reading(url: str) -> Iterator[Warehouse]:
    wh = open_read_only(url)
    try:
        yield wh
    finally:
        wh.dispose()


@st.cache_data(ttl=STATE_TTL_S, max_entries=CACHE_MAX_ENTRIES, show_spinner=False)
def warehouse_state(url: str) -> str:
    """``"missing"`` (no DuckDB file), ``"no_schema"`` (tables not created) or ``"ok"``."""
    return queries.warehouse_state(url)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_MAX_ENTRIES, show_spinner=False)
def latest_session(url: str) -> dt.date | None:
    """The newest session written by the daily graph, or ``None``."""
    with _reading(url) as wh:
        return queries.latest_session(wh)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_MAX_ENTRIES, show_spinner=False)
def accounts(url: str) -> pd.DataFrame:
    """:func:`queries.accounts`."""
    with _reading(url) as wh:
        return queries.accounts(wh)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_MAX_ENTRIES, show_spinner=False)
def symphonies(url: str) -> pd.DataFrame:
    """:func:`queries.symphonies`: every symphony with account, status and rebalance."""
    with _reading(url) as wh:
        return queries.symphonies(wh)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_MAX_ENTRIES, show_spinner=False)
def latest_allocations(url: str) -> pd.DataFrame:
    """:func:`queries.latest_allocations`: each symphony's newest target weights."""
    with _reading(url) as wh:
        return queries.latest_allocations(wh)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_MAX_ENTRIES, show_spinner=False)
def paper_nav(url: str) -> pd.DataFrame:
    """:func:`queries.paper_nav` of every symphony (``daily_nav``)."""
    with _reading(url) as wh:
        return queries.paper_nav(wh)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_MAX_ENTRIES, show_spinner=False)
def latest_backtest_runs(url: str) -> pd.DataFrame:
    """:func:`queries.latest_backtest_runs`: newest backtest run and stats per symphony."""
    with _reading(url) as wh:
        return queries.latest_backtest_runs(wh)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_MAX_ENTRIES, show_spinner=False)
def backtest_nav(url: str) -> pd.DataFrame:
    """:func:`queries.backtest_nav`: equity curve of each symphony's newest backtest run."""
    with _reading(url) as wh:
        return queries.backtest_nav(wh)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_MAX_ENTRIES, show_spinner=False)
def symphony_runs(url: str) -> pd.DataFrame:
    """:func:`queries.symphony_runs`: newest evaluation status per symphony."""
    with _reading(url) as wh:
        return queries.symphony_runs(wh)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_MAX_ENTRIES, show_spinner=False)
def decision_traces(url: str, session_date: dt.date | None) -> pd.DataFrame:
    """:func:`queries.decision_traces` of ``session_date``."""
    with _reading(url) as wh:
        return queries.decision_traces(wh, session_date)


_CACHED = (warehouse_state, latest_session, accounts, symphonies, latest_allocations, paper_nav,
           latest_backtest_runs, backtest_nav, symphony_runs, decision_traces)


def clear() -> None:
    """Forget every cached read (the "Refresh" button)."""
    for fn in _CACHED:
        fn.clear()
