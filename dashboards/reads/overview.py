"""Reads and derived tables of the Overview page: allocations, runs, decision traces, NAV against the backtest.

Every read takes the signed-in user's :class:`~warehouse.AccountScope` (required; package docstring); the derived
tables (:func:`symphony_overview`, :func:`headline`, :func:`nav_comparison`) are pure functions of their frames.
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd

from dashboards.present.format import holdings_string
from warehouse import AccountScope, Warehouse
from warehouse.repos import ledgers, tenant
from warehouse.schema import DEFAULT_CAPITAL_USD
from warehouse.scope import require_scope

#: Columns of :func:`symphony_overview`.
OVERVIEW_COLUMNS: tuple[str, ...] = (
    "symphony_id", "name", "label", "account_id", "account_name", "status", "rebalance", "capital_usd",
    "holdings", "holdings_date", "last_run_status", "last_run_date", "last_run_reason", "paper_nav_usd",
    "paper_nav_date", "backtest_cagr", "backtest_sharpe", "backtest_max_drawdown",
)
#: Columns of :func:`nav_comparison`.
NAV_COMPARISON_COLUMNS: tuple[str, ...] = ("session_date", "series", "nav_usd")
PAPER, BACKTEST = "Paper", "Backtest (rebased)"
TRACE_COLUMNS = ["symphony_id", "seq", "node_path", "node_type", "summary"]


def _path_key(node_path: Any) -> tuple:
    """Sort key putting decision-trace nodes in tree pre-order (``root/0/2`` before ``root/0/10``)."""
    if not isinstance(node_path, str):
        return ((1, ""),)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in node_path.split("/"))


def _missing(value: Any) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def latest_allocations(wh: Warehouse, scope: AccountScope) -> pd.DataFrame:
    """Each symphony's target weights of its newest evaluated session.

    Returns:
        Columns ``account_id, symphony_id, session_date, ticker, target_weight`` (fraction), ordered by
        ``symphony_id`` then weight (largest first).
    """
    alloc = ledgers.latest_allocations(wh, require_scope(scope))
    return alloc.sort_values(["symphony_id", "target_weight", "ticker"],
                             ascending=[True, False, True]).reset_index(drop=True)


def latest_backtest_runs(wh: Warehouse, scope: AccountScope) -> pd.DataFrame:
    """The newest backtest run (by ``created_at``) of each symphony in scope, with its headline stats.

    Returns:
        Columns ``run_id, account_id, symphony_id, start_date, end_date, capital_usd, slippage_bps, cagr``
        (fraction per year), ``sharpe``, ``max_drawdown`` (fraction), ``created_at``; one row per symphony
        that has a backtest, ordered by ``symphony_id``.
    """
    cols = ["run_id", "account_id", "symphony_id", "start_date", "end_date", "capital_usd", "slippage_bps",
            "cagr", "sharpe", "max_drawdown", "created_at"]
    runs = tenant.read(wh, "backtest_runs", scope, columns=cols, order_by=["symphony_id", "created_at", "run_id"])
    if runs.empty:
        return runs
    return runs.groupby("symphony_id", sort=True).tail(1).reset_index(drop=True)


def backtest_nav(wh: Warehouse, scope: AccountScope, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """The equity curve (``backtest_daily``) of each symphony's newest backtest run.

    Args:
        runs: the output of :func:`latest_backtest_runs` if already read (same scope).

    Returns:
        Columns ``run_id, account_id, symphony_id, session_date, nav_usd`` (USD), ``daily_return`` (fraction),
        ordered by ``symphony_id, session_date``.
    """
    if runs is None:
        runs = latest_backtest_runs(wh, scope)
    return tenant.read(wh, "backtest_daily", scope, where={"run_id": list(runs["run_id"])},
                       order_by=["symphony_id", "session_date"])


def symphony_runs(wh: Warehouse, scope: AccountScope) -> pd.DataFrame:
    """The newest evaluation outcome of each symphony in scope.

    Returns:
        Columns ``account_id, symphony_id, session_date, status`` (``ok|failed|skipped``), ``reason``,
        ``evaluated_at``; one row per symphony that was ever evaluated, ordered by ``symphony_id``.
    """
    runs = tenant.read(wh, "symphony_runs", scope, order_by=["symphony_id", "session_date"])
    if runs.empty:
        return runs
    return runs.groupby("symphony_id", sort=True).tail(1).reset_index(drop=True)


def decision_traces(wh: Warehouse, scope: AccountScope, session_date: Any) -> pd.DataFrame:
    """The decision traces of one session ("why it holds this"), each symphony's nodes in tree pre-order.

    Returns:
        Columns ``symphony_id, seq, node_path, node_type, summary``; empty when ``session_date`` is ``None``.
    """
    if session_date is None:
        return tenant.read(wh, "decision_traces", scope, columns=TRACE_COLUMNS, limit=0)
    traces = tenant.read(wh, "decision_traces", scope, where={"session_date": session_date}, columns=TRACE_COLUMNS)
    if traces.empty:
        return traces
    order = sorted(range(len(traces)), key=lambda i: (traces["symphony_id"].iloc[i],
                                                      _path_key(traces["node_path"].iloc[i]),
                                                      traces["seq"].iloc[i]))
    return traces.iloc[order].reset_index(drop=True)


# ----------------------------------------------------------------------------------------------------------------
# Derived tables (pure)
# ----------------------------------------------------------------------------------------------------------------

def symphony_overview(symphonies_df: pd.DataFrame, allocations: pd.DataFrame, runs: pd.DataFrame,
                      nav: pd.DataFrame, backtests: pd.DataFrame) -> pd.DataFrame:
    """One row per symphony for the overview table (pure: takes the frames the reads above return).

    Returns:
        Columns :data:`OVERVIEW_COLUMNS`: the :func:`~dashboards.reads.common.symphonies` columns plus
        ``holdings`` (e.g. ``"SPY 60%, TLT 40%"``, ``""`` if never evaluated) as of ``holdings_date``; the newest
        run's ``last_run_status/_date/_reason``; the newest ``paper_nav_usd`` (USD) and its date; the newest
        backtest's ``backtest_cagr``, ``backtest_sharpe``, ``backtest_max_drawdown`` (NaN when absent).
    """
    out = symphonies_df.copy()
    ids = list(out["symphony_id"])

    def lookup(frame: pd.DataFrame, column: str, *, number: bool = False) -> pd.Series:
        values = dict(zip(frame["symphony_id"], frame[column])) if len(frame) else {}
        if number:
            return pd.Series([values.get(i, math.nan) for i in ids], index=out.index, dtype="float64")
        cells = [values.get(i) for i in ids]
        return pd.Series([None if _missing(v) else v for v in cells], index=out.index, dtype=object)

    holdings = {sid: holdings_string(part) for sid, part in allocations.groupby("symphony_id")}
    out["holdings"] = pd.Series([holdings.get(i, "") for i in ids], index=out.index, dtype="str")
    newest_alloc = allocations.groupby("symphony_id", as_index=False)["session_date"].max() \
        if len(allocations) else allocations
    out["holdings_date"] = lookup(newest_alloc, "session_date")
    out["last_run_status"] = lookup(runs, "status")
    out["last_run_date"] = lookup(runs, "session_date")
    out["last_run_reason"] = lookup(runs, "reason")
    last_nav = nav.sort_values("session_date").groupby("symphony_id").tail(1) if len(nav) else nav
    out["paper_nav_usd"] = lookup(last_nav, "nav_usd", number=True)
    out["paper_nav_date"] = lookup(last_nav, "session_date")
    out["backtest_cagr"] = lookup(backtests, "cagr", number=True)
    out["backtest_sharpe"] = lookup(backtests, "sharpe", number=True)
    out["backtest_max_drawdown"] = lookup(backtests, "max_drawdown", number=True)
    return out[list(OVERVIEW_COLUMNS)].reset_index(drop=True)


def headline(symphonies_df: pd.DataFrame, accounts_df: pd.DataFrame, nav: pd.DataFrame,
             session: dt.date | None) -> dict[str, Any]:
    """The headline numbers of the overview page.

    Returns:
        ``accounts`` (count), ``active_symphonies`` (count), ``latest_session`` (date or ``None``),
        ``nav_date`` (newest ``daily_nav`` session or ``None``), ``total_nav_usd`` (sum of every symphony's NAV
        on ``nav_date``, USD; ``None`` without NAV), ``total_nav_change_usd`` (change against the previous
        session, over the symphonies that have a NAV on both; ``None`` when there is no previous session) and
        ``total_pnl_usd`` (``total_nav_usd`` minus the starting capital of the same symphonies — the
        ``capital_usd`` column of ``symphonies_df``, :data:`~warehouse.schema.DEFAULT_CAPITAL_USD` where absent;
        ``None`` without NAV).
    """
    out: dict[str, Any] = {
        "accounts": int(len(accounts_df)),
        "active_symphonies": int((symphonies_df["status"] == "active").sum()) if len(symphonies_df) else 0,
        "latest_session": session,
        "nav_date": None,
        "total_nav_usd": None,
        "total_nav_change_usd": None,
        "total_pnl_usd": None,
    }
    if nav.empty:
        return out
    nav_date = max(nav["session_date"])
    today = nav[nav["session_date"] == nav_date].set_index("symphony_id")["nav_usd"]
    out["nav_date"] = nav_date
    out["total_nav_usd"] = float(today.sum())
    capital = (symphonies_df.set_index("symphony_id")["capital_usd"] if "capital_usd" in symphonies_df
               else pd.Series(dtype="float64"))
    out["total_pnl_usd"] = float(today.sum() - sum(
        float(capital.get(sid)) if sid in capital.index and pd.notna(capital.get(sid)) else DEFAULT_CAPITAL_USD
        for sid in today.index))
    earlier = nav[nav["session_date"] < nav_date]
    if len(earlier):
        prev_date = max(earlier["session_date"])
        prev = earlier[earlier["session_date"] == prev_date].set_index("symphony_id")["nav_usd"]
        both = today.index.intersection(prev.index)
        if len(both):
            out["total_nav_change_usd"] = float(today[both].sum() - prev[both].sum())
    return out


def nav_comparison(paper: pd.DataFrame, backtest: pd.DataFrame | None) -> pd.DataFrame:
    """One symphony's paper NAV and its backtest NAV over the paper window, rebased to the same start.

    The backtest curve is cut to the paper window ``[first, last]`` paper session and scaled so that on the first
    session both have a value (the common start) it equals the paper NAV:
    ``backtest_rebased = backtest_nav * paper_nav[start] / backtest_nav[start]``.

    Args:
        paper: ``daily_nav`` rows of the symphony (``session_date``, ``nav_usd``).
        backtest: ``backtest_daily`` rows of its newest run (``session_date``, ``nav_usd``); may be empty.

    Returns:
        Long frame, columns :data:`NAV_COMPARISON_COLUMNS`: ``series`` is :data:`PAPER` or :data:`BACKTEST`,
        ``session_date`` a ``datetime64`` (for charting), ``nav_usd`` USD; ordered by series then date. No
        backtest rows when the curves share no session.
    """
    p = paper[["session_date", "nav_usd"]].dropna().copy()
    p["session_date"] = pd.to_datetime(p["session_date"])
    p = p.sort_values("session_date")
    frames = [p.assign(series=PAPER)]
    if len(p) and backtest is not None and len(backtest):
        b = backtest[["session_date", "nav_usd"]].dropna().copy()
        b["session_date"] = pd.to_datetime(b["session_date"])
        b = b[(b["session_date"] >= p["session_date"].iloc[0]) & (b["session_date"] <= p["session_date"].iloc[-1])]
        b = b.sort_values("session_date")
        common = p.merge(b, on="session_date", suffixes=("_paper", "_bt"))
        common = common[common["nav_usd_bt"] != 0]
        if len(common):
            start = common.iloc[0]
            scale = float(start["nav_usd_paper"]) / float(start["nav_usd_bt"])
            b = b[b["session_date"] >= start["session_date"]]
            frames.append(b.assign(nav_usd=b["nav_usd"] * scale, series=BACKTEST))
    out = pd.concat(frames, ignore_index=True)
    out["nav_usd"] = out["nav_usd"].astype("float64")
    return out[list(NAV_COMPARISON_COLUMNS)].reset_index(drop=True)


def window_return(series: pd.DataFrame, name: str) -> float | None:
    """Total return (fraction) of one series of a :func:`nav_comparison` frame; ``None`` with < 2 points."""
    s = series.loc[series["series"] == name, "nav_usd"]
    if len(s) < 2 or s.iloc[0] == 0:
        return None
    return float(s.iloc[-1] / s.iloc[0] - 1.0)


__all__ = ["OVERVIEW_COLUMNS", "NAV_COMPARISON_COLUMNS", "PAPER", "BACKTEST", "latest_allocations",
           "latest_backtest_runs", "backtest_nav", "symphony_runs", "decision_traces", "symphony_overview",
           "headline", "nav_comparison", "window_return"]
