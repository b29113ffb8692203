"""Regulatory fee arithmetic by hand: SEC Section 31 fee, FINRA TAF and CAT fee per fill, by trade date
(engine.fees). The rounding/cap arithmetic uses Composer's help-page rates as an explicit schedule; the dated
rates Composer applies have their own goldens (a sale on 2024-06-03 and one on 2025-06-02)."""
from __future__ import annotations

import datetime as dt

import pytest

from engine.fees import (CAT_PER_SHARE, COMPOSER_FEE_SCHEDULE, COMPOSER_SWITCH_DATE, HELP_PAGE_FEE_SCHEDULE, SEC_RATE,
                         SEC_SECTION31_NOTICES, TAF_CAP, TAF_PER_SHARE, DatedRate, FeeRegime, FeeSchedule,
                         RateSchedule, cat_fee, ceil_to_cent, ceil_to_cents, sec_fee, sell_fill_fees, taf_fee)

OLD_DAY = "2023-06-01"   # help page, first pair: $5.10/M, $0.000119/share capped at $5.95
NEW_DAY = "2025-06-02"   # help page, second pair: $27.80/M, $0.000166/share capped at $8.30
HP = HELP_PAGE_FEE_SCHEDULE


def test_ceil_to_cent_rounds_up_and_survives_float_noise():
    assert ceil_to_cent(0.255) == 0.26
    assert ceil_to_cent(0.0001) == 0.01
    assert ceil_to_cent(0.17) == 0.17                  # 0.17·100 = 17.000000000000004 in binary
    assert ceil_to_cent(0.000166 * 1000) == 0.17       # 0.16600000000000001
    assert ceil_to_cent(27.80e-6 * 50_000) == 1.39     # 1.3900000000000001
    assert ceil_to_cent(0.0) == 0.0 and ceil_to_cent(-3.0) == 0.0
    xs = [0.255, 0.0001, 0.17, 0.000166 * 1000, 27.80e-6 * 50_000, 0.0, -3.0, 5.949881]
    assert ceil_to_cents(xs).tolist() == [ceil_to_cent(x) for x in xs]


def test_sell_1000_shares_for_50000_first_regime():
    # SEC: 50,000 × 5.10/1,000,000 = 0.255 → 0.26 ; TAF: 1,000 × 0.000119 = 0.119 → 0.12
    assert sec_fee(50_000.0, OLD_DAY, HP) == 0.26
    assert taf_fee(1_000.0, OLD_DAY, HP) == 0.12
    assert sell_fill_fees(50_000.0, 1_000.0, OLD_DAY, schedule=HP) == (0.26, 0.12)


def test_sell_1000_shares_for_50000_second_regime():
    # SEC: 50,000 × 27.80/1,000,000 = 1.39 exactly → 1.39 ; TAF: 1,000 × 0.000166 = 0.166 → 0.17
    assert sec_fee(50_000.0, NEW_DAY, HP) == 1.39
    assert taf_fee(1_000.0, NEW_DAY, HP) == 0.17
    assert sell_fill_fees(50_000.0, 1_000.0, NEW_DAY, schedule=HP) == (1.39, 0.17)


def test_taf_cap_per_fill():
    # 100,000 shares: 11.90 > 5.95 (first regime), 16.60 > 8.30 (second regime)
    assert taf_fee(100_000.0, OLD_DAY, HP) == 5.95
    assert taf_fee(100_000.0, NEW_DAY, HP) == 8.30
    # at the cap: 50,000 shares × 0.000119 = 5.95 exactly; 49,999 → 5.949881 → rounds up to 5.95 as well
    assert taf_fee(50_000.0, OLD_DAY, HP) == 5.95
    assert taf_fee(49_999.0, OLD_DAY, HP) == 5.95
    assert taf_fee(40_000.0, OLD_DAY, HP) == 4.76
    # the SEC fee has no cap: $10M sold → 51.00 / 278.00
    assert sec_fee(10_000_000.0, OLD_DAY, HP) == 51.0
    assert sec_fee(10_000_000.0, NEW_DAY, HP) == 278.0


