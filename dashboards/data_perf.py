"""Cached reads for the Performance, Backtests and Orders & positions pages (style guide §3.4, §5.6).

As :mod:`dashboards.data`: every function takes the warehouse URL and the signed-in ``account_id`` (``None`` =
every account, the operator) first, so both are part of the cache key; each call opens a **read-only** warehouse
(:func:`warehouse.open_read_only`) for its duration only and returns plain data. Caches are bounded by ``ttl`` and
``max_entries``. The logic lives in :mod:`dashboards.queries_perf`.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import streamlit as st

from dashboards import queries_perf as qp
from dashboards.data import CACHE_TTL_S, _reading  # one read-only opener and TTL for every page
from warehouse.repos import bars as bar_repo

#: Cached results kept per function.
CACHE_MAX_ENTRIES = 16
#: Replays re-evaluate a symphony over its whole price history: keep them a little longer.
REPLAY_TTL_S = 600


_cache = st.cache_data(ttl=CACHE_TTL_S, max_entries=CACHE_MAX_ENTRIES, show_spinner=False)


@_cache
def symphonies(url: str, account_id: str | None) -> pd.DataFrame:
    """:func:`queries_perf.symphonies`."""
    with _reading(url) as wh:
        return qp.symphonies(wh, account_id)


@_cache
def paper_nav(url: str, account_id: str | None, symphony_id: str) -> pd.DataFrame:
    """:func:`queries_perf.paper_nav`."""
    with _reading(url) as wh:
        return qp.paper_nav(wh, symphony_id, account_id)


@_cache
def benchmark_closes(url: str, ticker: str, start: dt.date, end: dt.date) -> pd.Series:
    """:func:`queries_perf.benchmark_closes` (market data: no account)."""
    with _reading(url) as wh:
        return qp.benchmark_closes(wh, ticker, start, end)


@_cache
def backtest_runs(url: str, account_id: str | None) -> pd.DataFrame:
    """:func:`queries_perf.backtest_runs` of the account."""
    with _reading(url) as wh:
        return qp.backtest_runs(wh, account_id)


@_cache
def backtest_daily(url: str, account_id: str | None, run_ids: tuple[str, ...]) -> pd.DataFrame:
    """:func:`queries_perf.backtest_daily`."""
    with _reading(url) as wh:
        return qp.backtest_daily(wh, list(run_ids), account_id)


@_cache
def backtest_weights(url: str, account_id: str | None, run_id: str, start: Any = None,
                     end: Any = None) -> pd.DataFrame:
    """:func:`queries_perf.backtest_weights`."""
    with _reading(url) as wh:
        return qp.backtest_weights(wh, run_id, account_id, start, end)


@_cache
def target_allocations(url: str, account_id: str | None, symphony_id: str, start: Any = None,
                       end: Any = None) -> pd.DataFrame:
    """:func:`queries_perf.target_allocations`."""
    with _reading(url) as wh:
        return qp.target_allocations(wh, symphony_id, account_id, start, end)


@_cache
def symphony_order_outcomes(url: str, account_id: str | None, symphony_id: str, start: Any = None,
                            end: Any = None) -> pd.DataFrame:
    """:func:`queries_perf.symphony_order_outcomes`."""
    with _reading(url) as wh:
        return qp.symphony_order_outcomes(wh, symphony_id, account_id, start, end)


@_cache
def activity_sessions(url: str, account_id: str | None) -> list[dt.date]:
    """:func:`queries_perf.activity_sessions`."""
    with _reading(url) as wh:
        return qp.activity_sessions(wh, account_id)


@_cache
def session_activity(url: str, account_id: str | None, session_date: dt.date) -> dict[str, pd.DataFrame]:
    """Orders, fills, intents, positions and symphony runs of one session (one warehouse opening)."""
    with _reading(url) as wh:
        return {
            "orders": qp.orders_on(wh, session_date, account_id),
            "fills": qp.fills_on(wh, session_date, account_id),
            "intents": qp.intents_on(wh, session_date, account_id),
            "positions": qp.positions_on(wh, session_date, account_id),
            "runs": qp.runs_on(wh, session_date, account_id),
        }


@st.cache_data(ttl=REPLAY_TTL_S, max_entries=CACHE_MAX_ENTRIES, show_spinner=False)
def replay(url: str, account_id: str | None, symphony_id: str, session_date: dt.date) -> dict[str, Any]:
    """Re-evaluate the stored symphony on ``session_date`` (:func:`queries_perf.replay`).

    Prices: the bundled adjusted closes (:func:`warehouse.bundled.load_adjusted_closes`); when the bundle lacks a
    ticker, the warehouse's ``daily_bars``.

    Returns:
        :func:`queries_perf.replay`'s dict, or ``{"error": message}`` when the symphony has no stored model or
        cannot be evaluated on that date.
    """
    from warehouse.bundled import load_adjusted_closes

    with _reading(url) as wh:
        model = qp.symphony_model_json(wh, symphony_id, account_id)
        if model is None:
            return {"error": "This symphony has no stored parsed model (register it again with `oragami seed`)."}
        tickers = qp.model_tickers(model)
        try:
            closes = load_adjusted_closes(tickers, end=session_date)
        except KeyError:
            closes = bar_repo.adjusted_closes(wh, tickers, end=session_date)
    try:
        return qp.replay(model, closes, session_date)
    except Exception as exc:  # DataError (not a session, missing prices), SymphonyError
        return {"error": f"Could not re-evaluate on {session_date}: {exc}"}


_CACHED = (symphonies, paper_nav, benchmark_closes, backtest_runs, backtest_daily, backtest_weights,
           target_allocations, symphony_order_outcomes, activity_sessions, session_activity, replay)


def clear() -> None:
    """Forget every cached read of this module (call it from the "Refresh data" button)."""
    for fn in _CACHED:
        fn.clear()


def open_warehouse_or_explain() -> str | None:
    """The warehouse URL when it can be read; otherwise draw why not (and what to do) and return ``None``.

    Shared guard of the three pages: a missing file or schema, a busy DuckDB file (Dagster writing) and an
    unreachable PostgreSQL each get a message instead of an exception.
    """
    import sqlalchemy as sa

    from dashboards import data, queries
    from warehouse import WarehouseLockedError

    url = data.warehouse_url()
    where = queries.duckdb_file(url) or queries.safe_url(url)
    try:
        state = data.warehouse_state(url)
    except WarehouseLockedError:
        st.warning(BUSY, icon=":material/hourglass_top:")
        return None
    except sa.exc.OperationalError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        st.error(f"Cannot read the warehouse at `{where}`: {reason}".replace("$", "\\$"), icon=":material/error:")
        return None
    if state != "ok":
        what = "No warehouse" if state == "missing" else "The warehouse has no tables"
        st.info(f"{what} at `{where}` yet — {NEXT_STEPS_SEED}.", icon=":material/info:")
        return None
    return url


BUSY = ("The warehouse is busy: another process (Dagster) is writing to it. Wait a moment and press "
        "**Refresh data**.")
NEXT_STEPS_SEED = "run `make demo` (a demo account trading 20 bundled sessions) or `oragami seed FILE`"
NEXT_STEPS_RUN = ("run `oragami run-daily --session YYYY-MM-DD`, or materialise the `daily_trading` job in the "
                  "Dagster UI (`make dagster`)")
NEXT_STEPS_BACKTEST = "run the `backtest_all` job in Dagster or `make demo`"
