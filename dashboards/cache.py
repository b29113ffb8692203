"""Cached reads for the pages: ``st.cache_data`` wrappers over :mod:`dashboards.reads`, keyed on the scope.

Every wrapper takes the warehouse URL first (so the URL is part of the cache key) and, for tenant data, the
:class:`~warehouse.AccountScope` of the page context second — required, no default; ``None`` raises
:class:`TypeError` (:func:`warehouse.scope.require_scope`), so one user's answer can never be served to another
scope. Each call opens a **read-only** warehouse (:func:`warehouse.open_read_only`: short-lived DuckDB
connections, bounded retry while Dagster holds the write lock) for its duration only; only the plain answers are
cached, bounded by ``ttl`` and ``max_entries``; no connection is ever cached (style guide §5.6).
"""
from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pandas as pd
import streamlit as st

from dashboards import auth
from dashboards.present import tree
from dashboards.reads import backtests, common, library, orders, overview, performance, prices, store
from engine.errors import DataError
from engine.model import Root
from engine.model import tickers as symphony_tickers
from warehouse import AccountScope, Warehouse, open_read_only
from warehouse.scope import require_scope

#: Seconds a cached read is reused before the warehouse is read again.
CACHE_TTL_S = 60
#: The warehouse state is re-checked sooner, so that `make demo` shows up quickly.
STATE_TTL_S = 10
#: Replays and day paths re-evaluate a symphony over its whole price history: keep them longer.
EVALUATION_TTL_S = 600
#: Cached results kept per function (one per URL × scope × arguments).
CACHE_MAX_ENTRIES = 32


def _scope_key(scope: AccountScope) -> str:
    """A stable text key of a scope (``*`` for every account, else the sorted ids)."""
    return "*" if scope.accounts is None else "\x1f".join(sorted(scope.accounts))


_HASH = {AccountScope: _scope_key}
_cache = st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_MAX_ENTRIES, show_spinner=False, hash_funcs=_HASH)
_state_cache = st.cache_data(ttl=STATE_TTL_S, max_entries=CACHE_MAX_ENTRIES, show_spinner=False)
_evaluation_cache = st.cache_data(ttl=EVALUATION_TTL_S, max_entries=CACHE_MAX_ENTRIES, show_spinner=False,
                                  hash_funcs=_HASH)


@contextlib.contextmanager
def reading(url: str) -> Iterator[Warehouse]:
    """A read-only warehouse for the duration of a ``with`` block (disposed after)."""
    wh = open_read_only(url)
    try:
        yield wh
    finally:
        wh.dispose()


@contextlib.contextmanager
def writing(url: str, lock_wait_s: float | None = None) -> Iterator[Warehouse]:
    """A writable warehouse for a page action (disposed after); the cached reads are cleared on the way out so
    the next run shows what was written. ``lock_wait_s``: how long to wait for the DuckDB lock (default: the
    environment's ``ORAGAMI_LOCK_WAIT_S``)."""
    wh = Warehouse(url, lock_wait_s=lock_wait_s)
    try:
        yield wh
    finally:
        wh.dispose()
        clear()


# -- no account data ----------------------------------------------------------------------------------------------

@_state_cache
def warehouse_state(url: str) -> str:
    """:func:`dashboards.reads.store.warehouse_state`: ``"missing"``, ``"no_schema"`` or ``"ok"``."""
    return store.warehouse_state(url)


@_state_cache
def users_exist(url: str) -> bool:
    """Whether the ``users`` table holds anyone (``False`` when the table does not exist yet)."""
    with reading(url) as wh:
        return store.has_users_table(wh) and auth.users_exist(wh)


@_cache
def benchmark_closes(url: str, ticker: str, start: dt.date, end: dt.date) -> pd.Series:
    """:func:`dashboards.reads.performance.benchmark_closes` (market data: no account)."""
    with reading(url) as wh:
        return performance.benchmark_closes(wh, ticker, start, end)


# -- tenant data: (url, scope, ...) -----------------------------------------------------------------------------

@_cache
def latest_session(url: str, scope: AccountScope) -> dt.date | None:
    """:func:`dashboards.reads.common.latest_session`."""
    with reading(url) as wh:
        return common.latest_session(wh, require_scope(scope))


@_cache
def accounts(url: str, scope: AccountScope) -> pd.DataFrame:
    """:func:`dashboards.reads.common.accounts`."""
    with reading(url) as wh:
        return common.accounts(wh, require_scope(scope))


@_cache
def symphonies(url: str, scope: AccountScope) -> pd.DataFrame:
    """:func:`dashboards.reads.common.symphonies`."""
    with reading(url) as wh:
        return common.symphonies(wh, require_scope(scope))


@_cache
def paper_nav(url: str, scope: AccountScope, symphony_ids: tuple[str, ...] | None = None) -> pd.DataFrame:
    """:func:`dashboards.reads.common.paper_nav` (``symphony_ids`` ``None``: every symphony in scope)."""
    with reading(url) as wh:
        return common.paper_nav(wh, require_scope(scope), None if symphony_ids is None else list(symphony_ids))


@_cache
def symphony_record(url: str, scope: AccountScope, symphony_id: str) -> dict | None:
    """:func:`dashboards.reads.common.symphony_record`."""
    with reading(url) as wh:
        return common.symphony_record(wh, require_scope(scope), symphony_id)


