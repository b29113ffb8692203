"""engine.metrics: every full-stats definition by hand on a tiny series, and a cross-check of the headline
numbers against the pinned quantstats on the SPY probe's daily simple returns (style guide §2e, §5.7 item 10)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.metrics import (benchmark_relative, composer_stats, downside_deviation, excess_kurtosis, full_stats,
                            skewness, top_day_contribution, trailing_return)

ROOT = Path(__file__).resolve().parents[2]

# r = +10 %, −10 %, 0, +10 %, +5 % on Tue 2024-01-02 … Tue 2024-01-09 (a weekend inside)
DAYS = pd.DatetimeIndex(pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08",
                                        "2024-01-09"]))
NAV = pd.Series([100.0, 110.0, 99.0, 99.0, 108.9, 114.345], index=DAYS)
R = [0.10, -0.10, 0.0, 0.10, 0.05]
# deviations from the mean 0.03: 0.07, −0.13, −0.03, 0.07, 0.02
M2 = (0.0049 + 0.0169 + 0.0009 + 0.0049 + 0.0004) / 5                        # 0.0056
M3 = (0.000343 - 0.002197 - 0.000027 + 0.000343 + 0.000008) / 5              # −0.000306
M4 = (0.00002401 + 0.00028561 + 0.00000081 + 0.00002401 + 0.00000016) / 5    # 0.00006692


def test_full_stats_by_hand():
    st = full_stats(NAV, capital=100.0)
    assert st["size"] == 5
    assert st["mean"] == pytest.approx(0.03)
    assert st["median"] == pytest.approx(0.05)
    assert st["min"] == pytest.approx(-0.10) and st["max"] == pytest.approx(0.10)
    assert st["win_rate"] == pytest.approx(3 / 5)                      # 0 is not a win
    sd = math.sqrt(0.028 / 4)                                           # ddof = 1
    assert st["standard_deviation"] == pytest.approx(sd * math.sqrt(252))
    assert st["sharpe_ratio"] == pytest.approx(0.03 * 252 / (sd * math.sqrt(252)))
    assert st["skewness"] == pytest.approx(M3 / M2 ** 1.5)            # −0.730196
    assert st["skewness"] == pytest.approx(-0.730196, abs=1e-6)
    assert st["kurtosis"] == pytest.approx(M4 / M2 ** 2 - 3)           # −0.866071 (excess)
    assert st["kurtosis"] == pytest.approx(-0.866071, abs=1e-6)
    # downside deviation: only −10 % is below 0; sqrt(0.01 / (5 − 1)) = 0.05
    assert st["sortino_ratio"] == pytest.approx(0.03 * 252 / (0.05 * math.sqrt(252)))   # 9.5247
    # sorted returns −0.1, 0, 0.05, 0.1, 0.1: q95 at 3.8 → 0.1, q05 at 0.2 → −0.08
    assert st["tail_ratio"] == pytest.approx(0.1 / 0.08)
    total = math.log(114.345 / 100.0)
    assert st["top_one_day_contribution"] == pytest.approx(math.log(1.1) / total)        # 0.710985
    # k = ⌈0.05·5⌉ = ⌈0.10·5⌉ = 1
    assert st["top_five_percent_day_contribution"] == pytest.approx(math.log(1.1) / total)
    assert st["top_ten_percent_day_contribution"] == pytest.approx(math.log(1.1) / total)
    assert st["cumulative_return"] == pytest.approx(0.14345)
    # Composer's exponent counts the size + 1 = 6 values, not the 5 returns (composer_format.md §6)
    assert st["annualized_rate_of_return"] == pytest.approx(1.14345 ** (252 / 6) - 1)
    assert st["annualized_rate_of_return"] == pytest.approx(277.69008, rel=1e-6)
    assert st["max_drawdown"] == pytest.approx(0.10)
    # trailing windows are calendar offsets from Tue 01-09: 1 day → Mon 01-08, 1 week → Tue 01-02
    assert st["trailing_one_day_return"] == pytest.approx(114.345 / 108.9 - 1)
    assert st["trailing_one_week_return"] == pytest.approx(0.14345)
    assert math.isnan(st["trailing_two_week_return"]) and math.isnan(st["trailing_one_year_return"])
    # without weights / turnover these two are undefined
    assert math.isnan(st["herfindahl_index"]) and math.isnan(st["annualized_turnover"])


def test_full_stats_headline_keys_are_composer_stats():
    st = full_stats(NAV, capital=95.0)
    head = composer_stats(NAV, capital=95.0)
    pairs = {"cumulative_return": "cumulative_return", "annualized_rate_of_return": "annualized_return",
             "standard_deviation": "standard_deviation", "sharpe_ratio": "sharpe_ratio",
             "max_drawdown": "max_drawdown", "calmar_ratio": "calmar_ratio", "size": "n_days"}
    for ours, theirs in pairs.items():
        assert st[ours] == head[theirs]


def test_herfindahl_and_turnover_by_hand():
    weights = pd.DataFrame({"A": [1.0, 0.5, 0.5, 0.5, 0.0, 0.0], "B": [0.0, 0.5, 0.25, 0.25, 1.0, 1.0],
                            "$USD": [0.0, 0.0, 0.25, 0.25, 0.0, 0.0]}, index=DAYS)
    turnover = pd.Series([1.0, 0.5, 0.25, 0.0, 0.75, 0.0], index=DAYS)
    st = full_stats(NAV, capital=100.0, weights=weights, turnover=turnover)
    # Σw² per day: 1, 0.5, 0.375, 0.375, 1, 1 → mean 4.25 / 6
    assert st["herfindahl_index"] == pytest.approx(4.25 / 6)
    # the first day's 1.0 (capital → holdings) is not turnover: (0.5 + 0.25 + 0.75)·252 / 5
    assert st["annualized_turnover"] == pytest.approx(1.5 * 252 / 5)


def test_helpers_by_hand():
    assert math.isnan(skewness([1.0, 1.0, 1.0])) and math.isnan(excess_kurtosis([2.0, 2.0]))
    assert excess_kurtosis([-1.0, 1.0]) == pytest.approx(-2.0)          # two-point distribution: 1 − 3
    assert downside_deviation([0.02, -0.03, 0.01]) == pytest.approx(math.sqrt(0.0009 / 2))
    lr = math.log(1.1) + math.log(1.1)
    assert top_day_contribution(np.array(R), math.log(1.14345), 2) == pytest.approx(lr / math.log(1.14345))
    assert trailing_return(NAV, pd.DateOffset(days=3)) == pytest.approx(114.345 / 99.0 - 1)   # → Sat → Fri 01-05


def test_benchmark_relative_by_hand():
    b = pd.Series([0.01, -0.02, 0.015, 0.0, 0.005], index=DAYS[1:])
    r = 2 * b + 0.001
    rel = benchmark_relative(r, b)
    assert rel["beta"] == pytest.approx(2.0)
    assert rel["alpha"] == pytest.approx(0.001 * 252)
    assert rel["pearson_r"] == pytest.approx(1.0) and rel["r_square"] == pytest.approx(1.0)
    anti = benchmark_relative(-b, b)
    assert anti["beta"] == pytest.approx(-1.0) and anti["pearson_r"] == pytest.approx(-1.0)
    assert anti["r_square"] == pytest.approx(1.0)


def test_full_stats_adds_benchmark_keys():
    bench = NAV * 2.0                                                  # same returns
    st = full_stats(NAV, capital=100.0, benchmark_nav=bench)
    assert st["beta"] == pytest.approx(1.0) and st["alpha"] == pytest.approx(0.0, abs=1e-12)


# -- quantstats cross-check ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def probe_returns():
    from engine.backtest import run_backtest
    from engine.parsing import load_symphony
    from warehouse.bundled import load_adjusted_closes

    root = load_symphony(ROOT / "symphonies" / "spy_buy_hold_monthly_probe.json")
    res = run_backtest(root, load_adjusted_closes(["SPY"]), end="2026-06-18", capital=10_000, slippage_bps=50)
    return res


def test_headline_stats_vs_pinned_quantstats(probe_returns):
    """Our formulas vs quantstats 0.0.86 on the same daily simple returns (never prices: §2e item 2).

    Tolerances and why they differ:

    * Sharpe, volatility: identical formulas (mean / stdev(ddof=1) · √252, stdev · √252) → 1e-12 relative.
    * Max drawdown: quantstats rebuilds prices from the returns with a phantom 1.0 before the first day; our NAV
      starts after the first day's slippage, which is the same start → 1e-12; quantstats' sign is negative.
    * Sortino: quantstats divides Σ min(r,0)² by n, we by n − 1 (ddof = 1, like the standard deviation; see
      full_stats) → ours = quantstats · √((n−1)/n) exactly, 6e-5 relative apart at n = 8403.
    * CAGR: quantstats 0.0.86 compounds the returns it gets, i.e. from the first day's post-slippage value
      9950.25, over ``len(returns)/252`` years (since PR #460; before, years came from the calendar span of
      the index); Composer and we compound from the capital 10,000 over n/252 years →
      (1 + ours) = (1 + quantstats)·(V_0/capital)^(252/n) exactly; 1.7e-4 apart here (the 50 bps entry cost
      spread over 33 years).
    """
    qs = pytest.importorskip("quantstats")
    assert qs.__version__ == "0.0.86", "quantstats is pinned; re-derive these tolerances before changing it"
    res = probe_returns
    r = res.daily_return.iloc[1:]                  # the n = 8403 daily simple returns (day 0 is capital → V_0)
    n = len(r)
    st = res.full_stats
    v0, cap = float(res.nav.iloc[0]), res.capital
    q_sharpe = float(qs.stats.sharpe(r))
    q_sortino = float(qs.stats.sortino(r))
    q_vol = float(qs.stats.volatility(r))
    q_mdd = float(qs.stats.max_drawdown(r))
    q_cagr = float(qs.stats.cagr(r))
    print(f"\nquantstats {qs.__version__} vs ours on the SPY probe (n = {n}):\n"
          f"  sharpe   {q_sharpe:.10f}  {st['sharpe_ratio']:.10f}\n"
          f"  sortino  {q_sortino:.10f}  {st['sortino_ratio']:.10f}\n"
          f"  vol      {q_vol:.10f}  {st['standard_deviation']:.10f}\n"
          f"  max dd   {q_mdd:.10f}  {st['max_drawdown']:.10f}\n"
          f"  cagr     {q_cagr:.10f}  {st['annualized_rate_of_return']:.10f}")
    assert st["sharpe_ratio"] == pytest.approx(q_sharpe, rel=1e-12)
    assert st["standard_deviation"] == pytest.approx(q_vol, rel=1e-12)
    assert st["max_drawdown"] == pytest.approx(-q_mdd, rel=1e-12)
    assert st["sortino_ratio"] == pytest.approx(q_sortino * math.sqrt((n - 1) / n), rel=1e-12)
    assert st["sortino_ratio"] == pytest.approx(q_sortino, rel=1e-4)
    assert 1 + st["annualized_rate_of_return"] == pytest.approx(
        ((1 + q_cagr) ** (n / 252) * v0 / cap) ** (252 / (n + 1)), rel=1e-12)
    assert st["annualized_rate_of_return"] == pytest.approx(q_cagr, abs=2e-4)


def _epoch_series(m: dict) -> pd.Series:
    keys = sorted(m, key=int)
    return pd.Series([float(m[k]) for k in keys],
                     index=pd.Timestamp("1970-01-01") + pd.to_timedelta([int(k) for k in keys], unit="D"))


def test_every_stats_key_of_composers_2022_response_from_its_own_values():
    """Set E: Composer's 7-day backtest (2022-10-14 → 10-24). Our formulas applied to Composer's own daily values
    reproduce every stats key it printed, for the symphony and for its SPY benchmark, to float precision —
    including annualised = (1 + cum)^(252/(size + 1)) − 1 and the ``percent`` alpha/beta/R²/Pearson block.
    (This 2022 engine measured the cumulative return from the first day's value, not from the capital.)"""
    import json

    data = json.loads((ROOT / "tests" / "fixtures" / "composer" / "eu_raekon_frankenbot.backtest_response.json")
                      .read_text())
    nav = _epoch_series(data["dvm-capital"]["5Ga56HTbpyOieVSx34hZ"])
    spy = _epoch_series(data["dvm-capital"]["SPY"])
    theirs = data["stats"]
    ours = full_stats(nav, capital=float(nav.iloc[0]), benchmark_nav=spy)
    assert theirs["size"] == 6 and ours["size"] == 6
    checked = 0
    for key, value in theirs.items():
        if key == "benchmarks":
            continue
        assert ours[key.replace("-", "_")] == pytest.approx(value, rel=1e-12, abs=1e-15), key
        checked += 1
    assert checked == 11
    # by hand: (9147.348941195782 / 9995)^(252/7) − 1, 7 = size + 1
    assert theirs["annualized-rate-of-return"] == pytest.approx((9147.348941195782 / 9995) ** (252 / 7) - 1, rel=1e-12)
    bench = theirs["benchmarks"]["SPY"]
    ours_b = full_stats(spy, capital=float(spy.iloc[0]))
    for key, value in bench.items():
        if isinstance(value, dict):
            continue
        assert ours_b[key.replace("-", "_")] == pytest.approx(value, rel=1e-12, abs=1e-15), f"SPY {key}"
    for key, value in bench["percent"].items():
        assert ours[key.replace("-", "_")] == pytest.approx(value, rel=1e-12), f"percent {key}"
