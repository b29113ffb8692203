"""Backtest fidelity: regulatory fees on a 2-asset switch (by hand), sells before buys, the benchmark series,
Composer-style data warnings, and the full stats set against Composer's SPY monthly probe."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.backtest import MissingPriceError, benchmark_nav, run_backtest, simulate, simulate_detailed
from engine.fees import COMPOSER_FEE_SCHEDULE, HELP_PAGE_FEE_SCHEDULE
from engine.metrics import composer_stats
from engine.model import Asset, Comparison, Constant, If, IndicatorRef, Root, WeightEqual
from engine.parity import PROBE_TOLERANCES
from engine.parsing import load_symphony
from warehouse.bundled import load_adjusted_closes

ROOT = Path(__file__).resolve().parents[2]
PROBE = ROOT / "tests" / "fixtures" / "composer" / "spy_buy_hold_monthly_probe.composer_backtest.json"

S = 0.001                                   # 10 bps
CAP = 10_000.0
SWITCH_PRICES = np.array([[100.0, 50.0], [100.0, 50.0], [100.0, 55.0]])   # A flat; B +10 % on day 2
SWITCH_TARGETS = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])            # all A, then all B
V0 = CAP / (1 + S)                          # 9990.00999… after buying A on day 0
A_SHARES = V0 / 100                         # 99.9000999 shares of A


def sessions(first: str, n: int = 3) -> pd.DatetimeIndex:
    return pd.bdate_range(first, periods=n)


def run_switch(first_day: str, **kw):
    kw.setdefault("fee_schedule", HELP_PAGE_FEE_SCHEDULE)
    return simulate_detailed(SWITCH_PRICES, SWITCH_TARGETS, np.ones(3, dtype=bool), capital=CAP, slippage=S,
                             sessions=sessions(first_day), **kw)


# -- fees on a 2-asset switch, by hand ---------------------------------------------------------------------------
# The arithmetic tests use Composer's help-page rates (an explicit schedule: $5.10/M, $0.000119/share ≤ $5.95
# before 2024-05-22); the dated rates Composer applies have their own goldens below (2024-06-03, 2025-06-02).
def test_switch_pays_sec_and_taf_on_the_sell_first_regime():
    sim = run_switch("2024-01-02", apply_reg_fee=True, apply_taf_fee=True)
    # day 1 sells every A share: principal V0·(1−s) = 9980.02; SEC 5.10/M → 0.050898 → 0.06;
    # TAF 99.9001 sh × 0.000119 = 0.011888 → 0.02. Fees come out of the sale proceeds before B is bought:
    # B notional·(1+s) = V0·(1−s) − 0.08
    fee = 0.06 + 0.02
    nav1 = (V0 * (1 - S) - fee) / (1 + S)
    assert sim.reg_fee.tolist() == [0.0, 0.06, 0.0]
    assert sim.taf_fee.tolist() == [0.0, 0.02, 0.0]
    assert sim.nav[0] == pytest.approx(V0, abs=1e-9)
    assert sim.nav[1] == pytest.approx(nav1, abs=1e-9)
    assert sim.shares[1].tolist() == pytest.approx([0.0, nav1 / 50], abs=1e-12)
    assert sim.cash[1] == pytest.approx(0.0, abs=1e-9)          # buys never exceed the cash left
    assert sim.slippage[1] == pytest.approx(S * (V0 + nav1), abs=1e-9)
    assert sim.nav[1] == pytest.approx(V0 - sim.slippage[1] - fee, abs=1e-9)
    # day 2: B +10 %, already at target: no sale, no fee
    assert sim.nav[2] == pytest.approx(nav1 * 1.1, abs=1e-9)
    # one-way turnover: a full switch is 1.0 (½·(|0−1| + |1−0|))
    assert sim.turnover[1] == pytest.approx(1.0, abs=1e-12)
    assert sim.turnover[2] == pytest.approx(0.0, abs=1e-12)


def test_switch_fees_dated_rates_2024_06_03():
    # dated rates on 2024-06-04 (the sale day; first day 2024-06-03): SEC $27.80/M since 2024-05-22,
    # TAF $0.000166/share since 2024-01-01, no CAT fee before 2024-09-01.
    # SEC 27.80/M × 9980.02 = 0.27744 → 0.28 ; TAF 99.9001 × 0.000166 = 0.016583 → 0.02 ; CAT 0
    sim = run_switch("2024-06-03", apply_reg_fee=True, apply_taf_fee=True, apply_cat_fee=True,
                     fee_schedule=COMPOSER_FEE_SCHEDULE)
    assert sim.reg_fee[1] == 0.28 and sim.taf_fee[1] == 0.02 and sim.cat_fee.tolist() == [0.0, 0.0, 0.0]
    assert sim.nav[1] == pytest.approx((V0 * (1 - S) - 0.30) / (1 + S), abs=1e-9)


def test_switch_fees_dated_rates_2025_06_02():
    # 2025-06-03: SEC $0.00/M since 2025-05-14 ; TAF 99.9001 × 0.000166 = 0.016583 → 0.02 ;
    # CAT $0.000048/share on both sides: day 0 buys 99.9001 A → 0.004795 → 0.01 ; day 1 sells 99.9001 A → 0.01
    # and buys B, 2·V1/100 ≈ 199.5 shares → 0.009577 → 0.01
    sim = run_switch("2025-06-02", apply_reg_fee=True, apply_taf_fee=True, apply_cat_fee=True,
                     fee_schedule=COMPOSER_FEE_SCHEDULE)
    assert sim.reg_fee.tolist() == [0.0, 0.0, 0.0]
    assert sim.taf_fee.tolist() == [0.0, 0.02, 0.0]
    assert sim.cat_fee.tolist() == [0.01, 0.02, 0.0]
    # day 0: the CAT cent does not fit in the cash left: the buy is scaled so cash ends at 0, i.e. the capital
    # less the fee buys at close·(1+s): nav0 = (10,000 − 0.01)/1.001 = 9990.00000
    assert sim.nav[0] == pytest.approx((CAP - 0.01) / (1 + S), abs=1e-9)
    a0 = sim.shares[0][0]
    assert a0 == pytest.approx((CAP - 0.01) / (1 + S) / 100, rel=1e-12)
    assert sim.cash[0] == pytest.approx(0.0, abs=1e-9)
    v1 = (a0 * 100 * (1 - S) - 0.02 - 0.02) / (1 + S)
    assert sim.nav[1] == pytest.approx(v1, abs=1e-6)
    assert sim.shares[1][1] == pytest.approx(v1 / 50, rel=1e-9)


def test_switch_fee_flags():
    off = run_switch("2024-01-02")                               # simulate's default: fees off
    assert off.reg_fee.sum() == 0 and off.taf_fee.sum() == 0
    assert off.nav[1] == pytest.approx(V0 * (1 - S) / (1 + S), abs=1e-9)
    only_taf = run_switch("2024-01-02", apply_taf_fee=True)
    assert only_taf.reg_fee[1] == 0.0 and only_taf.taf_fee[1] == 0.02
    assert only_taf.nav[1] == pytest.approx((V0 * (1 - S) - 0.02) / (1 + S), abs=1e-9)
    # the legacy 6-tuple API is unchanged and fee-free by default
    nav, shares, traded, costs, vw, cash = simulate(SWITCH_PRICES, SWITCH_TARGETS, np.ones(3, dtype=bool),
                                                    capital=CAP, slippage=S)
    assert nav.tolist() == pytest.approx(off.nav.tolist(), abs=1e-12)


def test_fee_comes_out_of_cash_when_the_target_keeps_cash():
    # day 1 target: half B, half cash. V' = V − s(V + ½V') → V' = V(1−s)/(1+s/2); the buy is not scaled,
    # the fee reduces the cash: cash = ½V' − fee
    targets = np.array([[1.0, 0.0], [0.0, 0.5], [0.0, 0.5]])
    sim = simulate_detailed(SWITCH_PRICES, targets, np.ones(3, dtype=bool), capital=CAP, slippage=S,
                            sessions=sessions("2024-01-02"), apply_reg_fee=True, apply_taf_fee=True,
                            fee_schedule=HELP_PAGE_FEE_SCHEDULE)
    v1 = V0 * (1 - S) / (1 + S / 2)
    assert sim.shares[1][1] == pytest.approx(0.5 * v1 / 50, abs=1e-12)
    assert sim.cash[1] == pytest.approx(0.5 * v1 - 0.08, abs=1e-9)
    assert sim.nav[1] == pytest.approx(v1 - 0.08, abs=1e-9)


def test_taf_cap_and_uncapped_sec_fee_in_a_backtest():
    prices = np.ones((2, 2))
    targets = np.array([[1.0, 0.0], [0.0, 1.0]])
    sim = simulate_detailed(prices, targets, np.ones(2, dtype=bool), capital=10_000_000.0, slippage=0.0,
                            sessions=sessions("2024-01-02", 2), apply_reg_fee=True, apply_taf_fee=True,
                            fee_schedule=HELP_PAGE_FEE_SCHEDULE)
    # 10,000,000 shares sold for $10,000,000: SEC 51.00 ; TAF 1,190.00 capped at 5.95
    assert sim.reg_fee[1] == 51.0 and sim.taf_fee[1] == 5.95
    assert sim.nav[1] == pytest.approx(10_000_000.0 - 56.95, abs=1e-6)


def switch_symphony() -> Root:
    # if current-price(SW) > 0.5 then B else A — SW is a 0/1 signal column
    cond = Comparison(lhs=IndicatorRef(fn="current-price", ticker="SW"), comparator="gt", rhs=Constant(value=0.5))
    node = If(path="root/0/0", condition=cond, then_children=(Asset(ticker="B", path="root/0/0/0/0"),),
              else_children=(Asset(ticker="A", path="root/0/0/1/0"),))
    return Root(name="switch", rebalance="daily", children=(WeightEqual(path="root/0", children=(node,)),))


def switch_closes(first_day: str = "2024-01-02") -> pd.DataFrame:
    return pd.DataFrame({"A": SWITCH_PRICES[:, 0], "B": SWITCH_PRICES[:, 1], "SW": [0.0, 1.0, 1.0],
                         "SPY": [400.0, 404.0, 398.0]}, index=sessions(first_day))


def test_run_backtest_reports_fees_like_composer_costs():
    res = run_backtest(switch_symphony(), switch_closes(), capital=CAP, slippage_bps=10.0)
    assert res.apply_reg_fee and res.apply_taf_fee and res.apply_cat_fee   # Composer's defaults
    # dated rates on 2024-01-03: SEC $8.00/M (since 2023-02-27) × 9980.02 = 0.07984 → 0.08;
    # TAF $0.000166 (since 2024-01-01) × 99.9001 = 0.016583 → 0.02; no CAT fee yet
    assert res.fees.tolist() == pytest.approx([0.0, 0.10, 0.0], abs=1e-12)
    assert res.costs_summary["reg_fee"] == pytest.approx(0.08) and res.costs_summary["taf_fee"] == pytest.approx(0.02)
    assert res.costs_summary["cat_fee"] == 0.0
    assert res.costs_summary["slippage"] == pytest.approx(res.costs.sum())
    assert res.nav.iloc[1] == pytest.approx((V0 * (1 - S) - 0.10) / (1 + S), abs=1e-9)
    assert res.holdings["$USD"] == pytest.approx(0.0, abs=1e-9)
    # headline stats are still composer_stats of the (fee-inclusive) NAV; full_stats agrees on them
    assert res.stats == composer_stats(res.nav, capital=CAP)
    assert res.full_stats["sharpe_ratio"] == res.stats["sharpe_ratio"]
    assert res.full_stats["annualized_rate_of_return"] == res.stats["annualized_return"]
    # one switch in 2 daily returns: Σ turnover (day ≥ 1) = 1 → ×252/2
    assert res.full_stats["annualized_turnover"] == pytest.approx(126.0, abs=1e-9)
    off = run_backtest(switch_symphony(), switch_closes(), capital=CAP, slippage_bps=10.0, apply_reg_fee=False,
                       apply_taf_fee=False)
    assert off.fees.sum() == 0.0 and off.costs_summary["reg_fee"] == 0.0
    assert off.nav.iloc[1] == pytest.approx(V0 * (1 - S) / (1 + S), abs=1e-9)


# -- benchmark ------------------------------------------------------------------------------------------------------
def test_benchmark_is_buy_and_hold_with_the_first_buy_slippage():
    res = run_backtest(switch_symphony(), switch_closes(), capital=CAP, slippage_bps=10.0)
    shares = CAP / (400.0 * (1 + S))
    assert res.benchmark_nav.tolist() == pytest.approx([shares * 400, shares * 404, shares * 398], abs=1e-9)
    assert res.benchmark_nav.index.equals(res.nav.index)
    assert res.benchmark_stats["cumulative_return"] == pytest.approx(shares * 398 / CAP - 1)
    for key in ("alpha", "beta", "r_square", "pearson_r"):
        assert key in res.full_stats
    none = run_backtest(switch_symphony(), switch_closes(), capital=CAP, slippage_bps=10.0, benchmark=None)
    assert none.benchmark_nav is None and none.benchmark_stats is None and "beta" not in none.full_stats
    # a closes frame without SPY: silently no benchmark
    no_spy = run_backtest(switch_symphony(), switch_closes().drop(columns="SPY"), capital=CAP, slippage_bps=10.0)
    assert no_spy.benchmark_nav is None


def test_benchmark_series_with_gaps_and_a_late_start():
    days = sessions("2024-01-02", 5)
    bench = pd.Series([10.0, 11.0, 12.0], index=days[[1, 2, 4]])     # no bar on day 0 and day 3
    nav = benchmark_nav(bench, days, capital=1000.0, slippage=0.0)
    assert np.isnan(nav.iloc[0])
    assert nav.iloc[1:].tolist() == pytest.approx([1000.0, 1100.0, 1100.0, 1200.0])   # day 3 keeps day 2's close


def test_spy_only_symphony_has_beta_one_against_spy():
    days = sessions("2024-01-02", 8)
    closes = pd.DataFrame({"SPY": [100, 101, 99, 102, 104, 103, 105, 107.0]}, index=days)
    root = Root(name="spy", rebalance="daily", children=(Asset(ticker="SPY", path="root/0"),))
    res = run_backtest(root, closes, capital=CAP, slippage_bps=10.0)
    assert res.benchmark_nav.tolist() == pytest.approx(res.nav.tolist(), rel=1e-12)
    assert res.full_stats["beta"] == pytest.approx(1.0, abs=1e-12)
    assert res.full_stats["alpha"] == pytest.approx(0.0, abs=1e-12)
    assert res.full_stats["r_square"] == pytest.approx(1.0, abs=1e-12)


# -- data warnings ------------------------------------------------------------------------------------------------
def late_symphony() -> Root:
    # if cumulative-return(LATE, 3) > 0 then SPY else LATE
    cond = Comparison(lhs=IndicatorRef(fn="cumulative-return", ticker="LATE", window=3), comparator="gt",
                      rhs=Constant(value=0.0))
    node = If(path="root/0", condition=cond, then_children=(Asset(ticker="SPY", path="root/0/0/0"),),
              else_children=(Asset(ticker="LATE", path="root/0/1/0"),))
    return Root(name="late", rebalance="daily", children=(node,))


def late_closes() -> pd.DataFrame:
    days = sessions("2024-01-02", 12)
    late = [np.nan] * 4 + [20.0, 20.5, 20.2, 21.0, 21.5, 21.1, 21.9, 22.0]
    return pd.DataFrame({"SPY": np.linspace(400, 411, 12), "LATE": late}, index=days)


def test_data_warnings_like_composer():
    closes = late_closes()
    d = closes.index
    res = run_backtest(late_symphony(), closes, capital=CAP, slippage_bps=1.0)
    # first LATE close on session 4; a 3-day cumulative return needs 4 closes → session 7 (= first backtest day)
    assert res.first_day == d[7]
    assert res.data_warnings == {"LATE": [
        f"Close price data is not available for LATE until {d[4].date()}",
        f"Window functions on Close price data for LATE are not available until {d[7].date()}"]}
    assert res.warnings[:2] == res.data_warnings["LATE"]
    # a requested start after LATE's first close but before its window: only the window message (+ the move)
    res2 = run_backtest(late_symphony(), closes, start=d[5], capital=CAP, slippage_bps=1.0)
    assert res2.data_warnings == {"LATE": [
        f"Window functions on Close price data for LATE are not available until {d[7].date()}"]}
    assert any(w.startswith(f"start moved from {d[5].date()} to {d[7].date()}") for w in res2.warnings)
    # a start after every warm-up: nothing to report
    res3 = run_backtest(late_symphony(), closes, start=d[8], capital=CAP, slippage_bps=1.0)
    assert res3.data_warnings == {} and res3.warnings == []


# -- the SPY monthly probe: every stat we can compute vs Composer ------------------------------------------------
# the tolerances per stats key live with the parity report (engine.parity.PROBE_TOLERANCES, docs/parity.md)


@pytest.fixture(scope="module")
def probe_run():
    root = load_symphony(ROOT / "symphonies" / "spy_buy_hold_monthly_probe.json")
    res = run_backtest(root, load_adjusted_closes(["SPY"]), end="2026-06-18", capital=10_000, slippage_bps=50)
    composer = json.loads(PROBE.read_text())["response"]
    return res, composer


def test_spy_probe_full_stats_vs_composer(probe_run):
    res, composer = probe_run
    theirs = composer["stats"]
    ours = res.full_stats
    print("\nSPY monthly probe, full stats: ours vs Composer")
    print(f"{'key':36s} {'ours':>22s} {'Composer':>22s} {'diff':>11s}")
    for key in sorted(theirs):
        o = ours.get(key, float("nan"))
        print(f"{key:36s} {o:22.12g} {theirs[key]:22.12g} {o - theirs[key]:+11.3g}")
    assert set(theirs) <= set(ours), f"keys we do not compute: {sorted(set(theirs) - set(ours))}"
    assert set(PROBE_TOLERANCES) == set(theirs)
    for key, (tol, why) in PROBE_TOLERANCES.items():
        assert ours[key] == pytest.approx(theirs[key], abs=tol), f"{key}: {why}"


def test_spy_probe_costs_and_warnings_match_composer(probe_run):
    res, composer = probe_run
    costs = composer["costs"]
    # buy-and-hold: no sell, so no regulatory fee — Composer reports 0.0 for both with the fees switched on
    assert res.apply_reg_fee and res.apply_taf_fee
    assert res.costs_summary["reg_fee"] == costs["reg_fee"] == 0.0
    assert res.costs_summary["taf_fee"] == costs["taf_fee"] == 0.0
    # Composer's 0.25 CAT fee: 25 one-cent fills re-investing its residual cent at monthly rebalances; we trade
    # no residue (engine.parity.PROBE_COST_TOLERANCES)
    assert res.costs_summary["cat_fee"] == 0.0 and costs["cat_fee"] == 0.25
    assert res.costs_summary["slippage"] == pytest.approx(costs["slippage"], abs=0.01)
    assert res.data_warnings == composer["data_warnings"] == {}
    # the benchmark (SPY, Composer's default) is the symphony itself here: no monthly trade changes anything
    assert res.benchmark_nav.to_numpy() == pytest.approx(res.nav.to_numpy(), rel=1e-9)
    assert res.full_stats["beta"] == pytest.approx(1.0, abs=1e-9)


# -- paper = backtest: the simulated broker fills with the backtest's cost model ----------------------------------
def test_the_same_sale_costs_the_same_in_the_backtest_and_the_paper_broker(tmp_path):
    import datetime as dt

    from engine.broker import OrderRequest
    from engine.costs import CostModel
    from resources import SimulatedAccount
    from warehouse import Warehouse

    # backtest: day 0 buys A, day 1 (2025-06-03) sells every A share and buys B
    sim = run_switch("2025-06-02", costs=CostModel(slippage_bps=10.0))
    sold = sim.shares[0][0]
    sale_fees = 0.02 + 0.01          # TAF 0.016583 → 0.02, CAT 0.004795 → 0.01, SEC $0.00/M (hand-worked above)
    backtest_proceeds = sold * 100.0 * (1 - S) - sale_fees
    # the backtest's cash after the sale and before the buy: what B's purchase (and its CAT cent) spends
    b_cost = sim.shares[1][1] * 50.0 * (1 + S) + 0.01
    assert backtest_proceeds == pytest.approx(b_cost + sim.cash[1], abs=1e-9)
    # paper: the same sale of the same shares at the same close on the same session
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    wh.create_schema()
    try:
        acct = SimulatedAccount("acct", wh, {"A": 100.0, "B": 50.0}, dt.date(2025, 6, 3), CostModel(slippage_bps=10.0))
        fill = acct.submit(OrderRequest("c1", "A", "sell", qty=float(sold)))
        assert fill.status == "filled" and fill.filled_qty == pytest.approx(sold, rel=1e-15)
        assert fill.filled_qty * fill.filled_avg_price == pytest.approx(backtest_proceeds, abs=1e-9)
        # a notional buy with those proceeds buys what the backtest bought (cash 0 in both)
        buy = acct.submit(OrderRequest("c2", "B", "buy", notional_usd=backtest_proceeds))
        assert buy.filled_qty == pytest.approx(sim.shares[1][1], rel=1e-12)
        assert buy.filled_qty * buy.filled_avg_price == pytest.approx(backtest_proceeds, abs=1e-9)
    finally:
        wh.dispose()


# -- missing prices are errors -------------------------------------------------------------------------------------
def stale_closes() -> pd.DataFrame:
    # B's series stops after session 4 (as SOXS's did at 2026-05-22); the symphony holds B from session 2 on
    days = sessions("2024-01-02", 8)
    return pd.DataFrame({"A": [100.0] * 8, "B": [50.0, 50.0, 51.0, 52.0, 53.0] + [np.nan] * 3,
                         "SW": [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], "SPY": np.linspace(400, 407, 8)},
                        index=days)


def test_holding_a_ticker_without_a_price_is_an_error_naming_it_and_the_dates():
    closes = stale_closes()
    d = closes.index
    with pytest.raises(MissingPriceError) as err:
        run_backtest(switch_symphony(), closes, capital=CAP, slippage_bps=10.0)
    msg = str(err.value)
    assert f"B on {d[5].date()}..{d[7].date()} (3 sessions)" in msg and "--allow-missing-prices" in msg
    assert err.value.missing == {"B": list(d[5:8])}


def test_allow_missing_prices_continues_and_lists_them_in_data_warnings():
    closes = stale_closes()
    d = closes.index
    res = run_backtest(switch_symphony(), closes, capital=CAP, slippage_bps=10.0, allow_missing_prices=True)
    want = (f"Close price data is missing for B on {d[5].date()}..{d[7].date()} (3 sessions) while held "
            "(last close carried forward)")
    assert res.data_warnings == {"B": [want]}
    assert want in res.warnings
    # carried forward: the NAV is flat at B's last close (53) on the three stale sessions
    assert res.nav.iloc[5:].tolist() == pytest.approx([res.nav.iloc[4]] * 3, rel=1e-12)
    # a ticker that is not held is no error: the benchmark's series may stop early (it keeps its last close)
    ok = closes.assign(B=50.0, SPY=[400.0, 401.0] + [np.nan] * 6)
    res_ok = run_backtest(switch_symphony(), ok, capital=CAP, slippage_bps=10.0)
    assert res_ok.data_warnings == {} and res_ok.benchmark_nav.iloc[-1] == pytest.approx(res_ok.benchmark_nav.iloc[1])


# -- exports like Composer's: holdings (day-end drifted weights) and rebalances ----------------------------------
def test_holdings_and_rebalances_exports_by_hand():
    # 50/50 A/B, threshold mode with a 10 % corridor, no costs. Day 1: B +50 % → weights 40/60, inside the band
    # (|0.6 − 0.5| = 0.1 is not > 0.1); day 2: B +75 % of the start → A 100·… : weights 36.36/63.64, out → corridor
    days = sessions("2024-01-02", 4)
    closes = pd.DataFrame({"A": [100.0, 100.0, 100.0, 100.0], "B": [50.0, 75.0, 87.5, 87.5]}, index=days)
    root = Root(name="ab", rebalance="none", corridor_width=0.10, children=(WeightEqual(path="root/0", children=(
        Asset(ticker="A", path="root/0/0"), Asset(ticker="B", path="root/0/1"))),))
    res = run_backtest(root, closes, capital=1000.0, slippage_bps=0.0, benchmark=None, apply_reg_fee=False,
                       apply_taf_fee=False, apply_cat_fee=False)
    h = res.holdings_weights()
    assert list(h.columns) == ["$USD", "A", "B"]
    # day 0: 5 A + 10 B; day 1: 500 / 750 → 0.4 / 0.6; day 2: 500 / 875 → 0.363636 / 0.636364, traded back to
    # 0.5 / 0.5 at the close; day 3: unchanged prices → 0.5 / 0.5
    assert h["A"].tolist() == pytest.approx([0.5, 0.4, 0.5, 0.5], abs=1e-12)
    assert h["B"].tolist() == pytest.approx([0.5, 0.6, 0.5, 0.5], abs=1e-12)
    assert h["$USD"].tolist() == pytest.approx([0.0] * 4, abs=1e-12)
    reb = res.rebalances()
    assert list(reb.columns) == ["date", "reason", "turnover", "slippage_usd", "reg_fee_usd", "taf_fee_usd",
                                 "cat_fee_usd", "holdings"]
    assert reb["date"].tolist() == [days[0].date(), days[2].date()]
    assert reb["reason"].tolist() == ["initial", "corridor"]
    # day 2 one-way turnover: ½(|0.5 − 500/1375| + |0.5 − 875/1375|) = 0.136364
    assert reb["turnover"].iloc[1] == pytest.approx(0.5 * (abs(0.5 - 500 / 1375) + abs(0.5 - 875 / 1375)))
    assert reb["holdings"].tolist() == ["A;B", "A;B"]
    # a branch switch in threshold mode: the switch symphony with rebalance none + corridor
    sw = switch_symphony()
    sw = Root(name=sw.name, rebalance="none", corridor_width=0.05, children=sw.children)
    res2 = run_backtest(sw, switch_closes(), capital=CAP, slippage_bps=10.0)
    assert res2.rebalances()["reason"].tolist() == ["initial", "branch switch"]
    assert res2.rebalances()["holdings"].tolist() == ["A", "B"]
    # calendar mode
    res3 = run_backtest(switch_symphony(), switch_closes(), capital=CAP, slippage_bps=10.0)
    assert res3.rebalances()["reason"].tolist() == ["initial", "calendar", "calendar"]