@_cache
def overview_frames(url: str, scope: AccountScope) -> dict[str, Any]:
    """Every frame of the Overview page in one warehouse opening: ``session`` (date or ``None``), ``accounts``,
    ``symphonies``, ``allocations``, ``nav``, ``backtests``, ``backtest_nav``, ``runs``, ``traces`` (of the
    latest session) — :mod:`dashboards.reads.overview` and :mod:`dashboards.reads.common`."""
    require_scope(scope)
    with reading(url) as wh:
        session = common.latest_session(wh, scope)
        runs = overview.latest_backtest_runs(wh, scope)
        return {
            "session": session,
            "accounts": common.accounts(wh, scope),
            "symphonies": common.symphonies(wh, scope),
            "allocations": overview.latest_allocations(wh, scope),
            "nav": common.paper_nav(wh, scope),
            "backtests": runs,
            "backtest_nav": overview.backtest_nav(wh, scope, runs),
            "runs": overview.symphony_runs(wh, scope),
            "traces": overview.decision_traces(wh, scope, session),
        }


@_cache
def library_table(url: str, scope: AccountScope) -> pd.DataFrame:
    """:func:`dashboards.reads.library.library`."""
    with reading(url) as wh:
        return library.library(wh, require_scope(scope))


@_cache
def account_usage(url: str, scope: AccountScope) -> pd.DataFrame:
    """:func:`dashboards.reads.library.account_usage`."""
    with reading(url) as wh:
        return library.account_usage(wh, require_scope(scope))


@_cache
def backtest_runs(url: str, scope: AccountScope) -> pd.DataFrame:
    """:func:`dashboards.reads.backtests.backtest_runs`."""
    with reading(url) as wh:
        return backtests.backtest_runs(wh, require_scope(scope))


@_cache
def backtest_daily(url: str, scope: AccountScope, run_ids: tuple[str, ...]) -> pd.DataFrame:
    """:func:`dashboards.reads.backtests.backtest_daily`."""
    with reading(url) as wh:
        return backtests.backtest_daily(wh, require_scope(scope), run_ids)


@_cache
def backtest_weights(url: str, scope: AccountScope, run_id: str, start: Any = None,
                     end: Any = None) -> pd.DataFrame:
    """:func:`dashboards.reads.backtests.backtest_weights`."""
    with reading(url) as wh:
        return backtests.backtest_weights(wh, require_scope(scope), run_id, start, end)


@_cache
def target_allocations(url: str, scope: AccountScope, symphony_id: str, start: Any = None,
                       end: Any = None) -> pd.DataFrame:
    """:func:`dashboards.reads.backtests.target_allocations`."""
    with reading(url) as wh:
        return backtests.target_allocations(wh, require_scope(scope), symphony_id, start, end)


@_cache
def symphony_order_outcomes(url: str, scope: AccountScope, symphony_id: str, start: Any = None,
                            end: Any = None) -> pd.DataFrame:
    """:func:`dashboards.reads.backtests.symphony_order_outcomes`."""
    with reading(url) as wh:
        return backtests.symphony_order_outcomes(wh, require_scope(scope), symphony_id, start, end)


@_cache
def activity_sessions(url: str, scope: AccountScope) -> list[dt.date]:
    """:func:`dashboards.reads.orders.activity_sessions`."""
    with reading(url) as wh:
        return orders.activity_sessions(wh, require_scope(scope))


@_cache
def session_activity(url: str, scope: AccountScope, session_date: dt.date) -> dict[str, pd.DataFrame]:
    """:func:`dashboards.reads.orders.session_activity`: orders, fills, intents, positions, runs of a session."""
    with reading(url) as wh:
        return orders.session_activity(wh, require_scope(scope), session_date)


@_evaluation_cache
def replay(url: str, scope: AccountScope, symphony_id: str, session_date: dt.date) -> dict[str, Any]:
    """Re-evaluate a stored symphony in scope on ``session_date`` (:func:`dashboards.reads.backtests.replay`) on
    the closes of :func:`dashboards.reads.prices.symphony_closes` (the warehouse's bars first).

    Returns:
        The replay's dict plus ``prices`` (where the closes came from), or ``{"error": message}`` when the
        symphony has no stored model in scope or cannot be evaluated on that date.
    """
    with reading(url) as wh:
        model = common.symphony_model_json(wh, require_scope(scope), symphony_id)
        if model is None:
            return {"error": "This symphony has no stored parsed model (register it again with `oragami seed`)."}
        try:
            found = prices.symphony_closes(wh, backtests.model_tickers(model), session_date)
        except (DataError, FileNotFoundError) as exc:
            return {"error": f"Could not read the prices: {exc}"}
    try:
        return {**backtests.replay(model, found.closes, session_date), "prices": found.source}
    except Exception as exc:  # DataError (no session, missing prices), SymphonyError
        return {"error": f"Could not re-evaluate on {session_date}: {exc}"}


@_evaluation_cache
def day_path(url: str, parsed_json: str, session: dt.date | None) -> tuple[tree.DayPath | None, str]:
    """:func:`dashboards.present.tree.day_path` of a stored symphony (already read in scope) on ``session``, on
    the closes of :func:`dashboards.reads.prices.symphony_closes` up to it.

    Returns:
        ``(path, prices source)``, or ``(None, reason)`` when the prices needed are missing.
    """
    root = Root.model_validate_json(parsed_json)
    try:
        with reading(url) as wh:
            found = prices.symphony_closes(wh, sorted(symphony_tickers(root)), session)
        return tree.day_path(root, found.closes, session), found.source
    except (KeyError, DataError, FileNotFoundError) as exc:
        return None, str(exc).strip("'\"")


_CACHED = (warehouse_state, users_exist, benchmark_closes, latest_session, accounts, symphonies, paper_nav,
           symphony_record, overview_frames, library_table, account_usage, backtest_runs, backtest_daily,
           backtest_weights, target_allocations, symphony_order_outcomes, activity_sessions, session_activity,
           replay, day_path)


def clear() -> None:
    """Forget every cached read (the "Refresh data" button, and after a write)."""
    for fn in _CACHED:
        fn.clear()
