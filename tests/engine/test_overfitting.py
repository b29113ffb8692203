"""Golden tests of the Deflated Sharpe Ratio (Bailey & López de Prado 2014) and the Probability of Backtest
Overfitting by CSCV (Bailey, Borwein, López de Prado & Zhu 2017)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from engine.overfitting import (EULER_GAMMA, deflated_sharpe_of_trials, deflated_sharpe_ratio, expected_max_sharpe,
                                pbo_cscv, probabilistic_sharpe_ratio, sharpe_per_period)


def test_dsr_numerical_example_of_the_paper():
    # Bailey & López de Prado (2014), numerical example: N = 100 trials, T = 1250 daily returns, best annualised
    # SR 2.5, variance of the annualised SRs 0.5, skewness -3, kurtosis 10, 250 days a year. We quote the paper's
    # figures from memory (SR0 ≈ 0.1132 per day, DSR ≈ 0.9004), so every step is also worked by hand below.
    sr = 2.5 / math.sqrt(250)                                  # 0.158114 per day
    var = 0.5 / 250                                            # 0.002 per day²
    z1, z2 = 2.326348, 2.680210                                # Z⁻¹(0.99), Z⁻¹(1 − 1/(100 e)) = Z⁻¹(0.996321)
    sr0_hand = math.sqrt(var) * ((1 - 0.5772157) * z1 + 0.5772157 * z2)   # 0.044721 · 2.530603 = 0.113172
    assert sr0_hand == pytest.approx(0.113172, abs=1e-6)
    z_hand = (sr - sr0_hand) * math.sqrt(1249) / math.sqrt(1 + 3 * sr + 9 / 4 * sr ** 2)  # 1.58835 / 1.23718
    assert z_hand == pytest.approx(1.2839, abs=1e-3)
    d = deflated_sharpe_ratio(sr, n_trials=100, sr_variance=var, n_obs=1250, skew=-3.0, kurtosis=10.0)
    assert d.sr0 == pytest.approx(0.1132, abs=5e-5)
    assert d.sr0 == pytest.approx(sr0_hand, rel=1e-5)
    assert d.dsr == pytest.approx(0.9004, abs=5e-5)
    assert d.dsr == pytest.approx(norm.cdf(z_hand), abs=1e-4)
    assert "90.0%" in d.reading()


def test_psr_and_expected_max_small_cases():
    # one trial: no selection, SR0 = 0; normal returns: PSR = Z(SR √(T-1) / √(1 + SR²/2))
    assert expected_max_sharpe(1, 0.3) == 0.0
    assert probabilistic_sharpe_ratio(0.1, 0.0, 101) == pytest.approx(norm.cdf(0.1 * 10 / math.sqrt(1.005)))
    assert probabilistic_sharpe_ratio(0.0, 0.0, 50) == pytest.approx(0.5)
    # N = 2: Z⁻¹(0.5) = 0, so SR0 = √V · γ · Z⁻¹(1 − 1/(2e))
    assert expected_max_sharpe(2, 0.04) == pytest.approx(0.2 * EULER_GAMMA * norm.ppf(1 - 1 / (2 * math.e)))
    with pytest.raises(ValueError, match="excess"):
        probabilistic_sharpe_ratio(1.0, 0.0, 100, skew=0.0, kurtosis=-5.0)
    with pytest.raises(ValueError, match="n_trials"):
        expected_max_sharpe(0, 0.1)


def test_dsr_of_trials_uses_the_best_column_and_the_variance_across_trials():
    r = pd.DataFrame({"a": [0.01, -0.01, 0.02, 0.0], "b": [0.02, 0.01, 0.03, 0.0], "c": [0.0, 0.01, -0.01, 0.0]})
    srs = {k: r[k].mean() / r[k].std(ddof=1) for k in r}
    d = deflated_sharpe_of_trials(r)
    assert d.best == "b" and d.sr == pytest.approx(srs["b"]) and d.n_trials == 3 and d.n_obs == 4
    assert d.sr_variance == pytest.approx(np.var(list(srs.values()), ddof=1))
    x = r["b"].to_numpy() - r["b"].mean()
    assert d.skew == pytest.approx(np.mean(x ** 3) / np.mean(x ** 2) ** 1.5)
    assert d.kurtosis == pytest.approx(np.mean(x ** 4) / np.mean(x ** 2) ** 2)  # non-excess
    assert sharpe_per_period(r["a"]) == pytest.approx(srs["a"])
    with pytest.raises(ValueError, match="trial 'z'.*zero volatility"):
        deflated_sharpe_of_trials(r.assign(z=0.0))


def test_pbo_hand_worked_4x3():
    # S = 4 blocks of one row, N = 3, metric = mean. Block sums A = [3,3,3,0], B = [1,2,1,0.5], C = [0,0,2,2].
    # Splits (IS blocks → IS best; OOS sums → its OOS rank of 3):
    #   {0,1}: A → OOS A 3, B 1.5, C 4 → rank 2 → ω = 2/4, λ = 0 (counts as overfit)
    #   {0,2}: A → OOS A 3, B 2.5, C 2 → rank 3 → λ = ln 3
    #   {0,3}: A → OOS A 6, B 3, C 2 → rank 3 → λ = ln 3
    #   {1,2}: A → OOS A 3, B 1.5, C 2 → rank 3 → λ = ln 3
    #   {1,3}: A → OOS A 6, B 2, C 2 → rank 3 → λ = ln 3
    #   {2,3}: C (4 > 3 > 1.5) → OOS A 6, B 3, C 0 → rank 1 → ω = 1/4, λ = ln(1/3)
    m = pd.DataFrame({"A": [3, 3, 3, 0], "B": [1, 2, 1, 0.5], "C": [0, 0, 2, 2]}, dtype=float)
    res = pbo_cscv(m, n_splits=4, metric="mean")
    assert res.n_combinations == 6 and res.rows_per_block == 1
    assert res.is_best == ["A", "A", "A", "A", "A", "C"]
    np.testing.assert_allclose(res.logits, [0.0] + [math.log(3)] * 4 + [-math.log(3)], atol=1e-12)
    assert res.pbo == pytest.approx(2 / 6)
    np.testing.assert_allclose(res.is_perf, [3.0, 3.0, 1.5, 3.0, 1.5, 2.0])
    np.testing.assert_allclose(res.oos_perf, [1.5, 1.5, 3.0, 1.5, 3.0, 0.0])
    assert res.prob_oos_loss == 0.0
    assert "33%" in res.reading() and "below the median out of sample" in res.reading()


def test_pbo_is_one_when_the_in_sample_best_is_always_worst_out_of_sample():
    # Two columns with equal totals: on any split the IS difference is minus the OOS difference (no pair of the
    # block differences [1, 2, -4, 1] sums to 0), so the IS best is always the OOS worst: ω = 1/3, λ = ln(1/2).
    d = np.array([1.0, 2.0, -4.0, 1.0])
    m = pd.DataFrame({"x": d, "y": np.zeros(4)})
    res = pbo_cscv(m, n_splits=4, metric="mean")
    assert res.pbo == 1.0
    np.testing.assert_allclose(res.logits, math.log(0.5))
    assert res.degradation_slope == pytest.approx(-1.0)


def test_pbo_is_zero_when_one_strategy_dominates():
    # A = B + 0.5 % every day and C = B − 0.5 %: same volatility, so A has the best Sharpe on every half.
    rng = np.random.default_rng(7)
    b = rng.normal(0.0005, 0.01, 800)
    m = pd.DataFrame({"A": b + 0.005, "B": b, "C": b - 0.005})
    res = pbo_cscv(m, n_splits=16)
    assert res.n_combinations == 12870 and res.rows_per_block == 50
    assert set(res.is_best) == {"A"} and res.pbo == 0.0
    np.testing.assert_allclose(res.logits, math.log(3.0))  # rank 3 of 3: ω = 3/4
    # and its Sharpe is the pooled one: check one split by hand
    first = np.concatenate([m["A"].to_numpy()[i * 50:(i + 1) * 50] for i in range(8)])
    assert res.is_perf[0] == pytest.approx(first.mean() / first.std(ddof=1))


def test_pbo_rejects_bad_input():
    m = pd.DataFrame({"a": [0.1, 0.2, 0.3, 0.1], "b": [0.0, 0.1, 0.2, 0.1]})
    with pytest.raises(ValueError, match="even"):
        pbo_cscv(m, n_splits=3)
    with pytest.raises(ValueError, match="NaN"):
        pbo_cscv(m.assign(a=[0.1, np.nan, 0.1, 0.1]), n_splits=2)
    with pytest.raises(ValueError, match="at least 2 configurations"):
        pbo_cscv(m[["a"]], n_splits=2)
    with pytest.raises(ValueError, match="unknown PBO metric"):
        pbo_cscv(m, n_splits=2, metric="sortino")
