"""Walk-forward optimisation of a symphony's parameters over a grid, with parameter stability.

Vocabulary:

* **parameter** — one number of one node, addressed by the node's ``path`` and a field (:data:`PARAM_FIELDS`):
  a filter's sort ``window`` or ``select_n``; an inverse-volatility ``window``; an ``if`` node's single
  comparison's ``window``/``lhs_window`` (left indicator), ``rhs_window`` (right indicator) or ``threshold``
  (a constant right side, in the left function's display units: percent for return-type functions).
  :func:`set_node_param` returns a copy of the symphony with one parameter changed.
* **grid** — the cartesian product of a few :class:`ParamAxis` (node path, field, values); each point is a
  **configuration** (a trial), numbered ``config_idx = 0 … N−1`` in :func:`grid_configs` order (the last axis
  varies fastest).
* **returns matrix** — :func:`run_grid` backtests every configuration once over the whole window (backtests are
  path-dependent: a configuration's return on a session does not depend on where a walk-forward window starts)
  and aligns their daily simple returns (fractions) on the sessions all of them have: T × N, index = sessions,
  columns = ``config_idx``. The first aligned session's return of a configuration that started that day is the
  first day's cost (``V₀ / capital − 1``).

Walk-forward (:func:`walk_forward`; Pardo, *The Evaluation and Optimization of Trading Strategies*, 2008, ch. 11):

* windows (:func:`wf_windows`, in sessions of the returns matrix): the first in-sample (IS) window is sessions
  ``[0, L)``; each out-of-sample (OOS) step is the ``K`` sessions after its IS window; the next IS window moves
  forward by ``K`` — **rolling**: ``[kK, kK + L)``, fixed length L; **anchored**: ``[0, L + kK)``, always from
  the first session. The last OOS step may be shorter than K (cut at the last session).
* in each window, every configuration's IS objective (:data:`OBJECTIVES`, or any key of Composer's stat set
  :func:`engine.metrics.full_stats`; for ``max_drawdown``, ``standard_deviation`` and the other keys of
  :data:`LOWER_IS_BETTER` lower is better) is computed on the IS slice of its daily returns as if the slice
  started from 1 (a slice of n returns is a NAV of n + 1 values; Composer's formulas of
  :mod:`engine.metrics`); the configurations with fewer than ``min_trades`` **trades** in the IS window are not
  eligible (a trade = a session on which the configuration's target allocation changed, any weight by more than
  1e-9; the first backtest session does not count); the eligible configuration with the best IS objective is
  chosen (ties: the lowest ``config_idx``); with no eligible configuration the OOS step stays in cash (0 return).
* its returns over the OOS step are the walk-forward's returns there; the stitched OOS returns chain the steps
  into one equity curve (growth of 1) with its own Composer stats. Switching configuration between steps is not
  charged extra: each configuration's returns already include its own trading costs, and the switch itself is
  assumed to happen at that session's close together with the chosen configuration's own trades.

Parameter stability (:class:`WalkForwardResult`):

* ``choice_frequency`` — how often each value of each parameter was chosen (count and share of the windows);
* ``neighbours`` — per window and parameter, the chosen configuration's IS objective against its grid
  neighbours (the configurations equal to it except one step up or down that parameter's values): ``drop`` =
  chosen − mean(neighbours) and ``relative_drop`` = drop / |chosen|. A large drop says the optimum is a narrow
  peak (fragile); a small one a plateau.
"""
from __future__ import annotations

import functools
import itertools
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.backtest import BacktestResult, run_backtest
from engine.evaluate import IndicatorCache
from engine.metrics import PERIODS_PER_YEAR, full_stats
from engine.model import Comparison, Constant, Filter, If, IndicatorRef, MultiTickerComparison, Root, \
    WeightInverseVol, iter_nodes

#: Settable parameters per node type.
PARAM_FIELDS: dict[str, tuple[str, ...]] = {
    "filter": ("window", "select_n"),
    "wt-inverse-vol": ("window",),
    "if": ("window", "lhs_window", "rhs_window", "threshold"),
}

