"""Researcher backtests launched from the Dagster UI: one symphony per partition, and parameter sweeps.

``research_backtest`` is partitioned by symphony id (:data:`pipelines.research.symphony_partitions`, kept equal to
the registry by ``symphony_registry_sensor``). One run backtests one symphony over the whole window — backtests are
path-dependent (style guide §5.2) — with the window, capital, slippage, fees and benchmark of the run config
(:class:`assets.backtests.BacktestConfig`). A backfill over many partitions runs many symphonies with one config.

Storage (all replace-by-run-id: the same symphony, source and settings give the same run id
(:func:`assets.backtests.backtest_run_id`), so a re-run replaces its rows and a different config adds a run):

* ``backtest_runs`` / ``backtest_daily`` / ``backtest_weights`` — as :func:`assets.backtests.symphony_backtests`
  writes them (the two assets share run ids: the same configuration is the same backtest).
* ``backtest_traces`` — decision traces (:meth:`engine.evaluate.Evaluation.trace`), **only on the sessions where
  the target weights changed** from the previous backtest session (any ticker's weight moved by more than
  :data:`TRACE_WEIGHT_TOL`), plus the first backtest session. That keeps the table bounded by the decisions that
  mattered; the trace of any other session is a replay: ``evaluate(root, closes).trace(session)``. Note that an
  inverse-volatility node moves its weights almost every session, so such symphonies store most sessions.

``parameter_sweep`` backtests one symphony once per value of one node parameter (:class:`SweepConfig`) and writes
one ``sweep_results`` row per value. Supported parameters (:data:`SWEEP_FIELDS`):

* a ``filter`` node: ``window`` (its ``sort_window``; the sort function must take a window);
* a ``wt-inverse-vol`` node: ``window`` (its volatility window);
* an ``if`` node with a single comparison (``binary`` or ``binary-compound``): ``window`` / ``lhs_window`` (the
  left indicator's window) and ``rhs_window`` (the right indicator's window; not for a constant right side).

Any other node or field raises a ``ValueError`` naming the node path and what is supported there.
"""

import datetime as dt
import hashlib
import json
import time

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from assets.backtests import BacktestConfig, backtest_run_id, write_backtest
from assets.daily import _model
from engine.backtest import BacktestResult, run_backtest
from engine.evaluate import Evaluation, IndicatorCache, evaluate
from engine.model import Comparison, Filter, If, IndicatorRef, MultiTickerComparison, Root, WeightInverseVol, \
    iter_nodes
from engine.model import tickers as symphony_tickers
from resources import MarketDataResource, WarehouseResource
from pipelines.research import symphony_partitions
from warehouse import Warehouse

#: A session's target weights "changed" when some ticker's weight moved by more than this (fraction).
TRACE_WEIGHT_TOL = 1e-9

#: Sweepable parameters per node type (``SweepConfig.field``).
SWEEP_FIELDS: dict[str, tuple[str, ...]] = {
    "filter": ("window",),
    "wt-inverse-vol": ("window",),
    "if": ("window", "lhs_window", "rhs_window"),
}


# ----------------------------------------------------------------------------------------------------------------
# Helpers (plain functions, tested without Dagster)
# ----------------------------------------------------------------------------------------------------------------

def load_symphony(wh: Warehouse, symphony_id: str) -> tuple[dict, Root]:
    """The registry row and parsed model of ``symphony_id`` (active or not).

    Raises:
        dagster.Failure: the id is not in the registry (e.g. a stale partition of a deleted symphony).
    """
    rows = wh.read("symphonies", where={"symphony_id": symphony_id})
    if rows.empty:
        raise dg.Failure(f"symphony {symphony_id!r} is not in the registry (deleted since its partition was "
                         f"registered?)")
    row = rows.iloc[0].to_dict()
    return row, _model(row["parsed_json"])


def backtest_settings(config: BacktestConfig) -> dict:
    """The backtest settings of a config as a dict (the fields of :class:`BacktestConfig` only)."""
    return {name: getattr(config, name) for name in BacktestConfig.model_fields}


def run_configured_backtest(root: Root, closes: pd.DataFrame | IndicatorCache, settings: dict,
                            evaluation: Evaluation | None = None) -> BacktestResult:
    """:func:`engine.backtest.run_backtest` with the settings of a :class:`BacktestConfig` (as a dict)."""
    return run_backtest(root, closes, start=settings["start"], end=settings["end"],
                        capital=settings["capital_usd"], slippage_bps=settings["slippage_bps"],
                        apply_reg_fee=settings["apply_reg_fee"], apply_taf_fee=settings["apply_taf_fee"],
                        benchmark=settings["benchmark"], evaluation=evaluation)


