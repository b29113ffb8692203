"""Regulatory fees on sells: SEC Section 31 fee and FINRA Trading Activity Fee (TAF), as dated data.

Composer charges both in backtests unless the request turns them off (API fields ``apply_reg_fee`` and
``apply_taf_fee``, both ``true`` by default; composer_format.md §6 [MCP server.py, PY requests.py]). Its help page
(H-FEES, https://help.composer.trade/article/78-slippage-and-fees) states, in two versions of the page:

* older page: SEC $5.10 per $1,000,000 of principal sold, FINRA TAF $0.000119 per share sold, at most $5.95;
* current page: SEC $27.80 per $1,000,000 of principal sold, FINRA TAF $0.000166 per share sold, at most $8.30;

both fees on sells only and "rounded up to the nearest penny on each fill or partial fill".

Rules implemented here (all amounts USD):

* SEC fee of one sell fill ``= ceil_to_cent(rate · principal)`` with ``principal`` the sale proceeds of the fill.
* TAF of one sell fill ``= min(ceil_to_cent(per_share · shares), cap)``.
* Buys pay neither fee. A fill with no principal (or no shares) pays nothing.

Schedules (a :class:`FeeSchedule` maps a trade date to the :class:`FeeRegime` in force):

* :data:`COMPOSER_FEE_SCHEDULE` (the default) — Composer's two published regimes. **ASSUMPTION:** the switch
  from the first to the second regime is taken on **2024-05-22**, the day the SEC's $27.80/M rate took effect
  (SEC Release 34-99973, "Order Making Fiscal Year 2024 Annual Adjustments to Transaction Fee Rates",
  89 FR 29402, Apr. 22, 2024; the date is 60 days after the Mar 23, 2024 appropriation). Composer publishes no
  switch date. The FINRA TAF reached $0.000166/$8.30 on a different date (at the start of 2024 by our
  recollection of FINRA's Schedule A; not re-verified here), but Composer quotes the SEC and TAF numbers as one
  pair, so both switch together here. Every trade date before the switch (back to 1993) uses the first regime,
  although the real rates then were different: Composer does not say what it does for old dates and this is
  the simplest reading of its page.
* :data:`SEC_NOTICE_FEE_SCHEDULE` — the SEC rate in force on each date according to the public SEC fee-rate
  notices listed in :data:`SEC_SECTION31_NOTICES`, with the TAF of Composer's regimes (same switch date as
  above). Use it to bound how much the simplification above matters; it is not Composer's behaviour.
"""
from __future__ import annotations

import bisect
import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: rounding guard: a product such as 0.000119 · 1000 comes out as 0.11900000000000001; without this slack it
#: would round up to 0.13 instead of 0.12 (1e-7 cent is far below any real fee).
_CENT_EPS = 1e-7


def ceil_to_cent(amount: float) -> float:
    """Round a non-negative USD amount up to the next cent (``0.255 → 0.26``, ``0.17 → 0.17``)."""
    if amount <= 0.0:
        return 0.0
    return math.ceil(amount * 100.0 - _CENT_EPS) / 100.0


def ceil_to_cents(amounts: np.ndarray) -> np.ndarray:
    """Vectorised :func:`ceil_to_cent` (non-positive amounts give 0)."""
    a = np.asarray(amounts, dtype="float64")
    return np.where(a > 0.0, np.ceil(a * 100.0 - _CENT_EPS) / 100.0, 0.0)


@dataclass(frozen=True)
class FeeRegime:
    """Fee rates in force from ``effective`` (inclusive) until the next regime of the schedule.

    Attributes:
        effective: first trade date of the regime.
        sec_rate: SEC Section 31 fee per USD of principal sold (fraction: $5.10/M = 5.10e-6).
        taf_per_share: FINRA TAF in USD per share sold.
        taf_cap: the most TAF one fill pays, USD.
        source: where the numbers come from.
    """

    effective: dt.date
    sec_rate: float
    taf_per_share: float
    taf_cap: float
    source: str = ""


@dataclass(frozen=True)
class FeeSchedule:
    """Regimes ordered by effective date; a date before the first regime uses the first regime."""

    regimes: tuple[FeeRegime, ...]
    name: str = ""

    def __post_init__(self) -> None:
        if not self.regimes:
            raise ValueError("a fee schedule needs at least one regime")
        dates = [r.effective for r in self.regimes]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise ValueError("fee regimes must have strictly increasing effective dates")

    def regime_on(self, when) -> FeeRegime:
        """The regime in force on trade date ``when`` (anything ``pd.Timestamp`` accepts)."""
        day = pd.Timestamp(when).date()
        i = bisect.bisect_right([r.effective for r in self.regimes], day) - 1
        return self.regimes[max(i, 0)]


#: Composer's two regimes (H-FEES); the 2024-05-22 switch is an ASSUMPTION (see the module docstring).
COMPOSER_SWITCH_DATE = dt.date(2024, 5, 22)
COMPOSER_FEE_SCHEDULE = FeeSchedule(name="composer", regimes=(
    FeeRegime(dt.date(1900, 1, 1), 5.10e-6, 0.000119, 5.95,
              "Composer H-FEES (older page): SEC $5.10/M, TAF $0.000119/share capped at $5.95"),
    FeeRegime(COMPOSER_SWITCH_DATE, 27.80e-6, 0.000166, 8.30,
              "Composer H-FEES (current page): SEC $27.80/M, TAF $0.000166/share capped at $8.30"),
))

