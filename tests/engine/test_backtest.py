"""Backtest arithmetic pinned by hand, rebalance calendars, and parity with Composer's SPY monthly probe."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.backtest import rebalance_mask, run_backtest, simulate
from engine.metrics import annualized_return, composer_stats, max_drawdown
from engine.model import Asset, Root, WeightEqual
from warehouse.bundled import load_adjusted_closes

ROOT = Path(__file__).resolve().parents[2]
DAYS = pd.DatetimeIndex(pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04"]))
# A: 100 → 110 → 99 ; B: 50 → 50 → 55
PRICES = pd.DataFrame({"A": [100.0, 110.0, 99.0], "B": [50.0, 50.0, 55.0]}, index=DAYS)
# the hand goldens below are computed without regulatory fees (Composer's apply_reg_fee/apply_taf_fee off);
# the fee arithmetic has its own goldens in test_backtest_fidelity.py
NO_FEES = {"apply_reg_fee": False, "apply_taf_fee": False}


def equal_ab(rebalance="daily"):
    return Root(name="ab", rebalance=rebalance, children=(WeightEqual(path="root/0", children=(
        Asset(ticker="A", path="root/0/0"), Asset(ticker="B", path="root/0/1"))),))


def test_two_assets_three_days_without_costs():
    res = run_backtest(equal_ab(), PRICES, capital=1000.0, slippage_bps=0.0, **NO_FEES)
    # day 0: 5 A + 10 B = 1000; day 1: 5*110 + 10*50 = 1050, rebalanced to 525/525;
    # day 2: 525/110*99 + 525/50*55 = 472.5 + 577.5 = 1050
    assert res.nav.tolist() == pytest.approx([1000.0, 1050.0, 1050.0], abs=1e-9)
    # rebalanced again at day 2's close: 525 each at 99 and 55
    assert res.holdings["A"] == pytest.approx(525 / 99)
    assert res.holdings["B"] == pytest.approx(525 / 55)
    assert res.costs.sum() == 0.0


def test_two_assets_three_days_with_10bp_slippage():
    s = 0.001
    res = run_backtest(equal_ab(), PRICES, capital=1000.0, slippage_bps=10.0, **NO_FEES)
    v0 = 1000 / (1 + s)                       # all bought: V' + s·V' = 1000
    a0, b0 = v0 / 2 / 100, v0 / 2 / 50        # shares after day 0
    pre1 = a0 * 110 + b0 * 50                 # 1048.95105 before trading on day 1
    # V'/2 lies between the two holdings, so Σ|trade| = holding_A − holding_B
    v1 = pre1 - s * (a0 * 110 - b0 * 50)      # 1048.90110
    # day 2: A −10 %, B +10 % → holdings 0.45·v1 and 0.55·v1 (value still v1); rebalancing trades
    # Σ|V'/2 − h_i| = h_B − h_A = 0.1·v1, so V' = v1·(1 − 0.1·s)
    v2 = v1 * (1 - 0.1 * s)
    assert res.nav.iloc[0] == pytest.approx(999.000999, abs=1e-6)
    assert res.nav.iloc[1] == pytest.approx(v1, abs=1e-9)
    assert res.nav.iloc[1] == pytest.approx(1048.90110, abs=1e-5)
    assert res.nav.iloc[2] == pytest.approx(v2, rel=1e-9)
    assert res.costs.iloc[0] == pytest.approx(1000 - v0)
    stats = res.stats
    assert stats["cumulative_return"] == pytest.approx(res.nav.iloc[-1] / 1000 - 1)
    r = [v1 / v0 - 1, res.nav.iloc[2] / v1 - 1]
    assert stats["n_days"] == 2
    # 2 returns, 3 values: Composer's exponent is 252/(size+1) = 252/3 (composer_format.md §6)
    assert stats["annualized_return"] == pytest.approx((res.nav.iloc[-1] / 1000) ** (252 / 3) - 1)
    sd = np.std(r, ddof=1) * np.sqrt(252)
    assert stats["standard_deviation"] == pytest.approx(sd)
    assert stats["sharpe_ratio"] == pytest.approx(np.mean(r) * 252 / sd)


def test_monthly_rebalance_lets_weights_drift():
    days = pd.DatetimeIndex(pd.to_datetime(["2024-01-30", "2024-01-31", "2024-02-01"]))
    prices = pd.DataFrame({"A": [100.0, 200.0, 200.0], "B": [100.0, 100.0, 100.0]}, index=days)
    res = run_backtest(equal_ab("monthly"), prices, capital=1000.0, slippage_bps=0.0, **NO_FEES)
    assert res.rebalanced.tolist() == [True, False, True]
    # on 01-31 A doubled: value weights drift to 2/3, 1/3 without a trade
    assert res.weights.iloc[1].tolist() == pytest.approx([2 / 3, 1 / 3])
    assert res.weights.iloc[2].tolist() == pytest.approx([0.5, 0.5])


def test_rebalance_calendars():
    s = pd.DatetimeIndex(pd.to_datetime(["2024-03-28", "2024-04-01", "2024-04-02", "2024-04-08", "2024-07-01",
                                         "2025-01-02"]))
    assert rebalance_mask(s, "weekly").tolist() == [True, True, False, True, True, True]
    assert rebalance_mask(s, "monthly").tolist() == [True, True, False, False, True, True]
    assert rebalance_mask(s, "quarterly").tolist() == [True, True, False, False, True, True]
    assert rebalance_mask(s, "yearly").tolist() == [True, False, False, False, False, True]
    with pytest.raises(ValueError, match="fortnightly"):
        rebalance_mask(s, "fortnightly")


def test_threshold_corridor_trades_only_outside_the_band():
    prices = np.array([[100.0, 100.0], [110.0, 100.0], [130.0, 100.0]])
    targets = np.full((3, 2), 0.5)
    nav, shares, traded, costs, vw, cash = simulate(prices, targets, None, capital=1000.0, slippage=0.0,
                                                    corridor=0.05)
    # day 1: A weight 550/1050 = 52.4 % (inside ±5 pp): no trade; day 2: 650/1150 = 56.5 % → trade
    assert traded.tolist() == [True, False, True]
    assert vw[2].tolist() == pytest.approx([0.5, 0.5])


def test_max_drawdown_by_hand():
    nav = pd.Series([100.0, 120.0, 90.0, 95.0, 130.0, 104.0])
    assert max_drawdown(nav) == pytest.approx(0.25)  # 120 → 90
    st = composer_stats(nav, capital=100.0)
    assert st["calmar_ratio"] == pytest.approx(st["annualized_return"] / 0.25)


def test_spy_monthly_probe_matches_composer():
    """Composer backtest of SPY-only, monthly, 50 bps, 10,000 (shared ground truth, §6)."""
    probe = ROOT / "symphonies" / "spy_buy_hold_monthly_probe.json"
    from engine.parsing import load_symphony

    root = load_symphony(probe)
    closes = load_adjusted_closes(["SPY"])
    res = run_backtest(root, closes, end="2026-06-18", capital=10_000, slippage_bps=50)
    # Composer: first_day 8429 = 1993-01-29, last 20622 = 2026-06-18, size 8403
    assert res.first_day == pd.Timestamp("1993-01-29") and res.last_day == pd.Timestamp("2026-06-18")
    assert res.stats["n_days"] == 8403
    # first value 9950.24 (Composer rounds to the cent; v2 engine: 10000/1.005 = 9950.2488)
    assert res.nav.iloc[0] == pytest.approx(9950.25, abs=0.01)
    assert res.costs.sum() == pytest.approx(49.75, abs=0.01)
    # rebalance days: the first day, then the first session of each month
    want = [8429, 8432, 8460, 8491, 8523, 8552, 8582, 8614, 8644, 8674]
    got = [(d - pd.Timestamp("1970-01-01")).days for d in res.rebalanced[res.rebalanced].index[:10]]
    assert got == want
    # headline numbers: the residual gap is the data vendor (Yahoo vs Composer's adjusted closes)
    assert res.nav.iloc[-1] == pytest.approx(308153.92, rel=1e-4)          # ours 308139.53
    # Composer's formula on Composer's own numbers gives Composer's value to every printed digit:
    # 30.815392^(252/8404) − 1 (size + 1 = 8404; 252/8403 would give 0.1082738)
    assert annualized_return(29.815392, 8403) == 0.1082602914734887
    # ours: the same formula on our (Yahoo) closes; the gap is the cumulative return's −1.4e-3
    assert res.stats["annualized_return"] == pytest.approx(0.1082602914734887, abs=5e-6)
    assert res.stats["max_drawdown"] == pytest.approx(0.5518910794871088, abs=1e-4)
    assert res.stats["sharpe_ratio"] == pytest.approx(0.6457575584192363, abs=0.005)
    assert res.stats["calmar_ratio"] == pytest.approx(0.19616242316164756, abs=5e-4)
