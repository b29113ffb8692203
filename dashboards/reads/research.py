"""Reads and computations of the Research page: in-sample vs out-of-sample stats, walk-forward studies, the
parameter heat map, and the overfitting figures in plain words.

Every read takes the signed-in user's :class:`~warehouse.AccountScope` (required; package docstring) and goes
through :mod:`warehouse.repos.research`. Units: returns, drawdowns and probabilities are fractions; Sharpe
ratios are annualised (√252) unless a name says ``per day``.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from warehouse import AccountScope, Warehouse
from warehouse.repos import research as repo

#: Stats shown side by side (Composer's keys → labels), in order.
OOS_STATS: dict[str, str] = {
    "cumulative_return": "Cumulative return", "annualized_rate_of_return": "Annualised return",
    "standard_deviation": "Volatility", "sharpe_ratio": "Sharpe", "sortino_ratio": "Sortino",
    "max_drawdown": "Max drawdown", "calmar_ratio": "Calmar", "win_rate": "Win rate", "size": "Daily returns",
    "alpha": "Alpha", "beta": "Beta",
}
#: Stats shown as percentages.
PERCENT_STATS: frozenset[str] = frozenset({"cumulative_return", "annualized_rate_of_return", "standard_deviation",
                                           "max_drawdown", "win_rate", "alpha"})
#: Column order of :func:`oos_table`.
OOS_COLUMNS: tuple[tuple[str, str], ...] = (("in_sample", "strategy"), ("in_sample", "benchmark"),
                                            ("out_of_sample", "strategy"), ("out_of_sample", "benchmark"),
                                            ("full", "strategy"), ("full", "benchmark"))
SEGMENT_LABELS = {"in_sample": "In sample", "out_of_sample": "Out of sample", "full": "Whole"}


def oos_runs(wh: Warehouse, scope: AccountScope, symphony_id: str) -> pd.DataFrame:
    """The research backtests of a symphony that have a split: ``run_id, symphony_id, oos_start, oos_source``."""
    return repo.oos_runs(wh, scope, symphony_id)


def oos_table(stats: pd.DataFrame) -> pd.DataFrame:
    """The split stats side by side.

    Args:
        stats: :func:`warehouse.repos.research.oos_stats` (long).

    Returns:
        Index = stat labels of :data:`OOS_STATS` (in order, those present); columns ``"In sample · strategy"``,
        ``"In sample · benchmark"``, … for the (segment, series) pairs present; float values as stored (fractions).
    """
    if stats.empty:
        return pd.DataFrame()
    wide = stats.pivot_table(index="stat", columns=["segment", "series"], values="value", aggfunc="first",
                             dropna=False)
    cols = [c for c in OOS_COLUMNS if c in wide.columns]
    rows = [s for s in OOS_STATS if s in wide.index]
    out = wide.loc[rows, cols]
    out.index = [OOS_STATS[s] for s in rows]
    out.columns = [f"{SEGMENT_LABELS[a]} · {b}" for a, b in cols]
    return out


def format_oos_table(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`oos_table` as display text (percent for :data:`PERCENT_STATS`, two decimals else, ``—`` for NaN)."""
    labels = {v: k for k, v in OOS_STATS.items()}

    def fmt(stat: str, v) -> str:
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            return "—"
        if stat == "size":
            return f"{v:,.0f}"
        return f"{v:.2%}" if stat in PERCENT_STATS else f"{v:.2f}"

    return pd.DataFrame({c: [fmt(labels[i], v) for i, v in zip(table.index, table[c])] for c in table.columns},
                        index=table.index)


def segment_ranges(stats: pd.DataFrame) -> dict[str, tuple]:
    """``{segment: (start_date, end_date)}`` of the strategy's segments in the split stats."""
    s = stats[stats["series"] == "strategy"].drop_duplicates("segment")
    return {r.segment: (r.start_date, r.end_date) for r in s.itertuples()}


def studies(wh: Warehouse, scope: AccountScope, symphony_id: str) -> pd.DataFrame:
    """The walk-forward studies of a symphony, newest first (:func:`warehouse.repos.research.studies`)."""
    return repo.studies(wh, scope, symphony_id)