def test_switches_and_no_fee_without_a_sale():
    assert sell_fill_fees(50_000.0, 1_000.0, OLD_DAY, apply_reg_fee=False, schedule=HP) == (0.0, 0.12)
    assert sell_fill_fees(50_000.0, 1_000.0, OLD_DAY, apply_taf_fee=False, schedule=HP) == (0.26, 0.0)
    assert sell_fill_fees(50_000.0, 1_000.0, OLD_DAY, apply_reg_fee=False, apply_taf_fee=False,
                          schedule=HP) == (0.0, 0.0)
    assert sell_fill_fees(0.0, 0.0, OLD_DAY, schedule=HP) == (0.0, 0.0)
    # a fractional share still pays the one-cent minimum that rounding up implies
    assert sell_fill_fees(12.34, 0.05, OLD_DAY, schedule=HP) == (0.01, 0.01)


def test_help_page_schedule_switch_date_is_the_stated_assumption():
    assert COMPOSER_SWITCH_DATE == dt.date(2024, 5, 22)
    before = HP.regime_on("2024-05-21")
    after = HP.regime_on("2024-05-22")
    assert (before.sec_rate, before.taf_per_share, before.taf_cap) == (5.10e-6, 0.000119, 5.95)
    assert (after.sec_rate, after.taf_per_share, after.taf_cap) == (27.80e-6, 0.000166, 8.30)
    assert HP.regime_on("1993-01-29") == before


def test_sale_on_2024_06_03_at_the_dated_rates():
    # 1,000 shares sold for $50,000 on 2024-06-03: SEC $27.80/M (SEC Release 34-99973, from 2024-05-22)
    # → 50,000 × 27.80e-6 = 1.39 ; TAF $0.000166/share (third step of SR-FINRA-2020-032, from 2024-01-01)
    # → 0.166 → 0.17 ; CAT: none before September 2024 → 0.00
    day = "2024-06-03"
    assert sec_fee(50_000.0, day) == 1.39
    assert taf_fee(1_000.0, day) == 0.17
    assert cat_fee(1_000.0, day) == 0.0
    assert sell_fill_fees(50_000.0, 1_000.0, day) == (1.39, 0.17)


def test_sale_on_2025_06_02_at_the_dated_rates():
    # the same sale on 2025-06-02: SEC $0.00/M (SEC Release 34-102779, from 2025-05-14) → 0.00 ; TAF 0.17 ;
    # CAT $0.000035 + $0.000013 = $0.000048/share (CAT Fee 2024-1 + Historical CAT Assessment 1) → 0.048 → 0.05
    day = "2025-06-02"
    assert sec_fee(50_000.0, day) == 0.0
    assert taf_fee(1_000.0, day) == 0.17
    assert cat_fee(1_000.0, day) == 0.05
    assert taf_fee(100_000.0, day) == 8.30                   # capped
    assert cat_fee(100_000.0, day) == 4.80                   # no cap on the CAT fee
    # the flat help-page rate would have charged 1.39 SEC on this sale (the overstatement)
    assert sec_fee(50_000.0, day, HP) == 1.39


def test_dated_schedules_follow_their_sources():
    for day, per_million, _ in SEC_SECTION31_NOTICES:
        assert COMPOSER_FEE_SCHEDULE.regime_on(day).sec_rate == pytest.approx(per_million * 1e-6)
    assert sec_fee(50_000.0, "2021-02-24") == 1.11   # 22.10/M: 1.105 → 1.11
    assert sec_fee(50_000.0, "2021-02-25") == 0.26   # 5.10/M
    assert sec_fee(50_000.0, "2025-05-13") == 1.39 and sec_fee(50_000.0, "2025-05-14") == 0.0
    assert SEC_RATE.on("1993-01-29").value == pytest.approx(23.10e-6)      # the oldest recorded rate stands
    assert (TAF_PER_SHARE.on("2011-06-30").value, TAF_CAP.on("2011-06-30").value) == (0.000075, 3.75)
    assert (TAF_PER_SHARE.on("2012-03-01").value, TAF_CAP.on("2012-03-01").value) == (0.000095, 4.75)
    assert (TAF_PER_SHARE.on("2023-06-01").value, TAF_CAP.on("2023-06-01").value) == (0.000145, 7.27)
    assert CAT_PER_SHARE.on("2024-08-30").value == 0.0
    assert CAT_PER_SHARE.on("2024-09-03").value == 0.000035
    assert CAT_PER_SHARE.on("2024-10-01").value == 0.000048
    for sched in (SEC_RATE, TAF_PER_SHARE, TAF_CAP, CAT_PER_SHARE):
        assert all(r.source for r in sched.rates), sched.name
    # every change date of any rate starts a regime of the merged schedule
    eff = {r.effective for r in COMPOSER_FEE_SCHEDULE.regimes}
    assert {dt.date(2024, 5, 22), dt.date(2024, 1, 1), dt.date(2024, 9, 1), dt.date(2025, 5, 14)} <= eff
    rates = COMPOSER_FEE_SCHEDULE.arrays(["2024-06-03", "2025-06-02"])
    assert rates["sec_rate"].tolist() == pytest.approx([27.80e-6, 0.0])
    assert rates["cat_per_share"].tolist() == [0.0, 0.000048]


