"""Regulatory fees as dated configuration: SEC Section 31 fee, FINRA Trading Activity Fee (TAF), CAT fee.

Composer charges the SEC fee and the TAF in backtests unless the request turns them off (API fields
``apply_reg_fee`` and ``apply_taf_fee``, both ``true`` by default) and reports a ``cat_fee`` (Consolidated Audit
Trail) beside them (composer_format.md §6 [MCP server.py, PY requests.py, PLANET, OPTIC]). Its help page (H-FEES)
quotes two pairs of rates over time ($5.10/M & $0.000119/share capped at $5.95, later $27.80/M & $0.000166 capped
at $8.30); the rates themselves change by regulator's order on dated days, and Composer applies them **by trade
date** (composer_format.md §6, "Fee rates are dated": e.g. $0.00/M from 2025-05-14; a flat $27.80/M over 2022–2026
overstates Composer's SEC fee by about a third).

Rules implemented here (all amounts USD; one *fill* = one ticker traded on one session):

* SEC fee of one **sell** fill ``= ceil_to_cent(sec_rate · principal)``, ``principal`` = the sale proceeds.
* TAF of one **sell** fill ``= min(ceil_to_cent(taf_per_share · shares), taf_cap)``.
* CAT fee of one fill, **buy or sell** ``= ceil_to_cent(cat_per_share · shares)``. The CAT funding model charges
  the executing broker of the buyer and of the seller per executed equivalent share (1 share of an NMS stock or
  ETF = 1 executed equivalent share) [CAT FAQ V6]. Rounding up to the cent per fill, both sides: INFERRED from
  Composer's SPY probe (``cat_fee`` 0.25 with ``reg_fee`` = ``taf_fee`` = 0 on a buy-and-hold whose monthly
  rebalances re-invest a cent of cash, i.e. tiny buys of $0.01 each).
* A fill with no principal (or no shares) pays nothing.

Every rate is a :class:`RateSchedule` of :class:`DatedRate` (effective date, value, source). A date before the
first entry uses the first entry; each rate stays in force until the next entry. :data:`DATED_FEE_SCHEDULE`
merges the four schedules into :class:`FeeRegime` rows (one per change date) for fast lookups; it is the default
(:data:`COMPOSER_FEE_SCHEDULE`). :data:`HELP_PAGE_FEE_SCHEDULE` keeps the two undated pairs of Composer's help page
(switch on 2024-05-22) for comparison only.
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
class DatedRate:
    """One rate in force from ``effective`` (inclusive) until the next entry of its schedule.

    Attributes:
        effective: first trade date.
        value: the rate (unit given by the schedule).
        source: the notice or order that set it (and, where the date was not read from it, how it was derived).
    """

    effective: dt.date
    value: float
    source: str


@dataclass(frozen=True)
class RateSchedule:
    """A dated rate: entries with strictly increasing effective dates.

    Attributes:
        name: what the rate is (``"sec_rate"``, ``"taf_per_share"``, ``"taf_cap"``, ``"cat_per_share"``).
        unit: its unit in words.
        rates: the entries.

    Raises:
        ValueError: no entry, or effective dates not strictly increasing.
    """

    name: str
    unit: str
    rates: tuple[DatedRate, ...]

    def __post_init__(self) -> None:
        if not self.rates:
            raise ValueError(f"rate schedule {self.name!r} needs at least one entry")
        dates = [r.effective for r in self.rates]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise ValueError(f"rate schedule {self.name!r}: effective dates must be strictly increasing")

    def on(self, when) -> DatedRate:
        """The entry in force on trade date ``when`` (anything ``pd.Timestamp`` accepts)."""
        day = pd.Timestamp(when).date()
        i = bisect.bisect_right([r.effective for r in self.rates], day) - 1
        return self.rates[max(i, 0)]


_EPOCH = dt.date(1900, 1, 1)

#: SEC Section 31 rate changes ``(effective date, USD per $1M of covered sales, notice)`` from the SEC's fee-rate
#: advisories / orders making annual adjustments to transaction fee rates, and the FINRA Information Notices
#: relaying them. Earlier changes are not recorded: the first entry also stands for every earlier date (back to
#: 1993). Nothing after the FY2025 mid-year change is recorded: $0.00/M stands until a new order. Two effective
#: dates (marked "derived") were not read from the notice text: they are 60 days after the enactment of the fiscal
#: year's appropriation, which is how Section 31(j) sets them.
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
                                 "2025-04-24; STA note of 2025-05-14 (from $27.80; the SEC had collected its FY2025 "
                                 "appropriation)"),
)

#: SEC Section 31 fee per USD of principal sold (fraction: $27.80/M = 27.80e-6).
SEC_RATE = RateSchedule("sec_rate", "USD per USD of principal sold", (
    DatedRate(_EPOCH, 23.10 / 1_000_000, "the rate before 2018-05-22 (FINRA Information Notice 2018-05-07: "
                                         "'from $23.10'); stands for every earlier date"),
    *(DatedRate(day, per_million / 1_000_000, notice) for day, per_million, notice in SEC_SECTION31_NOTICES)))

#: FINRA TAF for covered equity sales (Section 1 of Schedule A to the FINRA By-Laws): per share, and the cap.
_TAF: tuple[tuple[dt.date, float, float, str], ...] = (
    (_EPOCH, 0.000075, 3.75, "FINRA Regulatory Notice 11-27 (the rate in force 'for over six years' before "
                             "July 1, 2011); earlier rates not recorded"),
    (dt.date(2011, 7, 1), 0.000090, 4.50, "FINRA Regulatory Notice 11-27 (effective July 1, 2011)"),
    (dt.date(2012, 3, 1), 0.000095, 4.75, "FINRA Regulatory Notice 12-06 (effective March 1, 2012)"),
    (dt.date(2012, 7, 1), 0.000119, 5.95, "SEC order of June 22, 2012 approving SR-FINRA-2012-024, 77 FR 38690 "
                                          "(date derived: first of the month after approval, as the two before)"),
    (dt.date(2022, 1, 1), 0.000130, 6.49, "SR-FINRA-2020-032, 85 FR 66592 (Oct 20, 2020): first of three yearly "
                                          "steps (figures as recalled, not re-read here)"),
    (dt.date(2023, 1, 1), 0.000145, 7.27, "SR-FINRA-2020-032, 85 FR 66592: second step (as recalled)"),
    (dt.date(2024, 1, 1), 0.000166, 8.30, "SR-FINRA-2020-032, 85 FR 66592: third step; = Composer H-FEES "
                                          "current page ($0.000166/share capped at $8.30)"),
)
TAF_PER_SHARE = RateSchedule("taf_per_share", "USD per share sold",
                             tuple(DatedRate(d, r, s) for d, r, _, s in _TAF))
TAF_CAP = RateSchedule("taf_cap", "USD per sell fill (maximum)", tuple(DatedRate(d, c, s) for d, _, c, s in _TAF))

#: CAT fee per executed equivalent share, charged on each side of a trade.
CAT_PER_SHARE = RateSchedule("cat_per_share", "USD per share bought or sold", (
    DatedRate(_EPOCH, 0.0, "no CAT fee on Industry Members before the CAT Funding Model (approved Sept 6, 2023)"),
    DatedRate(dt.date(2024, 9, 1), 0.000035, "CAT Fee 2024-1, $0.000035 per executed equivalent share on "
                                             "transactions from September 2024 (CAT FAQ V6; FINRA Rule 6897(a)(1)(C))"),
    DatedRate(dt.date(2024, 10, 1), 0.000048, "CAT Fee 2024-1 $0.000035 + Historical CAT Assessment 1 $0.000013 "
                                              "per executed equivalent share from October 2024 transactions (CAT FAQ "
                                              "V6). The Eleventh Circuit vacated the 2023 funding order on "
                                              "2025-07-25 (stayed); later changes are not recorded"),
))


@dataclass(frozen=True)
class FeeRegime:
    """Fee rates in force from ``effective`` (inclusive) until the next regime of the schedule.

    Attributes:
        effective: first trade date of the regime.
        sec_rate: SEC Section 31 fee per USD of principal sold (fraction: $5.10/M = 5.10e-6).
        taf_per_share: FINRA TAF in USD per share sold.
        taf_cap: the most TAF one fill pays, USD.
        source: where the numbers come from.
        cat_per_share: CAT fee in USD per share bought or sold (0 where there was none).
    """

    effective: dt.date
    sec_rate: float
    taf_per_share: float
    taf_cap: float
    source: str = ""
    cat_per_share: float = 0.0


@dataclass(frozen=True)
class FeeSchedule:
    """Regimes ordered by effective date; a date before the first regime uses the first regime.

    Raises:
        ValueError: no regime, or effective dates not strictly increasing.
    """

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

    def arrays(self, sessions) -> dict[str, np.ndarray]:
        """Per-session rates ``{"sec_rate", "taf_per_share", "taf_cap", "cat_per_share"}``, each shape (T,)."""
        days = pd.DatetimeIndex(pd.to_datetime(sessions)).normalize()
        eff = pd.DatetimeIndex([pd.Timestamp(r.effective) for r in self.regimes])
        idx = np.clip(eff.searchsorted(days, side="right") - 1, 0, len(eff) - 1)
        return {key: np.array([getattr(r, key) for r in self.regimes], dtype="float64")[idx]
                for key in ("sec_rate", "taf_per_share", "taf_cap", "cat_per_share")}


def build_fee_schedule(sec: RateSchedule = SEC_RATE, taf_per_share: RateSchedule = TAF_PER_SHARE,
                       taf_cap: RateSchedule = TAF_CAP, cat_per_share: RateSchedule = CAT_PER_SHARE,
                       name: str = "dated") -> FeeSchedule:
    """Merge four dated rates into one :class:`FeeSchedule` with a regime on every date any of them changes."""
    days = sorted({r.effective for s in (sec, taf_per_share, taf_cap, cat_per_share) for r in s.rates})
    regimes = []
    for day in days:
        parts = (sec.on(day), taf_per_share.on(day), taf_cap.on(day), cat_per_share.on(day))
        changed = [p.source for p in parts if p.effective == day]
        regimes.append(FeeRegime(day, parts[0].value, parts[1].value, parts[2].value, "; ".join(changed),
                                 parts[3].value))
    return FeeSchedule(regimes=tuple(regimes), name=name)


#: The dated SEC, TAF and CAT rates above, applied by trade date — what Composer does (§6); the default.
DATED_FEE_SCHEDULE = build_fee_schedule()
COMPOSER_FEE_SCHEDULE = DATED_FEE_SCHEDULE
#: Former name of the dated schedule (it then held the SEC notices only).
SEC_NOTICE_FEE_SCHEDULE = DATED_FEE_SCHEDULE

#: Composer's help page quotes two undated pairs; taken to switch on 2024-05-22 (the SEC's $27.80/M). For
#: comparison only: it overstates the SEC fee after 2025-05-14 and ignores the CAT fee.
COMPOSER_SWITCH_DATE = dt.date(2024, 5, 22)
HELP_PAGE_FEE_SCHEDULE = FeeSchedule(name="composer-help-page", regimes=(
    FeeRegime(_EPOCH, 5.10e-6, 0.000119, 5.95,
              "Composer H-FEES (older page): SEC $5.10/M, TAF $0.000119/share capped at $5.95"),
    FeeRegime(COMPOSER_SWITCH_DATE, 27.80e-6, 0.000166, 8.30,
              "Composer H-FEES (current page): SEC $27.80/M, TAF $0.000166/share capped at $8.30"),
))


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


def cat_fee(shares: float, when, schedule: FeeSchedule = COMPOSER_FEE_SCHEDULE) -> float:
    """CAT fee of one fill (buy or sell), USD: per-share rate rounded up to the cent (0 before September 2024).

    Args:
        shares: shares traded in the fill (fractional allowed; ≥ 0).
        when: trade date.
        schedule: the dated rates.
    """
    if not shares > 0.0:
        return 0.0
    return ceil_to_cent(schedule.regime_on(when).cat_per_share * shares)


def sell_fill_fees(principal: float, shares: float, when, *, apply_reg_fee: bool = True,
                   apply_taf_fee: bool = True, schedule: FeeSchedule = COMPOSER_FEE_SCHEDULE) -> tuple[float, float]:
    """``(sec_fee, taf_fee)`` of one sell fill in USD; a disabled fee is 0 (the CAT fee: :func:`cat_fee`).

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