def change_sessions(target_weights: pd.DataFrame, tol: float = TRACE_WEIGHT_TOL) -> pd.DatetimeIndex:
    """Backtest sessions whose target weights differ from the previous session's (the first session included).

    Args:
        target_weights: sessions × tickers, fractions (``BacktestResult.target_weights``).
        tol: a weight must move by more than this (fraction) to count as a change.
    """
    w = target_weights.to_numpy(dtype="float64")
    changed = np.ones(len(w), dtype=bool)
    if len(w) > 1 and w.shape[1]:
        changed[1:] = np.nanmax(np.abs(np.diff(np.nan_to_num(w), axis=0)), axis=1) > tol
    elif len(w) > 1:
        changed[1:] = False
    return target_weights.index[changed]


TRACE_COLUMNS = ["run_id", "account_id", "symphony_id", "session_date", "seq", "node_path", "node_type", "summary",
                 "detail_json"]


def trace_rows(evaluation: Evaluation, sessions, run_id: str, row: dict) -> pd.DataFrame:
    """``backtest_traces`` rows: the decision trace of each of ``sessions`` (``seq`` = tree order)."""
    out = []
    for session in sessions:
        day = pd.Timestamp(session).date()
        for seq, entry in enumerate(evaluation.trace(session)):
            out.append({"run_id": run_id, "account_id": row["account_id"], "symphony_id": row["symphony_id"],
                        "session_date": day, "seq": seq, "node_path": entry["node_path"],
                        "node_type": entry["node_type"], "summary": entry["summary"],
                        "detail_json": json.dumps(entry["detail"], sort_keys=True)})
    return pd.DataFrame(out, columns=TRACE_COLUMNS)


def _find_node(root: Root, node_path: str):
    for node in iter_nodes(root):
        if node.path == node_path:
            return node
    decisions = [f"{n.path} ({n.step})" for n in iter_nodes(root) if n.step in SWEEP_FIELDS]
    raise ValueError(f"no node at path {node_path!r} in symphony {root.name!r}; sweepable nodes: "
                     f"{', '.join(decisions) or 'none'}")


def _with_param(node, field: str, value: int):
    """A copy of ``node`` with parameter ``field`` set to ``value`` (see the module docstring)."""
    supported = SWEEP_FIELDS.get(node.step)
    if supported is None or field not in supported:
        where = (f"a {node.step} node supports {', '.join(supported)}" if supported
                 else f"{node.step} nodes have no sweepable parameter")
        raise ValueError(f"cannot sweep {field!r} at node {node.path!r}: {where} (sweepable: "
                         + "; ".join(f"{k}: {', '.join(v)}" for k, v in SWEEP_FIELDS.items()) + ")")
    if isinstance(node, Filter):
        if node.sort_window is None:
            raise ValueError(f"cannot sweep 'window' at node {node.path!r}: its sort function {node.sort_fn!r} "
                             f"takes no window")
        return node.model_copy(update={"sort_window": value})
    if isinstance(node, WeightInverseVol):
        return node.model_copy(update={"window": value})
    assert isinstance(node, If)
    cond = node.condition
    if not isinstance(cond, (Comparison, MultiTickerComparison)):
        raise ValueError(f"cannot sweep {field!r} at node {node.path!r}: its condition is a compound of several "
                         f"comparisons; only single comparisons are supported")
    side = "rhs" if field == "rhs_window" else "lhs"
    ref = getattr(cond, side)
    if not isinstance(ref, IndicatorRef) or ref.window is None:
        what = "a constant" if not isinstance(ref, IndicatorRef) else f"{ref.fn}, which takes no window"
        raise ValueError(f"cannot sweep {field!r} at node {node.path!r}: its {side} is {what}")
    new_cond = cond.model_copy(update={side: ref.model_copy(update={"window": value})})
    return node.model_copy(update={"condition": new_cond})


