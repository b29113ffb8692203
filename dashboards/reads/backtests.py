"""Reads and computations of the Backtests page: runs, equity curves, stored weights, the symphony's orders,
the decision replay and the live-vs-backtest comparison.

Every read takes the signed-in user's :class:`~warehouse.AccountScope` (required; package docstring). The
alignment and the day-cause attribution live in :mod:`engine.attribution`, the tracking error in
:mod:`engine.metrics`; this module adapts the warehouse's frames to them and formats their answers.
"""
from __future__ import annotations

import json
from typing import Any

import pandas as pd

from dashboards.present.format import holdings_string_from_weights
from dashboards.reads.performance import nav_series, rebase
from engine import attribution
from engine.evaluate import evaluate
from engine.model import Root, tickers
from warehouse import AccountScope, Between, Warehouse
from warehouse.repos import tenant

#: Columns of :func:`divergence_table`.
DIVERGENCE_COLUMNS: tuple[str, ...] = ("session_date", "cause", "detail", "paper_holdings", "backtest_holdings",
                                       "max_weight_gap", "return_diff_bp")
OUTCOME_COLUMNS = ["client_order_id", "status", "reason", "qty", "filled_qty"]


def _window(where: dict[str, Any], start: Any, end: Any) -> dict[str, Any]:
    if start is not None or end is not None:
        where["session_date"] = Between(start, end)
    return where


def _json_dict(text: Any) -> dict:
    if not isinstance(text, str) or not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def backtest_runs(wh: Warehouse, scope: AccountScope, symphony_id: str | None = None) -> pd.DataFrame:
    """Backtest runs in scope (newest first) with their config and headline stats.

    Returns:
        Columns ``run_id, account_id, symphony_id, start_date, end_date, capital_usd, slippage_bps, cagr,
        sharpe, max_drawdown`` (fraction), ``created_at``, ``config`` (dict from ``config_json``) and
        ``stats``, ``costs``, ``benchmark`` (dicts from ``stats_json``; empty when absent or unreadable).
    """
    where = {} if symphony_id is None else {"symphony_id": symphony_id}
    runs = tenant.read(wh, "backtest_runs", scope, where=where, order_by=["-created_at", "run_id"])
    stats = [_json_dict(t) for t in runs["stats_json"]]
    runs["config"] = pd.Series([_json_dict(t) for t in runs["config_json"]], index=runs.index, dtype=object)
    for key in ("stats", "costs", "benchmark"):
        runs[key] = pd.Series([s.get(key) if isinstance(s.get(key), dict) else {} for s in stats],
                              index=runs.index, dtype=object)
    return runs.drop(columns=["config_json", "stats_json"]).reset_index(drop=True)