def test_schedule_validation():
    r = FeeRegime(dt.date(2020, 1, 1), 1e-6, 0.0001, 5.0)
    with pytest.raises(ValueError):
        FeeSchedule(regimes=())
    with pytest.raises(ValueError):
        FeeSchedule(regimes=(r, r))
    with pytest.raises(ValueError, match="cat"):
        RateSchedule("cat", "USD", ())
    d = DatedRate(dt.date(2020, 1, 1), 0.0, "x")
    with pytest.raises(ValueError, match="increasing"):
        RateSchedule("cat", "USD", (d, d))


# -- the one cost model (engine.costs) -----------------------------------------------------------------------------
def test_cost_model_sale_and_buy_by_hand():
    from engine.costs import CostModel

    m = CostModel(slippage_bps=10.0)        # s = 0.001, every fee on, dated rates
    # sell 1,000 shares at a 50.00 close on 2025-06-02: fill 49.95; principal 49,950; SEC $0.00/M → 0;
    # TAF 0.166 → 0.17; CAT 0.048 → 0.05; cash in = 49,950 − 0.22
    sale = m.fill("sell", 1_000.0, 50.0, "2025-06-02")
    assert sale.fill_price == pytest.approx(49.95, abs=1e-12)
    assert (sale.sec_fee, sale.taf_fee, sale.cat_fee) == (0.0, 0.17, 0.05)
    assert sale.slippage == pytest.approx(50.0, abs=1e-9)
    assert sale.cash == pytest.approx(49_950.0 - 0.22, abs=1e-9)
    assert sale.net_price == pytest.approx((49_950.0 - 0.22) / 1_000, abs=1e-12)
    # the same sale on 2024-06-03: SEC 27.80/M × 49,950 = 1.38861 → 1.39; TAF 0.17; no CAT
    old = m.fill("sell", 1_000.0, 50.0, "2024-06-03")
    assert (old.sec_fee, old.taf_fee, old.cat_fee) == (1.39, 0.17, 0.0)
    # buy 1,000 at 50.00 on 2025-06-02: fill 50.05, CAT 0.05, no SEC/TAF; cash out 50,050.05
    buy = m.fill("buy", 1_000.0, 50.0, "2025-06-02")
    assert (buy.sec_fee, buy.taf_fee, buy.cat_fee) == (0.0, 0.0, 0.05)
    assert buy.cash == pytest.approx(-50_050.05, abs=1e-9)
    # a notional buy spends at most the notional all in: (10,000 − 0.01)/50.05 shares
    nb = m.buy_for_notional(10_000.0, 50.0, "2025-06-02")
    assert nb.cat_fee == 0.01 and nb.shares == pytest.approx(9_999.99 / 50.05, rel=1e-12)
    assert -nb.cash == pytest.approx(10_000.0, abs=1e-9)
    # switches and a residue leg under a cent pay nothing
    off = CostModel(10.0, apply_reg_fee=False, apply_taf_fee=False, apply_cat_fee=False)
    assert off.fill("sell", 1_000.0, 50.0, "2024-06-03").fees == 0.0
    assert m.fill("sell", 1e-4, 50.0, "2024-06-03").fees == 0.0
    assert CostModel.frictionless().fill("buy", 3.0, 10.0, "2025-06-02").cash == -30.0
    with pytest.raises(ValueError, match="side"):
        m.fill("short", 1.0, 1.0, "2025-06-02")
