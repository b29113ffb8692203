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

* a ``filter`` node: ``window`` (its ``sort_window``; the sort function must take a window) or ``select_n``;
* a ``wt-inverse-vol`` node: ``window`` (its volatility window);
* an ``if`` node with a single comparison (``binary`` or ``binary-compound``): ``window`` / ``lhs_window`` (the
  left indicator's window) and ``rhs_window`` (the right indicator's window; not for a constant right side).

Any other node or field raises a ``ValueError`` naming the node path and what is supported there. The sweep
also stores the overfitting figures of its values (PBO by CSCV and the deflated Sharpe ratio of the best value,
:func:`overfitting_figures`) in ``research_sweep_overfitting``.

Out-of-sample split (issue 13): ``research_backtest`` takes ``oos_start`` (:class:`ResearchBacktestConfig`;
default: the symphony's ``last_edited_at`` in the registry) and writes Composer's stats of the in-sample,
out-of-sample and whole parts, strategy and benchmark, to ``research_oos_stats`` (:func:`engine.oos.split_stats`).

``walk_forward_study`` (partitioned symphony × study, :data:`pipelines.research.walk_forward_partitions`) runs a
walk-forward over a grid of node parameters (:class:`WalkForwardConfig`; :mod:`engine.walkforward`) and writes
the study's tables (:data:`warehouse.repos.research.STUDY_TABLES`), replacing its earlier rows. See
docs/research.md.
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
from engine.model import Root
from engine.model import tickers as symphony_tickers
from engine.oos import split_stats
from engine.overfitting import deflated_sharpe_of_trials, pbo_cscv
from engine.walkforward import GridRun, ParamAxis, WalkForwardResult, better, find_node, full_sample_objectives, \
    objective_values, run_grid, set_node_param, walk_forward
from resources import MarketDataResource, WarehouseResource
from pipelines.research import symphony_partitions, walk_forward_partitions
from warehouse import Warehouse
from warehouse.repos import research as research_repo

#: A session's target weights "changed" when some ticker's weight moved by more than this (fraction).
TRACE_WEIGHT_TOL = 1e-9

#: Sweepable parameters per node type (``SweepConfig.field``).
SWEEP_FIELDS: dict[str, tuple[str, ...]] = {
    "filter": ("window", "select_n"),
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


def with_node_param(root: Root, node_path: str, field: str, value: int) -> Root:
    """A copy of the symphony with one node parameter changed (models are frozen: rebuilt along the path).

    The sweep's subset of :func:`engine.walkforward.set_node_param`: the fields of :data:`SWEEP_FIELDS`, whole
    values (``sweep_results.value`` is an integer column).

    Args:
        root: the symphony.
        node_path: the node's ``path`` (``"root/0/0"``).
        field: a parameter of :data:`SWEEP_FIELDS` for that node's type.
        value: the new window, trading days (≥ 1), or the filter's ``select_n``.

    Raises:
        ValueError: no node at the path, an unsupported node/field (message names the path), or ``value < 1``.
    """
    if int(value) != value or value < 1:
        raise ValueError(f"sweep value {value!r} at node {node_path!r}: a window must be a positive whole number "
                         f"of trading days")
    node = find_node(root, node_path)
    supported = SWEEP_FIELDS.get(node.step)
    if supported is None or field not in supported:
        where = (f"a {node.step} node supports {', '.join(supported)}" if supported
                 else f"{node.step} nodes have no sweepable parameter")
        raise ValueError(f"cannot sweep {field!r} at node {node.path!r}: {where} (sweepable: "
                         + "; ".join(f"{k}: {', '.join(v)}" for k, v in SWEEP_FIELDS.items())
                         + "; thresholds: walk_forward_job)")
    return set_node_param(root, node_path, field, int(value))


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

class ResearchBacktestConfig(BacktestConfig):
    """A research backtest: the backtest settings plus the out-of-sample start of the IS/OOS split."""

    oos_start: str | None = Field(default=None, description="first out-of-sample day (ISO date); default: the "
                                                             "symphony's last edit recorded in the registry")


def oos_start_for(config_value: str | None, last_edit) -> tuple[dt.date | None, str]:
    """The out-of-sample start and where it came from: the config's date (``'config'``), else the registry's
    last edit (``'last_edit'``, its America/New_York date, like every session date), else ``(None, 'none')``.

    Raises:
        dagster.Failure: the config's date is not an ISO date.
    """
    if config_value:
        try:
            return dt.date.fromisoformat(config_value), "config"
        except ValueError:
            raise dg.Failure(f"oos_start {config_value!r} is not an ISO date (YYYY-MM-DD)") from None
    if last_edit is not None:
        ts = pd.Timestamp(last_edit)
        ts = ts.tz_convert("America/New_York") if ts.tzinfo else ts.tz_localize("UTC").tz_convert("America/New_York")
        return ts.date(), "last_edit"
    return None, "none"


@dg.asset(partitions_def=symphony_partitions, group_name="research", kinds={"python"}, pool="warehouse_writer")
def research_backtest(context: dg.AssetExecutionContext, config: ResearchBacktestConfig,
                      market_data: MarketDataResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
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
    oos_start, source = oos_start_for(config.oos_start, research_repo.last_edited(wh, sid))
    split_meta: dict = {}
    if oos_start is None:
        context.log.warning(f"{sid}: no out-of-sample start (none in the config, no last edit in the registry): "
                            f"no in-sample / out-of-sample split")
        wh.replace("research_oos_stats", pd.DataFrame(columns=["run_id"]), where={"run_id": run_id})  # no stale split
    else:
        split = split_stats(res.nav, oos_start, settings["capital_usd"], res.benchmark_nav)
        n = research_repo.write_oos_stats(wh, run_id, row, oos_start, source, split)
        got = {(r.segment, r.stat): r.value for r in split[split["series"] == "strategy"].itertuples()}
        parts = [f"{seg} Sharpe {got.get((seg, 'sharpe_ratio'), float('nan')):.2f}"
                 for seg in ("in_sample", "out_of_sample") if (seg, "sharpe_ratio") in got]
        context.log.info(f"{sid}: out-of-sample from {oos_start} ({source}): " + (", ".join(parts) or "no sessions")
                         + f"; wrote {n} research_oos_stats rows")
        if (oos_start > res.last_day.date()):
            context.log.warning(f"{sid}: the out-of-sample start {oos_start} is after the last session "
                                f"{res.last_day.date()}: nothing is out of sample yet")
        split_meta = {"oos_start": str(oos_start), "oos_source": source,
                      **{f"{seg}_sharpe": float(got[(seg, "sharpe_ratio")]) for seg in ("in_sample", "out_of_sample")
                         if (seg, "sharpe_ratio") in got and np.isfinite(got[(seg, "sharpe_ratio")])}}
    context.log.info(f"{sid}: done in {_secs(t_all)}")
    return dg.MaterializeResult(metadata={
        **split_meta,
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
                                                     "if left window), 'lhs_window' or 'rhs_window' (if nodes), "
                                                     "'select_n' (filter)")
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
    rows, returns = [], {}
    for i, (value, model) in enumerate(models.items(), start=1):
        t0 = time.perf_counter()
        res = run_configured_backtest(model, cache, settings)
        returns[value] = res.daily_return
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
    over = sweep_overfitting_row(pd.DataFrame(returns).dropna(how="any"), row)
    research_repo.write_sweep_overfitting(wh, sweep_id, over)
    context.log.info(f"sweep {sweep_id}: " + overfitting_line(over))
    table = "| value | CAGR | Sharpe | max DD | Calmar | final USD |\n|---|---|---|---|---|---|\n" + "\n".join(
        f"| {r['value']} | {r['cagr']:.2%} | {r['sharpe']:.2f} | {r['max_drawdown']:.2%} | {r['calmar']:.2f} | "
        f"{r['final_value']:,.2f} |" for r in rows)
    return dg.MaterializeResult(metadata={"sweep_id": sweep_id, "rows": n, "results": dg.MetadataValue.md(table),
                                          **{k: float(over[k]) for k in ("pbo", "dsr") if over.get(k) is not None}})


# ----------------------------------------------------------------------------------------------------------------
# Overfitting statistics and walk-forward studies
# ----------------------------------------------------------------------------------------------------------------

#: CSCV submatrices by default (the PBO paper's S = 16).
DEFAULT_PBO_SPLITS = 16


def pbo_splits_for(n_rows: int, wanted: int = DEFAULT_PBO_SPLITS) -> int | None:
    """The largest even S ≤ ``wanted`` leaving at least 4 rows per submatrix (so each half has ≥ 2 rows for a
    Sharpe ratio), or None when even S = 2 does not fit."""
    s = min(int(wanted), n_rows // 4)
    s -= s % 2
    return s if s >= 2 else None


def overfitting_figures(returns: pd.DataFrame, splits: int = DEFAULT_PBO_SPLITS) -> dict:
    """PBO (CSCV) and DSR of the trials in ``returns`` (T × N daily returns, aligned), as plain numbers.

    Returns:
        ``{"pbo", "pbo_splits", "prob_oos_loss", "degradation_slope", "dsr", "dsr_sr", "dsr_sr0", "best",
        "n_trials", "sessions", "pbo_error", "dsr_error"}``; a figure that cannot be computed (too few rows,
        zero volatility) is None and its ``*_error`` says why.
    """
    out: dict = {"n_trials": int(returns.shape[1]), "sessions": int(len(returns)), "pbo": None, "pbo_splits": None,
                 "prob_oos_loss": None, "degradation_slope": None, "dsr": None, "dsr_sr": None, "dsr_sr0": None,
                 "best": None, "pbo_error": None, "dsr_error": None}
    S = pbo_splits_for(len(returns), splits)
    if returns.shape[1] < 2:
        out["pbo_error"] = out["dsr_error"] = "fewer than 2 configurations"
        return out
    if S is None:
        out["pbo_error"] = f"{len(returns)} sessions are too few for CSCV"
    else:
        try:
            p = pbo_cscv(returns, n_splits=S)
            slope = p.degradation_slope
            out.update(pbo=p.pbo, pbo_splits=S, prob_oos_loss=p.prob_oos_loss,
                       degradation_slope=None if not np.isfinite(slope) else slope)
        except ValueError as exc:
            out["pbo_error"] = str(exc)
    try:
        d = deflated_sharpe_of_trials(returns)
        out.update(dsr=d.dsr, dsr_sr=d.sr, dsr_sr0=d.sr0, best=d.best)
    except ValueError as exc:
        out["dsr_error"] = str(exc)
    return out


def overfitting_line(fig: dict) -> str:
    """One log line of :func:`overfitting_figures`."""
    pbo = f"PBO {fig['pbo']:.1%} (S={fig['pbo_splits']})" if fig.get("pbo") is not None else \
        f"PBO n/a ({fig.get('pbo_error')})"
    dsr = f"DSR {fig['dsr']:.1%}" if fig.get("dsr") is not None else f"DSR n/a ({fig.get('dsr_error')})"
    return f"{fig.get('n_trials')} trials on {fig.get('sessions')} common sessions: {pbo}, {dsr}"


def sweep_overfitting_row(returns: pd.DataFrame, row: dict) -> dict:
    """The ``research_sweep_overfitting`` row of a sweep (``returns``: sessions × values)."""
    fig = overfitting_figures(returns)
    return {"account_id": row["account_id"], "symphony_id": row["symphony_id"], "n_trials": fig["n_trials"],
            "sessions": fig["sessions"], "pbo": fig["pbo"], "pbo_splits": fig["pbo_splits"], "dsr": fig["dsr"],
            "dsr_sr": fig["dsr_sr"], "dsr_sr0": fig["dsr_sr0"],
            "best_value": float(fig["best"]) if fig["best"] is not None else None}


class ParamAxisConfig(dg.Config):
    """One parameter of a walk-forward grid."""

    node_path: str = Field(description="the node's path, e.g. 'root/0/0' (see the symphony's decision trace)")
    field: str = Field(description="'window' (filter sort / inverse-vol / if left), 'lhs_window', 'rhs_window', "
                                   "'threshold' (an if node's constant right side) or 'select_n' (filter)")
    values: list[float] = Field(description="values to try: trading days / count (whole numbers) or threshold "
                                            "(the left function's display units, percent for returns)")


class WalkForwardConfig(BacktestConfig):
    """A walk-forward study: the grid, the windows, the objective and the rules; the backtest settings shared."""

    params: list[ParamAxisConfig] = Field(description="the grid: one entry per node parameter (cartesian product)")
    is_sessions: int = Field(default=504, description="in-sample window, sessions (504 ≈ 2 years)")
    oos_sessions: int = Field(default=126, description="out-of-sample step, sessions (126 ≈ 6 months)")
    anchored: bool = Field(default=False, description="anchored in-sample windows (from the first session) "
                                                      "instead of rolling ones")
    objective: str = Field(default="sharpe", description="sharpe, annualized_return, calmar, or a key of "
                                                         "Composer's stat set (e.g. sortino_ratio, max_drawdown)")
    min_trades: int = Field(default=0, description="least allocation changes a configuration needs in the "
                                                   "in-sample window to be chosen")
    pbo_splits: int = Field(default=DEFAULT_PBO_SPLITS, description="CSCV submatrices S (even) for the PBO")


def axes_of(config: WalkForwardConfig) -> list[ParamAxis]:
    """The grid axes of a :class:`WalkForwardConfig` (values sorted, duplicates dropped)."""
    return [ParamAxis(p.node_path, p.field, tuple(sorted(set(p.values)))) for p in config.params]


def _rebased(returns: pd.Series, sessions: pd.DatetimeIndex) -> pd.Series:
    r = returns.reindex(sessions).fillna(0.0)
    return (1.0 + r).cumprod()


def study_frames(row: dict, grid: GridRun, wf: WalkForwardResult, over: dict, spec: dict,
                 seconds: float) -> dict[str, pd.DataFrame]:
    """The rows of one study for :data:`warehouse.repos.research.STUDY_TABLES` (without the key columns)."""
    acct = row["account_id"]
    key = wf.objective
    full_obj = full_sample_objectives(grid, key)
    R = grid.returns.to_numpy(dtype="float64")
    sessions = pd.DatetimeIndex(grid.returns.index)
    sharpe = objective_values(R, "sharpe_ratio")
    cagr = objective_values(R, "annualized_rate_of_return")
    mdd = objective_values(R, "max_drawdown", sessions=sessions) if len(R) else np.array([])
    chosen = wf.windows["config_idx"].value_counts()
    configs = pd.DataFrame({
        "account_id": acct, "config_idx": grid.configs["config_idx"], "label": grid.configs["label"],
        "params_json": grid.configs["params_json"], "objective": full_obj.to_numpy(), "cagr": cagr,
        "sharpe": sharpe, "max_drawdown": mdd, "trades": grid.changes.sum().to_numpy().astype(int),
        "times_chosen": [int(chosen.get(i, 0)) for i in grid.configs["config_idx"]]})
    w = wf.windows
    names = [a.name for a in grid.axes]
    windows = pd.DataFrame({
        "account_id": acct, "window": w["window"], "is_start": w["is_start"].dt.date, "is_end": w["is_end"].dt.date,
        "oos_start": w["oos_start"].dt.date, "oos_end": w["oos_end"].dt.date, "eligible": w["eligible"],
        "config_idx": w["config_idx"], "label": w["label"],
        "params_json": [json.dumps({n: (None if pd.isna(r[n]) else float(r[n])) for n in names}, sort_keys=True)
                        for _, r in w.iterrows()],
        "is_objective": w["is_objective"], "oos_objective": w["oos_objective"], "oos_return": w["oos_return"]})
    sign = better(key)
    best = int(full_obj.index[int(np.nanargmax(sign * full_obj.to_numpy()))]) if full_obj.notna().any() else None
    oos_sessions = pd.DatetimeIndex(wf.oos_returns.index)
    curves = pd.DataFrame({
        "account_id": acct, "session_date": oos_sessions.date, "oos_return": wf.oos_returns.to_numpy(),
        "oos_growth": wf.oos_growth.to_numpy(),
        "best_growth": (_rebased(grid.returns[best], oos_sessions).to_numpy() if best is not None else np.nan),
        "original_growth": (_rebased(grid.original, oos_sessions).to_numpy() if grid.original is not None
                            else np.nan)})
    drops = wf.stability_summary()
    stab = wf.choice_frequency.copy()
    mean_obj = []
    for _, r in stab.iterrows():
        mask = grid.configs[r["param"]].astype(float) == float(r["value"])
        mean_obj.append(float(np.nanmean(full_obj.to_numpy()[mask.to_numpy()])) if mask.any() else np.nan)
    stab = stab.assign(account_id=acct, mean_objective=mean_obj,
                       mean_relative_drop=[drops.get(p, np.nan) for p in stab["param"]])
    stats = {"oos": {k: (None if not np.isfinite(v) else float(v)) for k, v in wf.oos_stats.items()},
             "overfitting": over, "stability": drops,
             "best_full_sample": {"config_idx": best,
                                  "label": grid.configs.loc[grid.configs["config_idx"] == best, "label"].iloc[0]
                                  if best is not None else None,
                                  "objective": float(full_obj[best]) if best is not None else None}}
    study = pd.DataFrame([{
        "account_id": acct, "spec_json": json.dumps(spec, sort_keys=True), "objective": key,
        "anchored": wf.anchored, "is_sessions": wf.is_sessions, "oos_sessions": wf.oos_sessions,
        "min_trades": wf.min_trades, "n_configs": len(grid.configs), "first_session": sessions[0].date(),
        "last_session": sessions[-1].date(), "oos_cagr": wf.oos_stats.get("annualized_rate_of_return"),
        "oos_sharpe": wf.oos_stats.get("sharpe_ratio"), "oos_max_drawdown": wf.oos_stats.get("max_drawdown"),
        "best_config_idx": best, "pbo": over.get("pbo"), "pbo_splits": over.get("pbo_splits"),
        "dsr": over.get("dsr"), "dsr_sr": over.get("dsr_sr"), "dsr_sr0": over.get("dsr_sr0"),
        "stats_json": json.dumps(stats, sort_keys=True, default=str), "seconds": seconds,
        "created_at": dt.datetime.now(dt.timezone.utc)}])
    return {"research_studies": study, "research_study_configs": configs, "research_wf_windows": windows,
            "research_wf_curves": curves, "research_param_stability": stab}


def windows_markdown(wf: WalkForwardResult) -> str:
    """The walk-forward windows as a Markdown table (asset metadata)."""
    head = "| window | in sample | out of sample | chosen | IS objective | OOS return |\n|---|---|---|---|---|---|\n"
    return head + "\n".join(
        f"| {r.window} | {r.is_start.date()}..{r.is_end.date()} | {r.oos_start.date()}..{r.oos_end.date()} | "
        f"{r.label} | {r.is_objective:.3f} | {r.oos_return:.2%} |" for r in wf.windows.itertuples())


@dg.asset(partitions_def=walk_forward_partitions, group_name="research", kinds={"python"}, pool="warehouse_writer")
def walk_forward_study(context: dg.AssetExecutionContext, config: WalkForwardConfig,
                       market_data: MarketDataResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Walk-forward optimisation of one symphony over a parameter grid, with stability, DSR and PBO."""
    keys = context.partition_key.keys_by_dimension
    sid, study = keys["symphony"], keys["study"]
    t_all = time.perf_counter()
    settings = backtest_settings(config)
    wh = warehouse.open()
    row, root = load_symphony(wh, sid)
    axes = axes_of(config)
    tickers = sorted(symphony_tickers(root) | {config.benchmark})
    end = dt.date.fromisoformat(config.end) if config.end else None
    cache = IndicatorCache(market_data.close_reader().closes(tickers, end=end))
    n = int(np.prod([len(a.values) for a in axes])) if axes else 0
    context.log.info(f"{sid}/{study}: {root.name!r}, grid of {n} configurations over "
                     + ", ".join(f"{a.name} in {list(a.values)}" for a in axes))
    step = max(1, n // 20)

    def progress(i, total, label, res, secs):
        if i % step == 0 or i == total:
            context.log.info(f"[{i}/{total}] {label}: {res.first_day.date()}..{res.last_day.date()} "
                             f"Sharpe {res.stats['sharpe_ratio']:.2f} in {secs:.2f}s")

    kw = dict(start=settings["start"], end=settings["end"], capital=settings["capital_usd"],
              slippage_bps=settings["slippage_bps"], apply_reg_fee=settings["apply_reg_fee"],
              apply_taf_fee=settings["apply_taf_fee"], benchmark=settings["benchmark"])
    try:
        grid = run_grid(root, cache, axes, backtest=kw, progress=progress)
        wf = walk_forward(grid, is_sessions=config.is_sessions, oos_sessions=config.oos_sessions,
                          anchored=config.anchored, objective=config.objective, min_trades=config.min_trades)
    except ValueError as exc:
        raise dg.Failure(f"walk-forward {sid}/{study}: {exc}") from exc
    context.log.info(f"{sid}/{study}: {len(grid.returns)} common sessions "
                     f"{grid.returns.index[0].date()}..{grid.returns.index[-1].date()}, {len(wf.windows)} windows "
                     f"({'anchored' if config.anchored else 'rolling'} {config.is_sessions} IS / "
                     f"{config.oos_sessions} OOS sessions); stitched OOS CAGR "
                     f"{wf.oos_stats['annualized_rate_of_return']:.2%}, Sharpe {wf.oos_stats['sharpe_ratio']:.2f}")
    over = overfitting_figures(grid.returns, config.pbo_splits)
    context.log.info(f"{sid}/{study}: " + overfitting_line(over))
    spec = {"params": [{"node_path": a.node_path, "field": a.field, "values": list(a.values)} for a in axes],
            "is_sessions": config.is_sessions, "oos_sessions": config.oos_sessions, "anchored": config.anchored,
            "objective": wf.objective, "min_trades": config.min_trades, "pbo_splits": config.pbo_splits,
            "backtest": settings}
    frames = study_frames(row, grid, wf, over, spec, time.perf_counter() - t_all)
    written = research_repo.write_study(wh, sid, study, frames)
    context.log.info(f"{sid}/{study}: wrote " + ", ".join(f"{t} {k}" for t, k in written.items())
                     + f" (replacing the study's earlier rows) in {_secs(t_all)}")
    return dg.MaterializeResult(metadata={
        "configurations": len(grid.configs), "windows": len(wf.windows), "sessions": len(grid.returns),
        "oos_cagr": float(wf.oos_stats["annualized_rate_of_return"]),
        "oos_sharpe": float(wf.oos_stats["sharpe_ratio"]),
        **{k: float(over[k]) for k in ("pbo", "dsr") if over.get(k) is not None},
        "windows_table": dg.MetadataValue.md(windows_markdown(wf)), "seconds": time.perf_counter() - t_all})


RESEARCH_ASSETS = [research_backtest, parameter_sweep, walk_forward_study]