def _replace_at(node, node_path: str, fn):
    """``node`` with the descendant at ``node_path`` replaced by ``fn(descendant)``; untouched subtrees shared."""
    if node.path == node_path:
        return fn(node)
    if not node_path.startswith(node.path + "/"):
        return node
    update = {}
    for attr in ("children", "then_children", "else_children"):
        kids = getattr(node, attr, None)
        if not kids:
            continue
        new = tuple(_replace_at(k, node_path, fn) for k in kids)
        if any(a is not b for a, b in zip(new, kids)):
            update[attr] = new
    return node.model_copy(update=update) if update else node


def with_node_param(root: Root, node_path: str, field: str, value: int) -> Root:
    """A copy of the symphony with one node parameter changed (models are frozen: rebuilt along the path).

    Args:
        root: the symphony.
        node_path: the node's ``path`` (``"root/0/0"``).
        field: a parameter of :data:`SWEEP_FIELDS` for that node's type.
        value: the new window, trading days (≥ 1).

    Raises:
        ValueError: no node at the path, an unsupported node/field (message names the path), or ``value < 1``.
    """
    if int(value) != value or value < 1:
        raise ValueError(f"sweep value {value!r} at node {node_path!r}: a window must be a positive whole number "
                         f"of trading days")
    _find_node(root, node_path)
    return _replace_at(root, node_path, lambda n: _with_param(n, field, int(value)))


def sweep_id_for(symphony_id: str, source_text: str, node_path: str, field: str, values: list[int],
                 settings: dict) -> str:
    """Deterministic id of a sweep (same symphony, source, node, field, values and settings → same id)."""
    payload = json.dumps({"symphony": symphony_id, "source": source_text, "node_path": node_path, "field": field,
                          "values": sorted(values), "settings": settings}, sort_keys=True)
    return f"sw-{hashlib.sha256(payload.encode()).hexdigest()[:16]}"


def _secs(t0: float) -> str:
    return f"{time.perf_counter() - t0:.2f}s"


# ----------------------------------------------------------------------------------------------------------------
# Assets
# ----------------------------------------------------------------------------------------------------------------