#: The objectives computed fast (vectorised over configurations); any other :func:`engine.metrics.full_stats`
#: key is also accepted (computed per configuration). Aliases: :data:`OBJECTIVE_ALIASES`.
OBJECTIVES: tuple[str, ...] = ("sharpe_ratio", "annualized_rate_of_return", "calmar_ratio")
OBJECTIVE_ALIASES: dict[str, str] = {"sharpe": "sharpe_ratio", "annualized_return": "annualized_rate_of_return",
                                     "cagr": "annualized_rate_of_return", "calmar": "calmar_ratio"}
#: Stats of Composer's set for which a lower value is better.
LOWER_IS_BETTER: frozenset[str] = frozenset({"max_drawdown", "standard_deviation", "herfindahl_index",
                                             "annualized_turnover", "top_one_day_contribution",
                                             "top_five_percent_day_contribution",
                                             "top_ten_percent_day_contribution"})
#: A target weight must move by more than this (fraction) for a session to count as a trade.
TRADE_WEIGHT_TOL = 1e-9


# ----------------------------------------------------------------------------------------------------------------
# Parameters of a symphony
# ----------------------------------------------------------------------------------------------------------------

def find_node(root: Root, node_path: str):
    """The node at ``node_path``.

    Raises:
        ValueError: no such node (the message lists the nodes that have parameters).
    """
    for node in iter_nodes(root):
        if node.path == node_path:
            return node
    have = [f"{n.path} ({n.step})" for n in iter_nodes(root) if n.step in PARAM_FIELDS]
    raise ValueError(f"no node at path {node_path!r} in symphony {root.name!r}; nodes with parameters: "
                     f"{', '.join(have) or 'none'}")


def _whole(value, what: str, node_path: str) -> int:
    if isinstance(value, bool) or not float(value).is_integer() or value < 1:
        raise ValueError(f"{what} {value!r} at node {node_path!r}: must be a positive whole number")
    return int(value)


def _set(node, field_name: str, value):
    supported = PARAM_FIELDS.get(node.step)
    if supported is None or field_name not in supported:
        where = (f"a {node.step} node supports {', '.join(supported)}" if supported
                 else f"{node.step} nodes have no settable parameter")
        raise ValueError(f"cannot set {field_name!r} at node {node.path!r}: {where} (settable: "
                         + "; ".join(f"{k}: {', '.join(v)}" for k, v in PARAM_FIELDS.items()) + ")")
    if isinstance(node, Filter):
        if field_name == "select_n":
            return node.model_copy(update={"select_n": _whole(value, "select_n", node.path)})
        if node.sort_window is None:
            raise ValueError(f"cannot set 'window' at node {node.path!r}: its sort function {node.sort_fn!r} "
                             f"takes no window")
        return node.model_copy(update={"sort_window": _whole(value, "window", node.path)})
    if isinstance(node, WeightInverseVol):
        return node.model_copy(update={"window": _whole(value, "window", node.path)})
    assert isinstance(node, If)
    cond = node.condition
    if not isinstance(cond, (Comparison, MultiTickerComparison)):
        raise ValueError(f"cannot set {field_name!r} at node {node.path!r}: its condition is a compound of several "
                         f"comparisons; only single comparisons are supported")
    if field_name == "threshold":
        if not isinstance(cond.rhs, Constant):
            raise ValueError(f"cannot set 'threshold' at node {node.path!r}: its right side is "
                             f"{cond.rhs.label()}, not a constant")
        if not np.isfinite(float(value)):
            raise ValueError(f"threshold {value!r} at node {node.path!r}: must be a finite number")
        new_cond = cond.model_copy(update={"rhs": Constant(value=float(value))})
        return node.model_copy(update={"condition": new_cond})
    side = "rhs" if field_name == "rhs_window" else "lhs"
    ref = getattr(cond, side)
    if not isinstance(ref, IndicatorRef) or ref.window is None:
        what = "a constant" if not isinstance(ref, IndicatorRef) else f"{ref.fn}, which takes no window"
        raise ValueError(f"cannot set {field_name!r} at node {node.path!r}: its {side} is {what}")
    new_ref = ref.model_copy(update={"window": _whole(value, "window", node.path)})
    return node.model_copy(update={"condition": cond.model_copy(update={side: new_ref})})


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


