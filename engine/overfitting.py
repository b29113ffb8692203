"""Overfitting statistics of a set of trials: the Deflated Sharpe Ratio and the Probability of Backtest Overfitting.

Both take the trials of one search (a parameter sweep, the grid of a walk-forward study): N configurations of
one symphony backtested over the same T sessions, i.e. a T × N matrix of daily simple returns (fractions;
index = sessions, columns = configurations).

**Sharpe ratios here are per period and not annualised** (daily: ``SR = mean(r) / stdev(r, ddof=1)``), as both
papers' formulas require; multiply by ``√252`` for Composer's annualised Sharpe (:mod:`engine.metrics`). Skewness
is the population ``γ3 = m3 / m2^1.5`` and kurtosis the population **non-excess** ``γ4 = m4 / m2²`` (a normal
sample gives γ4 ≈ 3), as in Bailey & López de Prado (2014).

Deflated Sharpe Ratio — Bailey, D. H. & López de Prado, M. (2014), "The Deflated Sharpe Ratio: Correcting for
Selection Bias, Backtest Overfitting and Non-Normality", *Journal of Portfolio Management* 40(5):

* the expected maximum Sharpe ratio of N independent trials with true SR 0 (eq. 2 of the paper; the false
  strategy theorem): ``SR0 = √V[SR_n] · ((1 − γ) Z⁻¹(1 − 1/N) + γ Z⁻¹(1 − 1/(N e)))``, γ ≈ 0.5772 the
  Euler–Mascheroni constant, Z⁻¹ the standard normal quantile, V[SR_n] the variance of the trials' SRs;
* the Probabilistic Sharpe Ratio against a threshold SR* (Bailey & López de Prado 2012; eq. 1 of the DSR paper):
  ``PSR(SR*) = Z(((SR̂ − SR*) √(T − 1)) / √(1 − γ3 SR̂ + (γ4 − 1)/4 · SR̂²))``;
* ``DSR = PSR(SR0)``: the probability that the selected strategy's true SR is above what the best of N
  worthless trials would show by luck.

The paper's numerical example (N = 100 trials, T = 1250 daily returns, best annualised SR 2.5, variance of the
annualised SRs 0.5, γ3 = −3, γ4 = 10, 250 periods a year) gives SR0 ≈ 0.1132 per day and DSR ≈ 0.9004;
``tests/engine/test_overfitting.py`` reproduces it (and we re-derived each step by hand there, since we quote
the paper's figures from memory).

Probability of Backtest Overfitting — Bailey, D. H., Borwein, J., López de Prado, M. & Zhu, Q. J. (2017), "The
Probability of Backtest Overfitting", *Journal of Computational Finance* 20(4) (SSRN 2326253, 2015), by
combinatorially symmetric cross-validation (CSCV, §2 of the paper):

1. cut the T × N matrix M into S (even) submatrices of consecutive rows (blocks of ⌊T/S⌋ rows; the last
   ``T mod S`` rows are dropped);
2. for each of the C(S, S/2) ways to pick S/2 blocks: the picked blocks (in order) form the in-sample J, the
   others the out-of-sample J̄;
3. compute the performance statistic of every column on J and on J̄ (per-period Sharpe by default; any
   statistic is allowed by the paper), take the in-sample best n* = argmax_n R_n;
4. its relative rank out of sample ``ω̄ = rank(R̄_n*) / (N + 1)`` with ranks 1 (worst) … N (best), ties at
   their average rank; the logit ``λ = ln(ω̄ / (1 − ω̄))``;
5. ``PBO = #{λ ≤ 0} / C(S, S/2)`` — the share of splits in which the in-sample best is at or below the median
   out of sample. Convention: λ = 0 exactly (odd N, the best lands on the median) **counts** as overfit, which is
   the paper's ``∫_{−∞}^{0} f(λ) dλ`` with the mass at 0 included.

The same splits also give the performance degradation (the OLS slope of R̄_n* on R_n*, eq. in §3.2) and the
probability of loss (the share of splits where R̄_n* < 0).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: The Euler–Mascheroni constant γ.
EULER_GAMMA = 0.5772156649015329

#: Performance statistics CSCV can rank configurations by (:func:`pbo_cscv`'s ``metric``).
PBO_METRICS: tuple[str, ...] = ("sharpe", "mean")


def _moments(r: np.ndarray) -> tuple[float, float, float]:
    """Per-period Sharpe (ddof = 1), population skewness γ3 and population non-excess kurtosis γ4 of ``r``."""
    r = np.asarray(r, dtype="float64")
    r = r[np.isfinite(r)]
    if len(r) < 2:
        raise ValueError(f"need at least 2 returns for a Sharpe ratio, got {len(r)}")
    sd = float(np.std(r, ddof=1))
    if not sd > 0:
        raise ValueError("the returns have zero volatility: the Sharpe ratio is undefined")
    d = r - r.mean()
    m2 = float(np.mean(d * d))
    return float(r.mean() / sd), float(np.mean(d ** 3) / m2 ** 1.5), float(np.mean(d ** 4) / m2 ** 2)


def sharpe_per_period(returns) -> float:
    """Non-annualised Sharpe ratio ``mean(r) / stdev(r, ddof=1)`` of per-period simple returns (fractions).

    Raises:
        ValueError: fewer than two finite returns, or zero volatility.
    """
    return _moments(np.asarray(returns, dtype="float64"))[0]


def probabilistic_sharpe_ratio(sr: float, sr_benchmark: float, n_obs: int, skew: float = 0.0,
                               kurtosis: float = 3.0) -> float:
    """PSR: the probability that the true per-period Sharpe exceeds ``sr_benchmark`` (eq. 1 of the DSR paper).

    ``PSR = Z(((SR̂ − SR*) √(T − 1)) / √(1 − γ3 SR̂ + (γ4 − 1)/4 · SR̂²))``.

    Args:
        sr: the observed per-period (not annualised) Sharpe ratio SR̂.
        sr_benchmark: the threshold SR*, per period.
        n_obs: T, the number of returns behind ``sr``.
        skew: γ3 of the returns (0 for normal).
        kurtosis: γ4 of the returns, **non-excess** (3 for normal).

    Returns:
        A probability in [0, 1].

    Raises:
        ValueError: ``n_obs < 2``, or the variance term ``1 − γ3 SR̂ + (γ4 − 1)/4 SR̂²`` is not positive.
    """
    if n_obs < 2:
        raise ValueError(f"n_obs must be at least 2, got {n_obs}")
    var = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if not var > 0:
        raise ValueError(f"the PSR variance term 1 - skew*SR + (kurtosis-1)/4*SR^2 = {var:.4g} is not positive "
                         f"(skew {skew:.4g}, kurtosis {kurtosis:.4g}, SR {sr:.4g}); is kurtosis the excess one?")
    from scipy.stats import norm  # lazy: scipy.stats costs ~1 s per process that imports the code location

    return float(norm.cdf((sr - sr_benchmark) * math.sqrt(n_obs - 1) / math.sqrt(var)))


def expected_max_sharpe(n_trials: int, sr_variance: float) -> float:
    """SR0: the expected maximum per-period Sharpe of ``n_trials`` independent trials whose true Sharpe is 0.

    ``SR0 = √V · ((1 − γ) Z⁻¹(1 − 1/N) + γ Z⁻¹(1 − 1/(N e)))`` (Bailey & López de Prado 2014, eq. 2).

    Args:
        n_trials: N ≥ 2 (with one trial there is no selection and SR0 is 0).
        sr_variance: V, the variance of the trials' per-period Sharpe ratios.

    Raises:
        ValueError: ``n_trials < 1`` or a negative variance.
    """
    if n_trials < 1:
        raise ValueError(f"n_trials must be at least 1, got {n_trials}")
    if sr_variance < 0 or not np.isfinite(sr_variance):
        raise ValueError(f"sr_variance must be a non-negative number, got {sr_variance}")
    if n_trials == 1:
        return 0.0
    from scipy.stats import norm  # lazy, as in probabilistic_sharpe_ratio

    z1 = norm.ppf(1.0 - 1.0 / n_trials)
    z2 = norm.ppf(1.0 - 1.0 / (n_trials * math.e))
    return float(math.sqrt(sr_variance) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2))


@dataclass(frozen=True)
class DeflatedSharpe:
    """:func:`deflated_sharpe_ratio`'s answer (Sharpe ratios per period, not annualised).

    Attributes:
        dsr: the Deflated Sharpe Ratio, a probability.
        sr: SR̂, the selected (best) trial's Sharpe.
        sr0: the expected maximum Sharpe of ``n_trials`` worthless trials.
        n_trials: N.
        sr_variance: V[SR_n] used.
        n_obs: T of the selected trial.
        skew: γ3 of the selected trial's returns.
        kurtosis: γ4 (non-excess) of the selected trial's returns.
        best: the selected trial's column label (None when computed from numbers).
    """

    dsr: float
    sr: float
    sr0: float
    n_trials: int
    sr_variance: float
    n_obs: int
    skew: float
    kurtosis: float
    best: object = None

    def reading(self) -> str:
        """The figure in plain words."""
        return (f"Deflated Sharpe ratio {self.dsr:.1%}: after {self.n_trials} trials, the chance that the best "
                f"configuration's true Sharpe is above the {self.sr0 * math.sqrt(252):.2f} (annualised) that the "
                f"best of {self.n_trials} worthless trials would show by luck.")


def deflated_sharpe_ratio(sr: float, n_trials: int, sr_variance: float, n_obs: int, skew: float = 0.0,
                          kurtosis: float = 3.0) -> DeflatedSharpe:
    """DSR from numbers: ``PSR(SR0)`` with SR0 = :func:`expected_max_sharpe` (Bailey & López de Prado 2014).

    Args:
        sr: the selected trial's per-period Sharpe SR̂.
        n_trials: N, the number of trials the selection was made from.
        sr_variance: V[SR_n], the variance of the trials' per-period Sharpe ratios.
        n_obs: T, returns of the selected trial.
        skew, kurtosis: γ3 and non-excess γ4 of the selected trial's returns.

    Raises:
        ValueError: as :func:`expected_max_sharpe` and :func:`probabilistic_sharpe_ratio`.
    """
    sr0 = expected_max_sharpe(n_trials, sr_variance)
    dsr = probabilistic_sharpe_ratio(sr, sr0, n_obs, skew, kurtosis)
    return DeflatedSharpe(dsr=dsr, sr=float(sr), sr0=sr0, n_trials=int(n_trials), sr_variance=float(sr_variance),
                          n_obs=int(n_obs), skew=float(skew), kurtosis=float(kurtosis))


def deflated_sharpe_of_trials(returns: pd.DataFrame) -> DeflatedSharpe:
    """DSR of the best of the trials in ``returns`` (T × N daily simple returns, one column per trial).

    The best trial is the column with the highest per-period Sharpe; N is the number of columns;
    V[SR_n] the sample variance (ddof = 1) of the N per-period Sharpe ratios; T, γ3, γ4 those of the best
    column's finite returns.

    Raises:
        ValueError: fewer than 2 columns, or a column with fewer than 2 returns / zero volatility (named).
    """
    if returns.shape[1] < 2:
        raise ValueError(f"the deflated Sharpe ratio needs at least 2 trials, got {returns.shape[1]}")
    srs = {}
    for col in returns.columns:
        try:
            srs[col] = sharpe_per_period(returns[col].to_numpy())
        except ValueError as exc:
            raise ValueError(f"trial {col!r}: {exc}") from None
    best = max(srs, key=srs.get)
    r = returns[best].to_numpy(dtype="float64")
    r = r[np.isfinite(r)]
    sr, skew, kurt = _moments(r)
    var = float(np.var(np.fromiter(srs.values(), dtype="float64"), ddof=1))
    out = deflated_sharpe_ratio(sr, len(srs), var, len(r), skew, kurt)
    return DeflatedSharpe(**{**out.__dict__, "best": best})


@dataclass(frozen=True)
class PBOResult:
    """:func:`pbo_cscv`'s answer.

    Attributes:
        pbo: the probability of backtest overfitting, ``#{λ ≤ 0} / C(S, S/2)``.
        logits: λ of every split, in the order of ``itertools.combinations(range(S), S/2)``.
        rel_ranks: ω̄ of every split (the in-sample best's OOS rank / (N + 1)).
        is_best: the in-sample best column of every split (labels).
        is_perf: R_n* of every split (its in-sample statistic).
        oos_perf: R̄_n* of every split (its out-of-sample statistic).
        n_splits: S.
        n_combinations: C(S, S/2).
        rows_per_block: ⌊T/S⌋ rows in each submatrix.
        metric: the statistic ranked (``sharpe``: per-period Sharpe; ``mean``: mean return).
        degradation_slope: OLS slope of ``oos_perf`` on ``is_perf`` (negative: better IS, worse OOS); NaN when
            ``is_perf`` does not vary.
        prob_oos_loss: share of splits with ``oos_perf < 0``.
    """

    pbo: float
    logits: np.ndarray
    rel_ranks: np.ndarray
    is_best: list
    is_perf: np.ndarray
    oos_perf: np.ndarray
    n_splits: int
    n_combinations: int
    rows_per_block: int
    metric: str
    degradation_slope: float
    prob_oos_loss: float

    def reading(self) -> str:
        """The figure in plain words."""
        return (f"The chance that the best in-sample configuration is below the median out of sample is "
                f"{self.pbo:.0%} (probability of backtest overfitting, {self.n_combinations} "
                f"combinatorially symmetric splits of {self.n_splits} blocks).")


def _pooled_stat(counts: np.ndarray, sums: np.ndarray, sq: np.ndarray, metric: str) -> np.ndarray:
    """Statistic per (split, column) from pooled sums of the picked blocks (all C × N): ``sums`` = Σ r,
    ``sq`` = Σ r², ``counts`` rows; the Sharpe's variance is ``(Σ r² − n·mean²) / (n − 1)``."""
    mean = sums / counts
    if metric == "mean":
        return mean
    var = (sq - counts * mean * mean) / (counts - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = np.sqrt(np.where(var > 0, var, np.nan))
        return mean / sd


def pbo_cscv(returns: pd.DataFrame | np.ndarray, n_splits: int = 16, metric: str = "sharpe") -> PBOResult:
    """The Probability of Backtest Overfitting by CSCV (Bailey, Borwein, López de Prado & Zhu 2017, §2).

    Args:
        returns: T × N per-period returns (fractions), one column per configuration (trial); rows in time order.
            No NaN allowed (align the trials on common sessions first).
        n_splits: S, even, ≥ 2, and at most T (the paper uses 16).
        metric: ``sharpe`` (per-period mean / stdev, ddof = 1; needs ≥ 2 rows per half) or ``mean``.

    Returns:
        :class:`PBOResult` (see the module docstring for the steps and the λ ≤ 0 convention). A column with zero
        volatility on a half ranks lowest there (its Sharpe is NaN).

    Raises:
        ValueError: fewer than 2 columns, NaN values, an odd or out-of-range ``n_splits``, an unknown metric.
    """
    if metric not in PBO_METRICS:
        raise ValueError(f"unknown PBO metric {metric!r}; expected one of {', '.join(PBO_METRICS)}")
    labels = list(returns.columns) if isinstance(returns, pd.DataFrame) else list(range(np.shape(returns)[1]))
    m = np.asarray(returns, dtype="float64")
    if m.ndim != 2 or m.shape[1] < 2:
        raise ValueError(f"PBO needs a T x N matrix with at least 2 configurations, got shape {m.shape}")
    if not np.isfinite(m).all():
        bad = int((~np.isfinite(m)).any(axis=1).sum())
        raise ValueError(f"the returns matrix has {bad} row(s) with NaN/inf; align the trials on common sessions")
    T, N = m.shape
    if n_splits < 2 or n_splits % 2 or n_splits > T:
        raise ValueError(f"n_splits must be even, at least 2 and at most the {T} rows, got {n_splits}")
    rows = T // n_splits
    blocks = m[: rows * n_splits].reshape(n_splits, rows, N)
    bsum = blocks.sum(axis=1)                # S × N
    bsq = (blocks * blocks).sum(axis=1)      # S × N
    combos = list(itertools.combinations(range(n_splits), n_splits // 2))
    C = len(combos)
    pick = np.zeros((C, n_splits), dtype="float64")
    for i, c in enumerate(combos):
        pick[i, list(c)] = 1.0
    half = rows * (n_splits // 2)
    counts = np.full((C, N), float(half))
    is_sum, is_sq = pick @ bsum, pick @ bsq
    oos_sum, oos_sq = (1.0 - pick) @ bsum, (1.0 - pick) @ bsq
    if metric == "sharpe" and half < 2:
        raise ValueError(f"each half has {half} row(s): a Sharpe ratio needs at least 2; use fewer splits")
    r_is = _pooled_stat(counts, is_sum, is_sq, metric)
    r_oos = _pooled_stat(counts, oos_sum, oos_sq, metric)
    # NaN (zero volatility) ranks lowest
    r_is_f = np.where(np.isfinite(r_is), r_is, -np.inf)
    r_oos_f = np.where(np.isfinite(r_oos), r_oos, -np.inf)
    best = np.argmax(r_is_f, axis=1)
    rank = pd.DataFrame(r_oos_f.T).rank(axis=0, method="average").to_numpy().T  # C × N, 1 = worst
    w = rank[np.arange(C), best] / (N + 1.0)
    lam = np.log(w / (1.0 - w))
    is_perf = r_is[np.arange(C), best]
    oos_perf = r_oos[np.arange(C), best]
    ok = np.isfinite(is_perf) & np.isfinite(oos_perf)
    slope = float("nan")
    if ok.sum() >= 2 and np.var(is_perf[ok]) > 0:
        slope = float(np.polyfit(is_perf[ok], oos_perf[ok], 1)[0])
    return PBOResult(pbo=float(np.mean(lam <= 0.0)), logits=lam, rel_ranks=w, is_best=[labels[b] for b in best],
                     is_perf=is_perf, oos_perf=oos_perf, n_splits=n_splits, n_combinations=C,
                     rows_per_block=rows, metric=metric, degradation_slope=slope,
                     prob_oos_loss=float(np.mean(np.where(np.isfinite(oos_perf), oos_perf, -np.inf) < 0.0)))


__all__ = ["EULER_GAMMA", "PBO_METRICS", "sharpe_per_period", "probabilistic_sharpe_ratio", "expected_max_sharpe",
           "DeflatedSharpe", "deflated_sharpe_ratio", "deflated_sharpe_of_trials", "PBOResult", "pbo_cscv"]