#: SEC Section 31 rate changes ``(effective date, USD per $1M of covered sales, notice)`` from public SEC
#: fee-rate notices (Fee Rate Advisories / Orders Making Annual Adjustments to Transaction Fee Rates) and the
#: FINRA Information Notices relaying them. Earlier changes are not recorded: the first entry also stands for
#: every earlier date. Changes after 2025-05-14 (FY 2026 onward) are not recorded either. Two effective dates
#: (marked "derived") were not read from the notice text here: they are 60 days after the enactment of the
#: fiscal year's appropriation, which is how Section 31(j) sets them.
SEC_SECTION31_NOTICES: tuple[tuple[dt.date, float, str], ...] = (
    (dt.date(2018, 5, 22), 13.00, "FINRA Information Notice 2018-05-07 (from $23.10)"),
    (dt.date(2019, 4, 16), 20.70, "SEC Fee Rate Advisory #2 for FY2019 (Mar 12, 2019; from $13.00)"),
    (dt.date(2020, 2, 18), 22.10, "FINRA Information Notice 2020-02-03 (from $20.70)"),
    (dt.date(2021, 2, 25), 5.10, "SEC Fee Rate Advisory #2 for FY2021 (Jan 15, 2021); FINRA Information Notice "
                                  "2021-02-16 (from $22.10)"),
    (dt.date(2022, 5, 14), 22.90, "SEC FY2022 transaction fee order (date derived: 60 days after the "
                                   "Mar 15, 2022 appropriation)"),
    (dt.date(2023, 2, 27), 8.00, "SEC Release 34-96724 (Jan 23, 2023), 88 FR 5051 (from $22.90)"),
    (dt.date(2024, 5, 22), 27.80, "SEC Release 34-99973 (Apr 17, 2024), 89 FR 29402 (date derived: 60 days "
                                   "after the Mar 23, 2024 appropriation)"),
    (dt.date(2025, 5, 14), 0.00, "SEC Release 34-102779 (Apr 8, 2025), 90 FR 15492; FINRA Information Notice "
                                 "2025-04-24 (from $27.80)"),
)


def _sec_notice_schedule() -> FeeSchedule:
    regimes = []
    for day, per_million, notice in SEC_SECTION31_NOTICES:
        taf = COMPOSER_FEE_SCHEDULE.regime_on(day)
        regimes.append(FeeRegime(day, per_million * 1e-6, taf.taf_per_share, taf.taf_cap,
                                 f"{notice}; TAF as Composer's regime"))
    if COMPOSER_SWITCH_DATE not in {r.effective for r in regimes}:
        sec = [r for r in regimes if r.effective < COMPOSER_SWITCH_DATE][-1]
        taf = COMPOSER_FEE_SCHEDULE.regime_on(COMPOSER_SWITCH_DATE)
        regimes.append(FeeRegime(COMPOSER_SWITCH_DATE, sec.sec_rate, taf.taf_per_share, taf.taf_cap, taf.source))
        regimes.sort(key=lambda r: r.effective)
    return FeeSchedule(name="sec-notices", regimes=tuple(regimes))


#: SEC rate per the public notices above, TAF per Composer's two regimes.
SEC_NOTICE_FEE_SCHEDULE = _sec_notice_schedule()


def sec_fee(principal: float, when, schedule: FeeSchedule = COMPOSER_FEE_SCHEDULE) -> float:
    """SEC Section 31 fee of one sell fill, USD, rounded up to the cent.

    Args:
        principal: sale proceeds of the fill, USD (≥ 0; 0 or less pays nothing).
        when: trade date.
        schedule: the dated rates.
    """
    if not principal > 0.0:
        return 0.0
    return ceil_to_cent(schedule.regime_on(when).sec_rate * principal)


def taf_fee(shares: float, when, schedule: FeeSchedule = COMPOSER_FEE_SCHEDULE) -> float:
    """FINRA TAF of one sell fill, USD: per-share rate, rounded up to the cent, then capped per fill.

    Args:
        shares: shares sold in the fill (fractional allowed; ≥ 0).
        when: trade date.
        schedule: the dated rates.
    """
    if not shares > 0.0:
        return 0.0
    regime = schedule.regime_on(when)
    return min(ceil_to_cent(regime.taf_per_share * shares), regime.taf_cap)


def sell_fill_fees(principal: float, shares: float, when, *, apply_reg_fee: bool = True,
                   apply_taf_fee: bool = True, schedule: FeeSchedule = COMPOSER_FEE_SCHEDULE) -> tuple[float, float]:
    """``(sec_fee, taf_fee)`` of one sell fill in USD; a disabled fee is 0.

    Args:
        principal: sale proceeds, USD.
        shares: shares sold.
        when: trade date.
        apply_reg_fee: charge the SEC fee (Composer's ``apply_reg_fee``, default true).
        apply_taf_fee: charge the FINRA TAF (Composer's ``apply_taf_fee``, default true).
        schedule: the dated rates.
    """
    reg = sec_fee(principal, when, schedule) if apply_reg_fee else 0.0
    taf = taf_fee(shares, when, schedule) if apply_taf_fee else 0.0
    return reg, taf