def set_node_param(root: Root, node_path: str, field_name: str, value) -> Root:
    """A copy of the symphony with one parameter changed (models are frozen: rebuilt along the path).

    Args:
        root: the symphony.
        node_path: the node's ``path`` (``"root/0/0"``).
        field_name: one of :data:`PARAM_FIELDS` for that node's type.
        value: a window (trading days) or ``select_n``: a positive whole number; a threshold: a number in the
            left function's display units.

    Raises:
        ValueError: no node at the path, a field the node does not have (the message names the path and what is
            settable), or a bad value.
    """
    find_node(root, node_path)
    return _replace_at(root, node_path, lambda n: _set(n, field_name, value))


def get_node_param(root: Root, node_path: str, field_name: str):
    """The current value of one parameter (as :func:`set_node_param` addresses it); raises as it does."""
    node = find_node(root, node_path)
    _set(node, field_name, 1)  # validates the address (a window of 1 is always a valid value)
    if isinstance(node, Filter):
        return node.select_n if field_name == "select_n" else node.sort_window
    if isinstance(node, WeightInverseVol):
        return node.window
    cond = node.condition
    if field_name == "threshold":
        return cond.rhs.value
    return (cond.rhs if field_name == "rhs_window" else cond.lhs).window


@dataclass(frozen=True)
class ParamAxis:
    """One axis of a grid: a node parameter and the values to try (windows/select-n whole, thresholds any)."""

    node_path: str
    field: str
    values: tuple

    @property
    def name(self) -> str:
        """``"root/0/0.window"``: the parameter's name in tables and charts."""
        return f"{self.node_path}.{self.field}"


def grid_configs(axes: Sequence[ParamAxis]) -> list[dict[str, float]]:
    """The cartesian product of the axes: ``[{axis.name: value, …}, …]`` in ``config_idx`` order (last axis
    fastest).

    Raises:
        ValueError: no axis, an axis without values, or two axes naming the same parameter.
    """
    if not axes:
        raise ValueError("a grid needs at least one parameter axis")
    names = [a.name for a in axes]
    if len(set(names)) != len(names):
        raise ValueError(f"the same parameter appears twice in the grid: {names}")
    for a in axes:
        if not a.values:
            raise ValueError(f"parameter {a.name}: no values to try")
    return [dict(zip(names, combo)) for combo in itertools.product(*(a.values for a in axes))]


def config_label(params: dict) -> str:
    """``"root/0/0.window=10, root/0/0.select_n=2"``."""
    return ", ".join(f"{k}={_fmt(v)}" for k, v in params.items())


def _fmt(v) -> str:
    return str(int(v)) if float(v).is_integer() else f"{float(v):g}"


def apply_config(root: Root, axes: Sequence[ParamAxis], params: dict) -> Root:
    """The symphony with every parameter of ``params`` (keyed by :attr:`ParamAxis.name`) set."""
    model = root
    for a in axes:
        model = set_node_param(model, a.node_path, a.field, params[a.name])
    return model


# ----------------------------------------------------------------------------------------------------------------
# The grid's returns matrix
# ----------------------------------------------------------------------------------------------------------------

@dataclass
class GridRun:
    """:func:`run_grid`'s answer.

    Attributes:
        axes: the grid's axes.
        configs: one row per configuration: ``config_idx``, ``label``, ``params`` (dict), ``params_json``, one
            column per axis name (the value), ``first_session`` (Timestamp), ``seconds`` (backtest time).
        returns: T × N daily simple returns (fractions) on the sessions every configuration has (index =
            sessions, columns = ``config_idx``).
        changes: T × N bool, True where the configuration's target allocation changed (a trade; see the module
            docstring), same shape as ``returns``.
        original: the symphony as written backtested with the same settings (its daily returns on the same
            sessions), or None when ``include_original`` was false.
        seconds: wall time of all the backtests.
    """

    axes: list[ParamAxis]
    configs: pd.DataFrame
    returns: pd.DataFrame
    changes: pd.DataFrame
    original: pd.Series | None = None
    seconds: float = 0.0
    results: dict[int, BacktestResult] = field(default_factory=dict, repr=False)


