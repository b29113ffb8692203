"""The per-symphony book: each symphony's virtual ledger inside its account, and how a session changes it (pure).

A :class:`Ledger` is shares per ticker (fractional, float) and cash (USD). Its invariant — checked by
:func:`violations`, raised by :meth:`Ledger.check`, and a Dagster asset check on the stored ``positions`` — is

* no negative quantity: every holding ≥ −``QTY_TOLERANCE`` shares (a float residue is not a short);
* cash ≥ −``CASH_TOLERANCE_USD`` (within a cent).

A session moves a ledger only through :func:`settle`: the broker fills of the account's netted orders and the
internal crosses are split among the symphonies behind them (:func:`engine.netting.attribute`), residues below
``QTY_TOLERANCE`` shares are dropped. The planner (:func:`engine.netting.intents_for` / ``net_orders``) keeps the
invariant by construction: a full exit sells the ledger's exact quantity, a sell never exceeds what the ledgers
hold, and buys spend at most the cash the symphony has after its sells (less a cost buffer).

:func:`needs_rebalance` — whether a ledger trades on a session — is the live twin of the backtest's rebalance
rules. All amounts: shares, USD; weights are fractions.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from engine.netting import SymphonyIntent, attribute

CASH = "$USD"
#: shares below which a holding is a float residue (dropped, and not a violation when negative).
QTY_TOLERANCE = 1e-9
#: USD of negative cash tolerated (rounding to the cent).
CASH_TOLERANCE_USD = 0.01


class LedgerInvariantError(ValueError):
    """A ledger holds a negative quantity or negative cash beyond the tolerances (the message names both)."""


@dataclass(frozen=True)
class Ledger:
    """One symphony's book: ``holdings`` (shares per ticker, no cash entry) and ``cash`` (USD)."""

    holdings: Mapping[str, float] = field(default_factory=dict)
    cash: float = 0.0

    def nav(self, prices: Mapping[str, float]) -> float:
        """``cash + Σ shares·price`` in USD. Raises KeyError naming a held ticker without price."""
        return nav_usd(self.holdings, self.cash, prices)

    def moved(self, ticker: str, qty: float, cash_usd: float) -> "Ledger":
        """The ledger after receiving ``qty`` shares of ``ticker`` (signed) for ``cash_usd`` (signed, − = paid)."""
        h = dict(self.holdings)
        h[ticker] = h.get(ticker, 0.0) + qty
        if abs(h[ticker]) < QTY_TOLERANCE:
            del h[ticker]
        return Ledger(h, self.cash + cash_usd)

    def check(self, symphony_id: str = "") -> "Ledger":
        """Return self, or raise :class:`LedgerInvariantError` naming every violation."""
        found = violations(symphony_id, self)
        if found:
            raise LedgerInvariantError("; ".join(found))
        return self


def violations(symphony_id: str, ledger: Ledger) -> list[str]:
    """The ledger's invariant violations in words (empty when it holds), e.g. ``"s1: BIL −0.0107 shares"``."""
    out = [f"{symphony_id}: {t} {q:.10g} shares (negative)" for t, q in sorted(ledger.holdings.items())
           if q < -QTY_TOLERANCE]
    if ledger.cash < -CASH_TOLERANCE_USD:
        out.append(f"{symphony_id}: cash {ledger.cash:.2f} USD (negative beyond a cent)")
    return out


def nav_usd(holdings: Mapping[str, float], cash: float, prices: Mapping[str, float]) -> float:
    """Net asset value in USD: ``cash + Σ shares·price``. Raises KeyError naming a held ticker without price."""
    total = float(cash)
    for t, q in holdings.items():
        if abs(q) > 0:
            if t not in prices:
                raise KeyError(f"no price for held ticker {t!r}")
            total += q * prices[t]
    return total


@dataclass(frozen=True)
class OrderOutcome:
    """What the broker did with one netted order: ``filled_qty`` shares (≥ 0) at ``fill_price`` USD (all-in)."""

    filled_qty: float = 0.0
    fill_price: float | None = None