def study_bundle(wh: Warehouse, scope: AccountScope, symphony_id: str, study: str) -> dict[str, pd.DataFrame]:
    """Everything the page draws for one study: ``configs``, ``windows``, ``curves``, ``stability``."""
    return {"configs": repo.study_configs(wh, scope, symphony_id, study),
            "windows": repo.study_windows(wh, scope, symphony_id, study),
            "curves": repo.study_curves(wh, scope, symphony_id, study),
            "stability": repo.param_stability(wh, scope, symphony_id, study)}


def param_names(configs: pd.DataFrame) -> list[str]:
    """The grid's parameter names in grid order (from the first configuration's params)."""
    if configs.empty:
        return []
    return list(configs["params"].iloc[0])


def windows_table(windows: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """The walk-forward windows for display: ``Window, In sample, Out of sample, <param>…, IS objective,
    OOS objective, OOS return`` (the parameter columns hold the chosen values; NaN when the step was in cash)."""
    out = pd.DataFrame({"Window": windows["window"].astype(int),
                        "In sample": [f"{a} → {b}" for a, b in zip(windows["is_start"], windows["is_end"])],
                        "Out of sample": [f"{a} → {b}" for a, b in zip(windows["oos_start"], windows["oos_end"])]})
    for n in names:
        out[n] = [p.get(n) for p in windows["params"]]
    out["Eligible"] = windows["eligible"].astype(int)
    out["IS objective"] = windows["is_objective"]
    out["OOS objective"] = windows["oos_objective"]
    out["OOS return"] = windows["oos_return"]
    return out


def heatmap_frame(configs: pd.DataFrame, x: str, y: str | None, value: str = "objective") -> pd.DataFrame:
    """Full-sample ``value`` of each configuration on a grid: index = values of ``y`` (one row ``""`` when the grid
    has one parameter), columns = values of ``x``; with more than two parameters, the mean over the others."""
    if configs.empty:
        return pd.DataFrame()
    frame = pd.DataFrame({"x": [p[x] for p in configs["params"]],
                          "y": [p[y] for p in configs["params"]] if y else "",
                          "v": configs[value].astype(float)})
    return frame.pivot_table(index="y", columns="x", values="v", aggfunc="mean").sort_index().sort_index(axis=1)


def pbo_reading(pbo) -> str:
    """The PBO in plain words."""
    if pbo is None or (isinstance(pbo, float) and not math.isfinite(pbo)):
        return "The probability of backtest overfitting could not be computed (too few sessions or trials)."
    verdict = ("likely overfit" if pbo > 0.5 else "a coin flip" if pbo >= 0.4 else
               "some evidence the choice carries over" if pbo > 0.1 else "little sign of overfitting")
    return (f"The chance that the best in-sample configuration is below the median out of sample is {pbo:.0%} "
            f"({verdict}).")


def dsr_reading(dsr, sr0_per_day, n_trials) -> str:
    """The DSR in plain words (``sr0_per_day``: the expected max Sharpe of N worthless trials, per day)."""
    if dsr is None or (isinstance(dsr, float) and not math.isfinite(dsr)):
        return "The deflated Sharpe ratio could not be computed."
    sr0 = float(sr0_per_day) * math.sqrt(252) if sr0_per_day is not None and np.isfinite(sr0_per_day) else float("nan")
    return (f"The deflated Sharpe ratio is {dsr:.0%}: after {int(n_trials)} trials, the probability that the best "
            f"configuration's true Sharpe beats the {sr0:.2f} (annualised) the best of {int(n_trials)} worthless "
            f"trials would show by luck" + (" — significant at 95 %." if dsr >= 0.95 else " — not significant at "
                                            "95 %."))


def sweep_overfitting(wh: Warehouse, scope: AccountScope, symphony_id: str) -> pd.DataFrame:
    """The symphony's parameter sweeps with their PBO and DSR (:func:`warehouse.repos.research.sweep_overfitting`)."""
    return repo.sweep_overfitting(wh, scope, symphony_id)


__all__ = ["OOS_STATS", "PERCENT_STATS", "OOS_COLUMNS", "SEGMENT_LABELS", "oos_runs", "oos_table",
           "format_oos_table", "segment_ranges", "studies", "study_bundle", "param_names", "windows_table",
           "heatmap_frame", "pbo_reading", "dsr_reading", "sweep_overfitting"]