def _changes(res: BacktestResult) -> pd.Series:
    w = res.target_weights.to_numpy(dtype="float64")
    out = np.zeros(len(w), dtype=bool)
    if len(w) > 1 and w.shape[1]:
        out[1:] = np.nanmax(np.abs(np.diff(np.nan_to_num(w), axis=0)), axis=1) > TRADE_WEIGHT_TOL
    return pd.Series(out, index=res.target_weights.index)


def run_grid(root: Root, closes: pd.DataFrame | IndicatorCache, axes: Sequence[ParamAxis], *,
             backtest: dict | None = None, include_original: bool = True, keep_results: bool = False,
             progress: Callable[[int, int, str, BacktestResult, float], None] | None = None) -> GridRun:
    """Backtest every configuration of the grid once over the whole window; align their daily returns.

    Args:
        root: the symphony.
        closes: wide adjusted closes (sessions × tickers, USD) with every ticker the symphony reads, or a shared
            :class:`engine.evaluate.IndicatorCache` (indicator series are then computed once for all configs).
        axes: the grid (:func:`grid_configs`).
        backtest: keyword arguments of :func:`engine.backtest.run_backtest` (``start``, ``end``, ``capital``,
            ``slippage_bps``, ``apply_reg_fee``, ``apply_taf_fee``, ``benchmark``, …).
        include_original: also backtest the symphony as written (:attr:`GridRun.original`).
        keep_results: keep every :class:`~engine.backtest.BacktestResult` in :attr:`GridRun.results`.
        progress: called after each backtest with ``(i, n, label, result, seconds)`` (1-based ``i``).

    Raises:
        ValueError: a bad axis or value (from :func:`set_node_param`, raised before any backtest runs), or no
            session common to every configuration.
        engine.errors.DataError: a configuration never warms up in the window.
    """
    axes = list(axes)
    params_list = grid_configs(axes)
    models = [apply_config(root, axes, p) for p in params_list]  # fail fast on a bad grid
    cache = closes if isinstance(closes, IndicatorCache) else IndicatorCache(closes)
    kw = dict(backtest or {})
    t_all = time.perf_counter()
    rets, chg, rows, kept = {}, {}, [], {}
    for i, (params, model) in enumerate(zip(params_list, models)):
        t0 = time.perf_counter()
        res = run_backtest(model, cache, **kw)
        secs = time.perf_counter() - t0
        rets[i] = res.daily_return
        chg[i] = _changes(res)
        label = config_label(params)
        rows.append({"config_idx": i, "label": label, "params": params,
                     "params_json": json.dumps(params, sort_keys=True), **params,
                     "first_session": res.first_day, "seconds": secs})
        if keep_results:
            kept[i] = res
        if progress is not None:
            progress(i + 1, len(models), label, res, secs)
    returns = pd.DataFrame(rets).dropna(how="any")
    if returns.empty:
        raise ValueError("the configurations of the grid share no backtest session (their warm-ups never overlap "
                         "inside the window)")
    changes = pd.DataFrame(chg).reindex(returns.index).fillna(False).astype(bool)
    original = None
    if include_original:
        res = run_backtest(root, cache, **kw)
        original = res.daily_return.reindex(returns.index).rename("original")
    return GridRun(axes=axes, configs=pd.DataFrame(rows), returns=returns, changes=changes, original=original,
                   seconds=time.perf_counter() - t_all, results=kept)


# ----------------------------------------------------------------------------------------------------------------
# Objectives
# ----------------------------------------------------------------------------------------------------------------

@functools.cache
def _stat_keys() -> frozenset[str]:
    """The keys of Composer's stat set (:func:`engine.metrics.full_stats`)."""
    return frozenset(full_stats(pd.Series([1.0, 1.01, 1.0], index=pd.date_range("2020-01-01", periods=3)), 1.0))


def canonical_objective(objective: str) -> str:
    """The stat key of ``objective`` (aliases resolved).

    Raises:
        ValueError: not an objective nor a key of Composer's stat set.
    """
    key = OBJECTIVE_ALIASES.get(objective, objective)
    if key in OBJECTIVES:
        return key
    known = _stat_keys()
    if key not in known:
        raise ValueError(f"unknown objective {objective!r}: use sharpe, annualized_return, calmar or one of "
                         f"Composer's stats ({', '.join(sorted(known))})")
    return key