def settle(ledgers: Mapping[str, Ledger], groups: Iterable[tuple[str | None, tuple[SymphonyIntent, ...]]],
           outcomes: Mapping[str, OrderOutcome]) -> dict[str, Ledger]:
    """Every ledger after the session's crosses and broker fills.

    Args:
        ledgers: the ledgers carried into the session, by symphony id.
        groups: ``(client_order_id, intents)`` per netted ticker — every intent on the ticker (both sides); the
            id is None for a group crossed exactly (no order). Skipped intents must not be passed.
        outcomes: by client order id; an order absent here (blocked, rejected, failed, not answered) filled 0.

    Returns:
        New ledgers by symphony id (symphonies without intents unchanged). Intents of symphonies absent from
        ``ledgers`` are ignored. The invariant is not enforced here: see :func:`violations`.
    """
    out = dict(ledgers)
    for cid, intents in groups:
        done = outcomes.get(cid) if cid else None
        filled = done.filled_qty if done is not None and done.filled_qty > 0 else 0.0
        price = done.fill_price if filled else None
        for m in attribute(intents, filled, price, intents[0].price):
            if m.symphony_id in out:
                out[m.symphony_id] = out[m.symphony_id].moved(m.ticker, m.qty, m.cash_usd)
    return out


def needs_rebalance(*, rule: str, corridor: float | None, session: dt.date, previous_session: dt.date | None,
                    holdings: Mapping[str, float], cash: float, prices: Mapping[str, float],
                    targets: Mapping[str, float], has_traded: bool) -> tuple[bool, str]:
    """Whether a symphony's ledger trades on ``session`` — the live twin of the backtest's rebalance rules.

    Rules (composer_format.md §5.3): a ledger that never traded always trades; ``daily`` trades every session;
    ``weekly``/``monthly``/``quarterly``/``yearly`` trade on the first session of a new calendar period (compared
    with ``previous_session``); ``none`` with a corridor trades when the set of target tickers differs from the held
    set or some ``|actual − target|`` exceeds the corridor (absolute, fraction); ``none`` without a corridor only
    trades when the set of tickers changes.

    Returns:
        ``(trade, reason)`` — the reason in words for the run log and the order rows.

    Raises:
        ValueError: an unknown rule.
    """
    if not has_traded:
        return True, "first trade of this ledger"
    if rule == "daily":
        return True, "daily rebalance"
    if rule in ("weekly", "monthly", "quarterly", "yearly"):
        if previous_session is None:
            return True, f"{rule} rebalance (no previous session)"
        a, b = previous_session, session
        new_period = {
            "weekly": a.isocalendar()[:2] != b.isocalendar()[:2],
            "monthly": (a.year, a.month) != (b.year, b.month),
            "quarterly": (a.year, (a.month - 1) // 3) != (b.year, (b.month - 1) // 3),
            "yearly": a.year != b.year,
        }[rule]
        return (True, f"first session of a new {rule[:-2]} period") if new_period \
            else (False, f"{rule} rebalance: not the first session of the period")
    if rule == "none":
        held = {t for t, q in holdings.items() if q > 0}
        wanted = {t for t, w in targets.items() if w > 1e-12}
        if held != wanted:
            return True, "the set of held tickers changes (branch switch)"
        if corridor is None:
            return False, "no rebalance rule and no change of holdings"
        nav = nav_usd(holdings, cash, prices)
        if nav <= 0:
            return False, "ledger has no value"
        worst = max(((abs(holdings.get(t, 0.0) * prices[t] / nav - targets.get(t, 0.0)), t)
                     for t in sorted(held | wanted)), key=lambda x: x[0])
        if worst[0] > corridor + 1e-12:
            return True, f"{worst[1]} drifted {worst[0]:.2%} from target (corridor {corridor:.2%})"
        return False, f"inside the corridor (largest drift {worst[0]:.2%} ≤ {corridor:.2%})"
    raise ValueError(f"unknown rebalance rule {rule!r}")
