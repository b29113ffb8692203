"""One cost model for every fill: slippage plus the dated SEC, FINRA TAF and CAT fees.

The backtest (:mod:`engine.backtest`) and the simulated paper broker (``resources.brokers.SimulatedAccount``)
both price fills with a :class:`CostModel`, so a paper fill costs what the same fill costs in a backtest.

Conventions (composer_format.md §6; fee rounding and dates in :mod:`engine.fees`):

* Slippage ``s = slippage_bps / 10_000`` moves the fill price against the trader: a buy fills at ``p·(1 + s)``,
  a sale at ``p·(1 − s)``, ``p`` the reference price (the session's adjusted close in a backtest, the live price
  offline). Composer's v2 engine: shares = A/(close·(1 + s)) (SPY probe at 50 bps).
* Sale of ``q`` shares: principal ``q·p·(1 − s)``; SEC fee ``ceil_cent(sec_rate·principal)``; TAF
  ``min(ceil_cent(taf_per_share·q), taf_cap)``; CAT ``ceil_cent(cat_per_share·q)``. Cash received = principal − fees.
* Purchase of ``q`` shares: principal ``q·p·(1 + s)``; CAT ``ceil_cent(cat_per_share·q)``; no SEC fee, no TAF.
  Cash paid = principal + CAT.
* Each fee has its switch (Composer's ``apply_reg_fee`` / ``apply_taf_fee``; ``apply_cat_fee`` for the CAT fee,
  which Composer reports as ``cat_fee`` and has no switch for). All three are on by default, as Composer's are.
* A fill below one cent of notional (:data:`MIN_FILL_NOTIONAL`) is floating-point residue of re-targeting an
  unchanged weight, not a fill: it pays no fee.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from engine.fees import COMPOSER_FEE_SCHEDULE, FeeSchedule, ceil_to_cent, ceil_to_cents

#: a fill below this notional (USD) is floating-point residue, not a fill, and pays no regulatory fee.
MIN_FILL_NOTIONAL = 0.01

Side = Literal["buy", "sell"]


@dataclass(frozen=True)
class FillCost:
    """The costs of one fill (USD unless stated).

    Attributes:
        side: ``"buy"`` or ``"sell"``.
        shares: shares traded (> 0).
        price: reference price per share.
        fill_price: price after slippage, ``price·(1 ± s)``.
        slippage: ``shares·|fill_price − price|``.
        sec_fee, taf_fee, cat_fee: the regulatory fees of the fill.
    """

    side: Side
    shares: float
    price: float
    fill_price: float
    slippage: float
    sec_fee: float = 0.0
    taf_fee: float = 0.0
    cat_fee: float = 0.0

    @property
    def principal(self) -> float:
        """``shares · fill_price``."""
        return self.shares * self.fill_price

    @property
    def fees(self) -> float:
        """SEC + TAF + CAT."""
        return self.sec_fee + self.taf_fee + self.cat_fee

    @property
    def cash(self) -> float:
        """Signed cash flow of the fill: ``principal − fees`` for a sale, ``−(principal + fees)`` for a buy."""
        return self.principal - self.fees if self.side == "sell" else -(self.principal + self.fees)

    @property
    def net_price(self) -> float:
        """All-in price per share, ``|cash| / shares`` (what a ledger books)."""
        return abs(self.cash) / self.shares if self.shares > 0 else self.fill_price


@dataclass(frozen=True)
class CostModel:
    """Slippage and regulatory fees, by trade date.

    Attributes:
        slippage_bps: slippage on traded notional, basis points (Composer's default 1 bp).
        apply_reg_fee: charge the SEC Section 31 fee on sales.
        apply_taf_fee: charge the FINRA TAF on sales.
        apply_cat_fee: charge the CAT fee on buys and sales.
        schedule: the dated rates (:data:`engine.fees.COMPOSER_FEE_SCHEDULE`).
    """

    slippage_bps: float = 1.0
    apply_reg_fee: bool = True
    apply_taf_fee: bool = True
    apply_cat_fee: bool = True
    schedule: FeeSchedule = field(default=COMPOSER_FEE_SCHEDULE, repr=False)

    @classmethod
    def frictionless(cls) -> CostModel:
        """No slippage and no fee."""
        return cls(0.0, False, False, False)

    @property
    def slippage(self) -> float:
        """Slippage as a fraction of notional."""
        return self.slippage_bps / 10_000.0

    @property
    def any_fee(self) -> bool:
        """True when some regulatory fee is switched on."""
        return self.apply_reg_fee or self.apply_taf_fee or self.apply_cat_fee

    def fill_price(self, side: Side, price: float) -> float:
        """``price·(1 + s)`` for a buy, ``price·(1 − s)`` for a sale."""
        return price * (1.0 + self.slippage if side == "buy" else 1.0 - self.slippage)

    def fill(self, side: Side, shares: float, price: float, when) -> FillCost:
        """The costs of trading ``shares`` (> 0) at reference ``price`` on trade date ``when``.

        Raises:
            ValueError: ``side`` is neither ``"buy"`` nor ``"sell"``, or ``shares``/``price`` is negative.
        """
        if side not in ("buy", "sell"):
            raise ValueError(f"side must be 'buy' or 'sell', not {side!r}")
        if shares < 0 or price < 0:
            raise ValueError(f"a fill needs shares ≥ 0 and price ≥ 0 (got {shares}, {price})")
        fp = self.fill_price(side, price)
        slip = shares * abs(fp - price)
        if shares * price < MIN_FILL_NOTIONAL:
            return FillCost(side, shares, price, fp, slip)
        regime = self.schedule.regime_on(when)
        sec = taf = 0.0
        if side == "sell":
            if self.apply_reg_fee:
                sec = ceil_to_cent(regime.sec_rate * shares * fp)
            if self.apply_taf_fee:
                taf = min(ceil_to_cent(regime.taf_per_share * shares), regime.taf_cap)
        cat = ceil_to_cent(regime.cat_per_share * shares) if self.apply_cat_fee else 0.0
        return FillCost(side, shares, price, fp, slip, sec, taf, cat)

    def buy_for_notional(self, notional: float, price: float, when) -> FillCost:
        """A buy that spends at most ``notional`` USD all in (principal + CAT fee).

        Shares = ``notional / fill_price`` less what pays the CAT fee (the fee is rounded to the cent, so the
        cash spent is ``notional`` up to that rounding, never more).
        """
        fp = self.fill_price("buy", price)
        shares = notional / fp if fp > 0 else 0.0
        first = self.fill("buy", shares, price, when)
        if first.cat_fee == 0.0:
            return first
        shares = max(0.0, (notional - first.cat_fee) / fp)
        return self.fill("buy", shares, price, when)

    def session_rates(self, sessions) -> dict[str, np.ndarray]:
        """Per-session rates (T,) with switched-off fees as 0: ``sec_rate, taf_per_share, taf_cap, cat_per_share``."""
        rates = self.schedule.arrays(sessions)
        if not self.apply_reg_fee:
            rates["sec_rate"] = np.zeros_like(rates["sec_rate"])
        if not self.apply_taf_fee:
            rates["taf_per_share"] = np.zeros_like(rates["taf_per_share"])
        if not self.apply_cat_fee:
            rates["cat_per_share"] = np.zeros_like(rates["cat_per_share"])
        return rates

    def session_fees(self, rates: dict[str, np.ndarray], t: int, delta_shares: np.ndarray,
                     price: np.ndarray) -> tuple[float, float, float]:
        """``(sec, taf, cat)`` in USD of one session's fills, one per ticker with a non-zero ``delta_shares``.

        Vectorised :meth:`fill` over K tickers (same rounding, same residue rule): ``delta_shares`` (K,) is the
        signed change of shares (sale < 0), ``price`` (K,) the reference prices; ``rates`` from
        :meth:`session_rates`, ``t`` the session's row.
        """
        qty = np.abs(delta_shares)
        real = qty * price >= MIN_FILL_NOTIONAL
        sold = real & (delta_shares < 0)
        sec = taf = cat = 0.0
        if sold.any():
            if rates["sec_rate"][t] > 0:
                principal = qty[sold] * price[sold] * (1.0 - self.slippage)
                sec = float(ceil_to_cents(rates["sec_rate"][t] * principal).sum())
            if rates["taf_per_share"][t] > 0:
                taf = float(np.minimum(ceil_to_cents(rates["taf_per_share"][t] * qty[sold]),
                                       rates["taf_cap"][t]).sum())
        if real.any() and rates["cat_per_share"][t] > 0:
            cat = float(ceil_to_cents(rates["cat_per_share"][t] * qty[real]).sum())
        return sec, taf, cat