def objective_values(returns: np.ndarray, objective: str, periods_per_year: int = PERIODS_PER_YEAR,
                     sessions: pd.DatetimeIndex | None = None) -> np.ndarray:
    """The objective of each column of an n × N slice of daily returns, the slice starting from a value of 1.

    * ``sharpe_ratio`` = mean · 252 / (stdev(ddof = 1) · √252);
    * ``annualized_rate_of_return`` = (Π(1 + r))^(252 / (n + 1)) − 1 (Composer's exponent: n returns, n + 1
      values);
    * ``calmar_ratio`` = annualised return / max drawdown of the growth path (the starting 1 counted);
    * any other key: :func:`engine.metrics.full_stats` of the NAV ``[1, Π(1 + r)…]`` (needs ``sessions``, the
      slice's dates, for the trailing and calendar stats; without it a daily range is used).

    Returns:
        (N,) floats, NaN where undefined (fewer than 2 returns, zero volatility, no drawdown).
    """
    key = canonical_objective(objective)
    r = np.asarray(returns, dtype="float64")
    if r.ndim == 1:
        r = r[:, None]
    n, N = r.shape
    nan = np.full(N, np.nan)
    if n == 0:
        return nan
    growth = np.cumprod(1.0 + r, axis=0)
    if key == "sharpe_ratio":
        if n < 2:
            return nan
        sd = r.std(axis=0, ddof=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(sd > 0, r.mean(axis=0) * periods_per_year / (sd * math.sqrt(periods_per_year)), np.nan)
    with np.errstate(invalid="ignore"):
        ann = np.where(growth[-1] > 0, growth[-1] ** (periods_per_year / (n + 1)) - 1.0, np.nan)
    if key == "annualized_rate_of_return":
        return ann
    if key == "calmar_ratio":
        path = np.vstack([np.ones((1, N)), growth])
        mdd = np.max(1.0 - path / np.maximum.accumulate(path, axis=0), axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(mdd > 0, ann / mdd, np.nan)
    if sessions is None or len(sessions) != n:
        sessions = pd.bdate_range("2000-01-03", periods=n)
    idx = pd.DatetimeIndex([sessions[0] - pd.Timedelta(days=1), *sessions])
    out = np.empty(N)
    for j in range(N):
        nav = pd.Series(np.concatenate([[1.0], growth[:, j]]), index=idx)
        out[j] = full_stats(nav, 1.0).get(key, np.nan)
    return out


def better(objective: str) -> int:
    """+1 when a higher value of ``objective`` is better, −1 when lower is (:data:`LOWER_IS_BETTER`)."""
    return -1 if canonical_objective(objective) in LOWER_IS_BETTER else 1


# ----------------------------------------------------------------------------------------------------------------
# Walk-forward
# ----------------------------------------------------------------------------------------------------------------

def wf_windows(n_sessions: int, is_sessions: int, oos_sessions: int, anchored: bool = False) -> list[tuple]:
    """Walk-forward windows as half-open row ranges ``(is_start, is_end, oos_start, oos_end)``.

    Rolling: IS ``[kK, kK + L)``; anchored: IS ``[0, L + kK)``; OOS ``[L + kK, min(L + (k+1)K, n))``; k = 0, 1, …
    while the OOS step has at least one session (L = ``is_sessions``, K = ``oos_sessions``, n = ``n_sessions``).

    Raises:
        ValueError: ``is_sessions < 2``, ``oos_sessions < 1``, or not enough sessions for one IS window and one OOS
            session.
    """
    if is_sessions < 2:
        raise ValueError(f"the in-sample window must be at least 2 sessions, got {is_sessions}")
    if oos_sessions < 1:
        raise ValueError(f"the out-of-sample step must be at least 1 session, got {oos_sessions}")
    if n_sessions < is_sessions + 1:
        raise ValueError(f"{n_sessions} sessions are not enough for an in-sample window of {is_sessions} sessions "
                         f"and one out-of-sample session")
    out = []
    k = 0
    while True:
        oos_start = is_sessions + k * oos_sessions
        if oos_start >= n_sessions:
            break
        is_start = 0 if anchored else k * oos_sessions
        out.append((is_start, oos_start, oos_start, min(oos_start + oos_sessions, n_sessions)))
        k += 1
    return out


@dataclass
class WalkForwardResult:
    """:func:`walk_forward`'s answer.

    Attributes:
        windows: one row per window: ``window`` (0-based), ``is_start``, ``is_end``, ``oos_start``, ``oos_end``
            (first/last session, Timestamps, inclusive), ``is_sessions``, ``oos_sessions``, ``eligible`` (how
            many configurations met the minimum-trades rule), ``config_idx`` (−1: none eligible, cash), ``label``,
            one column per parameter (the chosen value, NaN for cash), ``is_objective``, ``oos_objective``,
            ``oos_return`` (the step's compounded return, fraction).
        is_objective: windows × configurations, the IS objective (NaN where not eligible).
        oos_returns: the stitched OOS daily returns (fractions), index = sessions.
        oos_growth: growth of 1 of the stitched returns (index = sessions).
        oos_stats: :func:`engine.metrics.full_stats` of the stitched curve (from 1).
        choice_frequency: ``param, value, chosen, share`` — how often each grid value was chosen (share of the
            windows with a choice).
        neighbours: ``window, param, chosen_objective, neighbour_mean, drop, relative_drop, n_neighbours``.
        objective: the objective's stat key; ``anchored``, ``is_sessions``, ``oos_sessions``, ``min_trades``:
            the settings.
    """

    windows: pd.DataFrame
    is_objective: pd.DataFrame
    oos_returns: pd.Series
    oos_growth: pd.Series
    oos_stats: dict
    choice_frequency: pd.DataFrame
    neighbours: pd.DataFrame
    objective: str
    anchored: bool
    is_sessions: int
    oos_sessions: int
    min_trades: int

    def stability_summary(self) -> dict[str, float]:
        """``{param: mean relative drop}`` over the windows (NaN without neighbours)."""
        if self.neighbours.empty:
            return {}
        return {p: float(g["relative_drop"].mean()) for p, g in self.neighbours.groupby("param", sort=False)}


def _neighbour_indices(configs: pd.DataFrame, axes: Sequence[ParamAxis], idx: int) -> dict[str, list[int]]:
    """For each axis, the configurations equal to ``idx`` except one grid step along that axis."""
    row = configs.loc[configs["config_idx"] == idx].iloc[0]
    out = {}
    for a in axes:
        values = list(a.values)
        pos = values.index(row[a.name])
        found = []
        for step in (-1, 1):
            if 0 <= pos + step < len(values):
                mask = np.ones(len(configs), dtype=bool)
                for b in axes:
                    want = values[pos + step] if b.name == a.name else row[b.name]
                    mask &= (configs[b.name] == want).to_numpy()
                found.extend(int(i) for i in configs.loc[mask, "config_idx"])
        out[a.name] = found
    return out


def walk_forward(grid: GridRun, *, is_sessions: int, oos_sessions: int, anchored: bool = False,
                 objective: str = "sharpe_ratio", min_trades: int = 0) -> WalkForwardResult:
    """Walk-forward optimisation over a :class:`GridRun` (see the module docstring for the rules).

    Args:
        grid: the configurations and their aligned returns (:func:`run_grid`, or built by hand for tests).
        is_sessions: L, the in-sample window length (sessions; the first window's length when anchored).
        oos_sessions: K, the out-of-sample step (sessions).
        anchored: anchored instead of rolling in-sample windows.
        objective: ``sharpe``, ``annualized_return``, ``calmar`` or a key of Composer's stat set.
        min_trades: the least number of trades (allocation changes) a configuration needs in the IS window.

    Raises:
        ValueError: bad window sizes (:func:`wf_windows`), an unknown objective, ``min_trades < 0``.
    """
    key = canonical_objective(objective)
    if min_trades < 0:
        raise ValueError(f"min_trades must be ≥ 0, got {min_trades}")
    sign = better(key)
    R = grid.returns.to_numpy(dtype="float64")
    C = grid.changes.to_numpy(dtype=bool)
    sessions = pd.DatetimeIndex(grid.returns.index)
    cols = list(grid.returns.columns)
    configs = grid.configs.set_index("config_idx", drop=False)
    wins = wf_windows(len(sessions), is_sessions, oos_sessions, anchored)
    rows, is_obj, pieces, neigh = [], [], [], []
    for w, (a, b, c, d) in enumerate(wins):
        vals = objective_values(R[a:b], key, sessions=sessions[a:b])
        eligible = C[a:b].sum(axis=0) >= min_trades
        vals = np.where(eligible, vals, np.nan)
        is_obj.append(vals)
        score = np.where(np.isfinite(vals), sign * vals, -np.inf)
        row = {"window": w, "is_start": sessions[a], "is_end": sessions[b - 1], "oos_start": sessions[c],
               "oos_end": sessions[d - 1], "is_sessions": b - a, "oos_sessions": d - c,
               "eligible": int(np.isfinite(vals).sum())}
        if not np.isfinite(vals).any():
            oos = np.zeros(d - c)
            row.update(config_idx=-1, label="cash (no eligible configuration)", is_objective=np.nan,
                       **{ax.name: np.nan for ax in grid.axes})
        else:
            j = int(np.argmax(score))
            idx = cols[j]
            oos = R[c:d, j]
            params = configs.loc[idx, "params"]
            row.update(config_idx=int(idx), label=configs.loc[idx, "label"], is_objective=float(vals[j]),
                       **{ax.name: params[ax.name] for ax in grid.axes})
            for pname, nb in _neighbour_indices(grid.configs, grid.axes, int(idx)).items():
                nvals = [vals[cols.index(k)] for k in nb if np.isfinite(vals[cols.index(k)])]
                if nvals:
                    mean = float(np.mean(nvals))
                    drop = sign * (float(vals[j]) - mean)
                    neigh.append({"window": w, "param": pname, "chosen_objective": float(vals[j]),
                                  "neighbour_mean": mean, "drop": drop,
                                  "relative_drop": drop / abs(float(vals[j])) if vals[j] != 0 else np.nan,
                                  "n_neighbours": len(nvals)})
        row["oos_objective"] = float(objective_values(oos, key, sessions=sessions[c:d])[0])
        row["oos_return"] = float(np.prod(1.0 + oos) - 1.0)
        rows.append(row)
        pieces.append(pd.Series(oos, index=sessions[c:d]))
    windows = pd.DataFrame(rows)
    oos_returns = pd.concat(pieces).rename("oos_return")
    growth = (1.0 + oos_returns).cumprod().rename("oos_growth")
    prev = sessions[wins[0][2] - 1]
    stats = full_stats(pd.concat([pd.Series([1.0], index=[prev]), growth]), 1.0)
    chosen = windows[windows["config_idx"] >= 0]
    freq = []
    for ax in grid.axes:
        counts = chosen[ax.name].value_counts()
        for v in ax.values:
            n = int(counts.get(v, 0))
            freq.append({"param": ax.name, "value": float(v), "chosen": n,
                         "share": n / len(chosen) if len(chosen) else np.nan})
    return WalkForwardResult(
        windows=windows, is_objective=pd.DataFrame(is_obj, columns=cols), oos_returns=oos_returns,
        oos_growth=growth, oos_stats=stats, choice_frequency=pd.DataFrame(freq),
        neighbours=pd.DataFrame(neigh, columns=["window", "param", "chosen_objective", "neighbour_mean", "drop",
                                                "relative_drop", "n_neighbours"]),
        objective=key, anchored=anchored, is_sessions=is_sessions, oos_sessions=oos_sessions,
        min_trades=min_trades)


def full_sample_objectives(grid: GridRun, objective: str = "sharpe_ratio") -> pd.Series:
    """Each configuration's objective over all the aligned sessions (index = ``config_idx``): the heat map."""
    key = canonical_objective(objective)
    vals = objective_values(grid.returns.to_numpy(dtype="float64"), key,
                            sessions=pd.DatetimeIndex(grid.returns.index))
    return pd.Series(vals, index=grid.returns.columns, name=key)


__all__ = ["PARAM_FIELDS", "OBJECTIVES", "OBJECTIVE_ALIASES", "LOWER_IS_BETTER", "TRADE_WEIGHT_TOL", "find_node",
           "set_node_param", "get_node_param", "ParamAxis", "grid_configs", "config_label", "apply_config",
           "GridRun", "run_grid", "canonical_objective", "objective_values", "better", "wf_windows",
           "WalkForwardResult", "walk_forward", "full_sample_objectives"]
