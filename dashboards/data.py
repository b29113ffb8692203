"""Cached reads of the warehouse for the Streamlit pages (style guide §3.4, §5.6).

Every function takes the warehouse URL (:func:`warehouse_url`) as its first argument, so the URL is part of the
cache key, and opens a **read-only** warehouse for the duration of the call only: on DuckDB each query opens the
file ``read_only=True`` and closes it at once, retrying with a bounded backoff while Dagster holds the write lock
(:func:`warehouse.open_read_only`); nothing keeps a connection between reruns, so Dagster can keep writing.
No connection or :class:`~warehouse.Warehouse` is ever cached; only the plain DataFrames are (``st.cache_data``,
bounded by ``ttl`` and ``max_entries``).

The logic lives in :mod:`dashboards.queries` (no Streamlit, unit-tested); this module only adds caching. Every
read of account data takes ``account_id`` (:func:`account_scope`: the analyst's account, or the operator's pick,
``None`` meaning every account) and passes it down to the warehouse, so it is part of the cache key too.
"""
from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from dashboards import auth, queries, tree
from engine.errors import DataError
from engine.model import Root
from engine.model import tickers as symphony_tickers
from warehouse import AccountScope, Warehouse, open_read_only
from warehouse.repos import symphonies as symphony_repo

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
def latest_session(url: str, account_id: str | None = None) -> dt.date | None:
    """The newest session written by the daily graph for ``account_id`` (``None``: any), or ``None``."""
    with _reading(url) as wh:
        return queries.latest_session(wh, account_id)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_MAX_ENTRIES, show_spinner=False)
def accounts(url: str, account_id: str | None = None) -> pd.DataFrame:
    """:func:`queries.accounts`."""
    with _reading(url) as wh:
        return queries.accounts(wh, account_id)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_MAX_ENTRIES, show_spinner=False)
def symphonies(url: str, account_id: str | None = None) -> pd.DataFrame:
    """:func:`queries.symphonies`: the symphonies in scope with account, status and rebalance."""
    with _reading(url) as wh:
        return queries.symphonies(wh, account_id)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_MAX_ENTRIES, show_spinner=False)
def latest_allocations(url: str, account_id: str | None = None) -> pd.DataFrame:
    """:func:`queries.latest_allocations`: each symphony's newest target weights."""
    with _reading(url) as wh:
        return queries.latest_allocations(wh, account_id)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_MAX_ENTRIES, show_spinner=False)
def paper_nav(url: str, account_id: str | None = None) -> pd.DataFrame:
    """:func:`queries.paper_nav` of every symphony in scope (``daily_nav``)."""
    with _reading(url) as wh:
        return queries.paper_nav(wh, account_id=account_id)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_MAX_ENTRIES, show_spinner=False)
def latest_backtest_runs(url: str, account_id: str | None = None) -> pd.DataFrame:
    """:func:`queries.latest_backtest_runs`: newest backtest run and stats per symphony."""
    with _reading(url) as wh:
        return queries.latest_backtest_runs(wh, account_id)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_MAX_ENTRIES, show_spinner=False)
def backtest_nav(url: str, account_id: str | None = None) -> pd.DataFrame:
    """:func:`queries.backtest_nav`: equity curve of each symphony's newest backtest run."""
    with _reading(url) as wh:
        return queries.backtest_nav(wh, account_id=account_id)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_MAX_ENTRIES, show_spinner=False)
def symphony_runs(url: str, account_id: str | None = None) -> pd.DataFrame:
    """:func:`queries.symphony_runs`: newest evaluation status per symphony."""
    with _reading(url) as wh:
        return queries.symphony_runs(wh, account_id)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_MAX_ENTRIES, show_spinner=False)
def decision_traces(url: str, session_date: dt.date | None, account_id: str | None = None) -> pd.DataFrame:
    """:func:`queries.decision_traces` of ``session_date``."""
    with _reading(url) as wh:
        return queries.decision_traces(wh, session_date, account_id)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_MAX_ENTRIES, show_spinner=False)
def library(url: str, account_id: str | None) -> pd.DataFrame:
    """:func:`queries.library`: the symphonies in scope with their tickers."""
    with _reading(url) as wh:
        return queries.library(wh, account_id)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_MAX_ENTRIES, show_spinner=False)