@dg.asset(partitions_def=symphony_partitions, group_name="research", kinds={"python"}, pool="warehouse_writer")
def research_backtest(context: dg.AssetExecutionContext, config: BacktestConfig, market_data: MarketDataResource,
                      warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Backtest of one symphony (the partition) over the configured window, with NAV, weights and decision traces."""
    sid = context.partition_key
    settings = backtest_settings(config)
    t_all = t0 = time.perf_counter()
    wh = warehouse.open()
    row, root = load_symphony(wh, sid)
    tickers = sorted(symphony_tickers(root) | {config.benchmark})
    end = dt.date.fromisoformat(config.end) if config.end else None
    closes = market_data.close_reader().closes(tickers, end=end)  # the one price reader (engine.prices)
    context.log.info(f"{sid}: loaded {root.name!r} ({row['status']}) and closes of {len(tickers)} tickers, "
                     f"{len(closes)} sessions {closes.index[0].date()}..{closes.index[-1].date()} in {_secs(t0)}")
    t0 = time.perf_counter()
    cache = IndicatorCache(closes)
    ev = evaluate(root, cache)
    context.log.info(f"{sid}: evaluated {len(ev.records)} decision nodes on {len(ev.sessions)} sessions "
                     f"in {_secs(t0)}")
    t0 = time.perf_counter()
    res = run_configured_backtest(root, cache, settings, evaluation=ev)
    stats = res.stats
    context.log.info(f"{sid}: simulated {res.first_day.date()}..{res.last_day.date()} ({len(res.nav)} sessions) "
                     f"in {_secs(t0)}: CAGR {stats['annualized_return']:.2%}, Sharpe {stats['sharpe_ratio']:.2f}, "
                     f"max DD {stats['max_drawdown']:.2%}, final ${res.nav.iloc[-1]:,.2f}")
    for w in res.warnings:
        context.log.warning(f"{sid}: {w}")
    t0 = time.perf_counter()
    run_id = backtest_run_id(sid, row["source_text"], settings)
    days = change_sessions(res.target_weights)
    traces = trace_rows(ev, days, run_id, row)
    written = write_backtest(wh, run_id, row, settings, res)
    written["backtest_traces"] = wh.replace("backtest_traces", traces, where={"run_id": run_id})
    context.log.info(f"{sid}: wrote run {run_id} (replacing any earlier run of this configuration): "
                     + ", ".join(f"{t} {n}" for t, n in written.items())
                     + f"; traces on {len(days)} change sessions of {len(res.nav)} in {_secs(t0)}")
    context.log.info(f"{sid}: done in {_secs(t_all)}")
    return dg.MaterializeResult(metadata={
        "backtest_run_id": run_id, "first_session": str(res.first_day.date()),
        "last_session": str(res.last_day.date()), "sessions": len(res.nav),
        "cagr": float(stats["annualized_return"]), "sharpe": float(stats["sharpe_ratio"]),
        "max_drawdown": float(stats["max_drawdown"]), "final_value_usd": float(res.nav.iloc[-1]),
        "trace_sessions": len(days), "trace_rows": written["backtest_traces"], "warnings": len(res.warnings),
    })


class SweepConfig(BacktestConfig):
    """A parameter sweep: one symphony, one node parameter, a grid of values; the backtest settings are shared."""

    symphony_id: str = Field(description="the symphony (registry id)")
    node_path: str = Field(description="path of the node to vary, e.g. 'root/0/0' (see the symphony's trace)")
    field: str = Field(default="window", description="parameter: 'window' (filter sort window, inverse-vol window, "
                                                     "if left window), 'lhs_window' or 'rhs_window' (if nodes)")
    values: list[int] = Field(description="parameter values to backtest, trading days (each ≥ 1)")


@dg.asset(group_name="research", kinds={"python"}, pool="warehouse_writer")
def parameter_sweep(context: dg.AssetExecutionContext, config: SweepConfig, market_data: MarketDataResource,
                    warehouse: WarehouseResource) -> dg.MaterializeResult:
    """One symphony backtested once per value of one node parameter; results side by side in sweep_results."""
    settings = backtest_settings(config)
    values = sorted(set(config.values))
    if not values:
        raise dg.Failure("parameter sweep: 'values' is empty")
    t0 = time.perf_counter()
    wh = warehouse.open()
    row, root = load_symphony(wh, config.symphony_id)
    models = {v: with_node_param(root, config.node_path, config.field, v) for v in values}  # fail fast
    tickers = sorted(symphony_tickers(root) | {config.benchmark})
    end = dt.date.fromisoformat(config.end) if config.end else None
    cache = IndicatorCache(market_data.close_reader().closes(tickers, end=end))
    context.log.info(f"sweep {config.symphony_id} {config.node_path}.{config.field} over {values}: loaded "
                     f"{len(tickers)} tickers in {_secs(t0)}")
    sweep_id = sweep_id_for(config.symphony_id, row["source_text"], config.node_path, config.field, values,
                            settings)
    created = dt.datetime.now(dt.timezone.utc)
    rows = []
    for i, (value, model) in enumerate(models.items(), start=1):
        t0 = time.perf_counter()
        res = run_configured_backtest(model, cache, settings)
        s = res.stats
        rows.append({"sweep_id": sweep_id, "account_id": row["account_id"], "symphony_id": config.symphony_id,
                     "node_path": config.node_path, "field": config.field, "value": value,
                     "start_date": res.first_day.date(), "end_date": res.last_day.date(),
                     "cagr": s["annualized_return"], "sharpe": s["sharpe_ratio"], "max_drawdown": s["max_drawdown"],
                     "calmar": s["calmar_ratio"], "final_value": float(res.nav.iloc[-1]),
                     "config_json": json.dumps(settings, sort_keys=True), "created_at": created})
        context.log.info(f"[{i}/{len(values)}] {config.field}={value}: {res.first_day.date()}..{res.last_day.date()}"
                         f" CAGR {s['annualized_return']:.2%} Sharpe {s['sharpe_ratio']:.2f} "
                         f"max DD {s['max_drawdown']:.2%} in {_secs(t0)}")
    frame = pd.DataFrame(rows)
    n = wh.replace("sweep_results", frame, where={"sweep_id": sweep_id})
    context.log.info(f"wrote sweep {sweep_id}: {n} rows (replacing any earlier sweep of this configuration)")
    table = "| value | CAGR | Sharpe | max DD | Calmar | final USD |\n|---|---|---|---|---|---|\n" + "\n".join(
        f"| {r['value']} | {r['cagr']:.2%} | {r['sharpe']:.2f} | {r['max_drawdown']:.2%} | {r['calmar']:.2f} | "
        f"{r['final_value']:,.2f} |" for r in rows)
    return dg.MaterializeResult(metadata={"sweep_id": sweep_id, "rows": n, "results": dg.MetadataValue.md(table)})


RESEARCH_ASSETS = [research_backtest, parameter_sweep]
