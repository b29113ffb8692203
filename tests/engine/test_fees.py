"""Regulatory fee arithmetic by hand: SEC Section 31 fee and FINRA TAF per sell fill (engine.fees)."""
from __future__ import annotations

import datetime as dt

import pytest

from engine.fees import (COMPOSER_FEE_SCHEDULE, COMPOSER_SWITCH_DATE, SEC_NOTICE_FEE_SCHEDULE, SEC_SECTION31_NOTICES,
                         FeeRegime, FeeSchedule, ceil_to_cent, ceil_to_cents, sec_fee, sell_fill_fees, taf_fee)

OLD_DAY = "2023-06-01"   # Composer's first regime: $5.10/M, $0.000119/share capped at $5.95
NEW_DAY = "2025-06-02"   # Composer's second regime: $27.80/M, $0.000166/share capped at $8.30


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
    assert sec_fee(50_000.0, OLD_DAY) == 0.26
    assert taf_fee(1_000.0, OLD_DAY) == 0.12
    assert sell_fill_fees(50_000.0, 1_000.0, OLD_DAY) == (0.26, 0.12)


def test_sell_1000_shares_for_50000_second_regime():
    # SEC: 50,000 × 27.80/1,000,000 = 1.39 exactly → 1.39 ; TAF: 1,000 × 0.000166 = 0.166 → 0.17
    assert sec_fee(50_000.0, NEW_DAY) == 1.39
    assert taf_fee(1_000.0, NEW_DAY) == 0.17
    assert sell_fill_fees(50_000.0, 1_000.0, NEW_DAY) == (1.39, 0.17)


def test_taf_cap_per_fill():
    # 100,000 shares: 11.90 > 5.95 (first regime), 16.60 > 8.30 (second regime)
    assert taf_fee(100_000.0, OLD_DAY) == 5.95
    assert taf_fee(100_000.0, NEW_DAY) == 8.30
    # at the cap: 50,000 shares × 0.000119 = 5.95 exactly; 49,999 → 5.949881 → rounds up to 5.95 as well
    assert taf_fee(50_000.0, OLD_DAY) == 5.95
    assert taf_fee(49_999.0, OLD_DAY) == 5.95
    assert taf_fee(40_000.0, OLD_DAY) == 4.76
    # the SEC fee has no cap: $10M sold → 51.00 / 278.00
    assert sec_fee(10_000_000.0, OLD_DAY) == 51.0
    assert sec_fee(10_000_000.0, NEW_DAY) == 278.0


def test_switches_and_no_fee_without_a_sale():
    assert sell_fill_fees(50_000.0, 1_000.0, OLD_DAY, apply_reg_fee=False) == (0.0, 0.12)
    assert sell_fill_fees(50_000.0, 1_000.0, OLD_DAY, apply_taf_fee=False) == (0.26, 0.0)
    assert sell_fill_fees(50_000.0, 1_000.0, OLD_DAY, apply_reg_fee=False, apply_taf_fee=False) == (0.0, 0.0)
    assert sell_fill_fees(0.0, 0.0, OLD_DAY) == (0.0, 0.0)
    # a fractional share still pays the one-cent minimum that rounding up implies
    assert sell_fill_fees(12.34, 0.05, OLD_DAY) == (0.01, 0.01)


def test_composer_schedule_switch_date_is_the_stated_assumption():
    assert COMPOSER_SWITCH_DATE == dt.date(2024, 5, 22)
    before = COMPOSER_FEE_SCHEDULE.regime_on("2024-05-21")
    after = COMPOSER_FEE_SCHEDULE.regime_on("2024-05-22")
    assert (before.sec_rate, before.taf_per_share, before.taf_cap) == (5.10e-6, 0.000119, 5.95)
    assert (after.sec_rate, after.taf_per_share, after.taf_cap) == (27.80e-6, 0.000166, 8.30)
    # dates long before any regime use the first one (Composer publishes only these two)
    assert COMPOSER_FEE_SCHEDULE.regime_on("1993-01-29") == before


def test_sec_notice_schedule_follows_the_public_notices():
    for day, per_million, _ in SEC_SECTION31_NOTICES:
        assert SEC_NOTICE_FEE_SCHEDULE.regime_on(day).sec_rate == pytest.approx(per_million * 1e-6)
    assert sec_fee(50_000.0, "2021-02-24", SEC_NOTICE_FEE_SCHEDULE) == 1.11   # 22.10/M: 1.105 → 1.11
    assert sec_fee(50_000.0, "2021-02-25", SEC_NOTICE_FEE_SCHEDULE) == 0.26   # 5.10/M
    assert sec_fee(50_000.0, "2025-05-14", SEC_NOTICE_FEE_SCHEDULE) == 0.0    # 0.00/M from May 14, 2025
    # the TAF follows Composer's pair in both schedules
    assert taf_fee(1_000.0, "2025-06-02", SEC_NOTICE_FEE_SCHEDULE) == 0.17


def test_schedule_validation():
    r = FeeRegime(dt.date(2020, 1, 1), 1e-6, 0.0001, 5.0)
    with pytest.raises(ValueError):
        FeeSchedule(regimes=())
    with pytest.raises(ValueError):
        FeeSchedule(regimes=(r, r))