def account_usage(url: str, account_id: str | None) -> pd.DataFrame:
    """:func:`queries.account_usage`: active symphonies against each account's limit."""
    with _reading(url) as wh:
        return queries.account_usage(wh, account_id)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=32, show_spinner=False)
def symphony_record(url: str, symphony_id: str, account_id: str | None) -> dict | None:
    """:func:`queries.symphony_record`: one stored symphony in scope, or ``None``."""
    with _reading(url) as wh:
        return queries.symphony_record(wh, symphony_id, account_id)


@st.cache_data(ttl=STATE_TTL_S, max_entries=CACHE_MAX_ENTRIES, show_spinner=False)
def users_exist(url: str) -> bool:
    """Whether the ``users`` table holds anyone (``False`` when the table does not exist yet)."""
    with _reading(url) as wh:
        with wh.connect() as conn:
            if "users" not in sa.inspect(conn).get_table_names():
                return False
        return auth.users_exist(wh)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=32, show_spinner=False)
def day_path(parsed_json: str, session: dt.date | None) -> tuple[tree.DayPath | None, str | None]:
    """:func:`dashboards.tree.day_path` of a stored symphony on ``session`` (bundled prices up to it).

    Returns:
        ``(path, None)``, or ``(None, reason)`` when the prices needed are missing.
    """
    from warehouse.bundled import load_adjusted_closes

    root = Root.model_validate_json(parsed_json)
    try:
        closes = load_adjusted_closes(sorted(symphony_tickers(root)), end=session)
        return tree.day_path(root, closes, session), None
    except (KeyError, DataError, FileNotFoundError) as exc:
        return None, str(exc).strip("'\"")


_CACHED = (warehouse_state, latest_session, accounts, symphonies, latest_allocations, paper_nav,
           latest_backtest_runs, backtest_nav, symphony_runs, decision_traces, library, account_usage,
           symphony_record, users_exist)


def clear() -> None:
    """Forget every cached read (the "Refresh" button)."""
    for fn in _CACHED:
        fn.clear()


# ----------------------------------------------------------------------------------------------------------------
# Sign-in and the few writes the library page makes (not cached; each opens a short-lived writable warehouse)
# ----------------------------------------------------------------------------------------------------------------

def authenticate(url: str, username: str, password: str) -> auth.User | None:
    """:func:`dashboards.auth.authenticate` against the warehouse at ``url`` (read-only, never cached)."""
    with _reading(url) as wh:
        return auth.authenticate(wh, username, password)


@contextlib.contextmanager
def _writing(url: str) -> Iterator[Warehouse]:
    wh = Warehouse(url)
    try:
        yield wh
    finally:
        wh.dispose()
        clear()


def register_symphony(url: str, row: dict, account_id: str) -> str:
    """`warehouse.repos.symphonies.register` (status decided by the account's limit); returns the status stored."""
    with _writing(url) as wh:
        return symphony_repo.register(wh, account_id, **row).status


def set_symphony_status(url: str, symphony_id: str, status: str, account_id: str | None) -> None:
    """:meth:`Warehouse.repos.symphonies.set_status` within ``account_id``'s scope (``None``: operator)."""
    with _writing(url) as wh:
        symphony_repo.set_status(wh, symphony_id, status, AccountScope.of(account_id))


def propose_symphony_id(url: str, name: str, account_id: str) -> str:
    """:func:`warehouse.repos.symphonies.propose_id`: the id an upload gets in ``account_id``; not cached."""
    with _reading(url) as wh:
        return symphony_repo.propose_id(wh, name, account_id)


# ----------------------------------------------------------------------------------------------------------------
# Who is signed in (set by the router)
# ----------------------------------------------------------------------------------------------------------------

#: ``st.session_state`` keys set by the router.
USER_KEY = "user"
SCOPE_KEY = "account_scope"


def current_user() -> auth.User | None:
    """The signed-in user (``st.session_state["user"]``), or ``None``."""
    user = st.session_state.get(USER_KEY)
    return user if isinstance(user, auth.User) else None


def account_scope() -> str | None:
    """The ``account_id`` every query of this run must pass: the analyst's account, or the operator's pick
    (``None``: every account). Stops the page when nobody is signed in."""
    user = current_user()
    if user is None:
        st.stop()
    return auth.scope_for(user, st.session_state.get(SCOPE_KEY))