def backtest_daily(wh: Warehouse, scope: AccountScope, run_ids: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """Equity curves of ``run_ids`` (those in scope): ``run_id, symphony_id, session_date, nav_usd`` (USD),
    ``daily_return`` (fraction), ordered by run and date."""
    return tenant.read(wh, "backtest_daily", scope, where={"run_id": list(run_ids)},
                       columns=["run_id", "symphony_id", "session_date", "nav_usd", "daily_return"],
                       order_by=["run_id", "session_date"])


def backtest_weights(wh: Warehouse, scope: AccountScope, run_id: str, start: Any = None,
                     end: Any = None) -> pd.DataFrame:
    """Stored target weights of a backtest run over ``[start, end]``: ``session_date, ticker, weight``
    (fraction)."""
    return tenant.read(wh, "backtest_weights", scope, where=_window({"run_id": run_id}, start, end),
                       columns=["session_date", "ticker", "weight"], order_by=["session_date", "ticker"])


def target_allocations(wh: Warehouse, scope: AccountScope, symphony_id: str, start: Any = None,
                       end: Any = None) -> pd.DataFrame:
    """Paper target weights of a symphony over ``[start, end]``: ``session_date, ticker, target_weight``
    (fraction)."""
    return tenant.read(wh, "target_allocations", scope, where=_window({"symphony_id": symphony_id}, start, end),
                       columns=["session_date", "ticker", "target_weight"], order_by=["session_date", "ticker"])


def symphony_order_outcomes(wh: Warehouse, scope: AccountScope, symphony_id: str, start: Any = None,
                            end: Any = None) -> pd.DataFrame:
    """The symphony's intents over ``[start, end]`` joined to the netted account order each went into.

    Returns:
        Columns ``session_date, ticker, delta_qty, disposition, client_order_id, status, reason, qty,
        filled_qty`` (order columns are empty for crossed or skipped intents).
    """
    intents = tenant.read(wh, "order_intents", scope, where=_window({"symphony_id": symphony_id}, start, end),
                          columns=["session_date", "ticker", "delta_qty", "disposition", "client_order_id"])
    ids = intents["client_order_id"].dropna().unique().tolist()
    orders = (tenant.read(wh, "orders", scope, where={"client_order_id": ids}, columns=OUTCOME_COLUMNS) if ids
              else pd.DataFrame(columns=OUTCOME_COLUMNS))
    return intents.merge(orders, on="client_order_id", how="left")


# ----------------------------------------------------------------------------------------------------------------
# Derived (pure)
# ----------------------------------------------------------------------------------------------------------------

def rebased_curves(daily: pd.DataFrame, labels: dict[str, str] | None = None) -> pd.DataFrame:
    """Equity curves of several runs, each rebased to 1.0 on its own first session (long frame for charts).

    Returns:
        Columns ``run_id, label, session_date`` (``datetime64``), ``growth`` (NAV / first NAV).
    """
    frames = []
    for run_id, part in daily.groupby("run_id", sort=False):
        s = nav_series(part)
        frames.append(pd.DataFrame({"run_id": run_id, "label": (labels or {}).get(run_id, run_id),
                                    "session_date": s.index, "growth": rebase(s).to_numpy()}))
    if not frames:
        return pd.DataFrame({"run_id": [], "label": [], "session_date": pd.DatetimeIndex([]), "growth": []})
    return pd.concat(frames, ignore_index=True)


def trace_table(entries: list[dict[str, Any]]) -> pd.DataFrame:
    """Decision-trace entries (:meth:`engine.evaluate.Evaluation.trace`) as a table:
    ``node_path, node_type, summary, detail`` — ``detail`` in words, the values that decided the node
    (:func:`dashboards.present.tree.decision_text`, lines joined by ``"; "``: ``"SPY price = 544.51 > SPY 200d
    moving average = 501.2: true; → then"``), never raw JSON."""
    from dashboards.present.tree import decision_text

    return pd.DataFrame({
        "node_path": [e.get("node_path") for e in entries],
        "node_type": [e.get("node_type") for e in entries],
        "summary": [e.get("summary") for e in entries],
        "detail": ["; ".join(line for line in decision_text(e).splitlines() if line) or "—" for e in entries],
    }, dtype=object)


def model_tickers(model_json: str) -> list[str]:
    """Every ticker a stored symphony reads or holds, sorted."""
    return sorted(tickers(Root.model_validate_json(model_json)))


def replay(model_json: str, closes: pd.DataFrame, session_date: Any) -> dict[str, Any]:
    """Re-evaluate a stored symphony on one session: ``evaluate(root, closes, start=session_date)``.

    Args:
        model_json: ``symphonies.parsed_json``.
        closes: wide adjusted closes up to (at least) ``session_date`` with every ticker the symphony reads.
        session_date: a date; the first session of ``closes`` on or after it is evaluated.

    Returns:
        ``{"trace": trace_table(...), "weights": {ticker: fraction}, "session": date}``.

    Raises:
        engine.errors.DataError: no session on or after the date, or prices are missing.
    """
    root = Root.model_validate_json(model_json)
    ev = evaluate(root, closes, start=session_date)
    first = ev.sessions[0]
    return {"trace": trace_table(ev.trace(first)), "weights": ev.weights_on(first), "session": first.date()}


def live_vs_backtest(paper: pd.DataFrame, daily: pd.DataFrame) -> pd.DataFrame:
    """:func:`engine.attribution.align_live_backtest` of a ``daily_nav`` frame and a ``backtest_daily`` frame
    (both with ``session_date, nav_usd``): index ``session_date``, columns
    :data:`engine.attribution.ALIGNED_COLUMNS`."""
    return attribution.align_live_backtest(nav_series(paper), nav_series(daily))


def divergence_table(days: pd.DataFrame) -> pd.DataFrame:
    """:func:`engine.attribution.classify_days`' answer with the weights as text.

    Returns:
        Columns :data:`DIVERGENCE_COLUMNS`: the engine's, with ``paper_holdings`` / ``backtest_holdings``
        (``"SPY 60%, TLT 40%"``, ``"—"`` when that side has no target) in place of the weight dicts.
    """
    def text(weights: dict[str, float]) -> str:
        return holdings_string_from_weights(weights) or "—"

    out = days.assign(paper_holdings=[text(w) for w in days["paper_weights"]],
                      backtest_holdings=[text(w) for w in days["backtest_weights"]])
    return out[list(DIVERGENCE_COLUMNS)].reset_index(drop=True)


__all__ = ["DIVERGENCE_COLUMNS", "backtest_runs", "backtest_daily", "backtest_weights", "target_allocations",
           "symphony_order_outcomes", "rebased_curves", "trace_table", "model_tickers", "replay",
           "live_vs_backtest", "divergence_table"]
