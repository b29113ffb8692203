"""Order planning and the per-symphony virtual ledger (pure: no broker calls).

Targets → orders (composer_format.md §5.3 "Live timing"; Composer sells overweight assets first and uses the
proceeds to buy): with holdings ``q_i`` shares, cash ``c`` and prices ``p_i``, the symphony's NAV is
``V = c + Σ q_i·p_i``; the target value of ticker ``i`` is ``w_i·V`` and the order is the difference. A target of 0
sells the whole position by quantity (no dust); other orders are notional (USD) market orders, which is how Alpaca
trades fractional amounts. Differences below ``min_notional_usd`` are not traded. Sells come before buys; buys
are scaled down pro rata if they would exceed the cash available after sells (never borrow).

Client order ids are deterministic: the same account, symphony, session, ticker, side and attempt always give the
same id (≤ 48 characters, Alpaca's limit), so a re-run can look an order up before resubmitting.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Literal, Mapping

CASH = "$USD"
MAX_CLIENT_ORDER_ID = 48


@dataclass(frozen=True)
class PlannedOrder:
    """One market DAY order to send.

    Attributes:
        client_order_id: deterministic id (≤ 48 chars).
        ticker: Composer ticker.
        side: ``buy`` or ``sell``.
        notional_usd: dollar amount for notional orders (None when ``qty`` is given).
        qty: shares for full liquidations (None for notional orders).
        reason: why (``rebalance`` or ``liquidate``).
    """

    client_order_id: str
    account_id: str
    symphony_id: str
    session_date: dt.date
    ticker: str
    side: Literal["buy", "sell"]
    notional_usd: float | None
    qty: float | None
    reason: str


@dataclass(frozen=True)
class Fill:
    """An execution: ``qty`` shares at ``price`` USD (``notional_usd = qty·price``)."""

    client_order_id: str
    ticker: str
    side: Literal["buy", "sell"]
    qty: float
    price: float

    @property
    def notional_usd(self) -> float:
        return self.qty * self.price


def client_order_id(account_id: str, symphony_id: str, session_date: dt.date, ticker: str, side: str,
                    attempt: int = 0) -> str:
    """Deterministic client order id, e.g. ``oc-20240621-3f9a0c1b2d4e-SPY-b-0`` (≤ 48 characters).

    The hash covers account, symphony, session, ticker and side; ticker is kept readable (truncated to 12 chars).
    """
    digest = hashlib.sha256(f"{account_id}|{symphony_id}|{session_date.isoformat()}|{ticker}|{side}"
                            .encode()).hexdigest()[:12]
    safe_ticker = "".join(ch if ch.isalnum() else "." for ch in ticker)[:12]
    cid = f"oc-{session_date:%Y%m%d}-{digest}-{safe_ticker}-{side[0]}-{attempt}"
    assert len(cid) <= MAX_CLIENT_ORDER_ID
    return cid


def nav_usd(holdings: Mapping[str, float], cash: float, prices: Mapping[str, float]) -> float:
    """Net asset value in USD: ``cash + Σ shares·price``. Raises KeyError naming a held ticker without price."""
    total = float(cash)
    for t, q in holdings.items():
        if abs(q) > 0:
            if t not in prices:
                raise KeyError(f"no price for held ticker {t!r}")
            total += q * prices[t]
    return total


def plan_orders(*, account_id: str, symphony_id: str, session_date: dt.date, holdings: Mapping[str, float],
                cash: float, prices: Mapping[str, float], targets: Mapping[str, float],
                min_notional_usd: float = 1.0) -> list[PlannedOrder]:
    """Orders that move one symphony's ledger from ``holdings`` to ``targets`` (sells first, then buys).

    Args:
        holdings: shares per ticker currently held by the symphony.
        cash: the symphony's cash, USD.
        prices: price per ticker (USD) for every held and target ticker.
        targets: target weights (fractions summing to ≤ 1; the rest stays cash).
        min_notional_usd: smallest order worth sending.

    Returns:
        Planned orders, sells (by ticker) then buys (by ticker).

    Raises:
        ValueError: a target weight is negative or the weights sum above 1 (+1e-9).
        KeyError: a ticker has no price.
    """
    if any(w < -1e-12 for w in targets.values()):
        raise ValueError(f"negative target weight in {dict(targets)}")
    total_w = sum(targets.values())
    if total_w > 1 + 1e-9:
        raise ValueError(f"target weights sum to {total_w:.6f} > 1")
    nav = nav_usd(holdings, cash, prices)
    sells: list[PlannedOrder] = []
    buys: list[tuple[str, float]] = []
    for ticker in sorted(set(holdings) | {t for t, w in targets.items() if w > 0}):
        if ticker not in prices:
            raise KeyError(f"no price for {ticker!r} on {session_date}")
        price = prices[ticker]
        current = holdings.get(ticker, 0.0) * price
        target = targets.get(ticker, 0.0) * nav
        delta = target - current
        if targets.get(ticker, 0.0) <= 1e-12 and holdings.get(ticker, 0.0) > 0:
            sells.append(PlannedOrder(client_order_id(account_id, symphony_id, session_date, ticker, "sell"),
                                      account_id, symphony_id, session_date, ticker, "sell", None,
                                      float(holdings[ticker]), "liquidate"))
        elif delta <= -min_notional_usd:
            sells.append(PlannedOrder(client_order_id(account_id, symphony_id, session_date, ticker, "sell"),
                                      account_id, symphony_id, session_date, ticker, "sell",
                                      round(-delta, 2), None, "rebalance"))
        elif delta >= min_notional_usd:
            buys.append((ticker, delta))
    proceeds = sum(o.notional_usd if o.notional_usd is not None else o.qty * prices[o.ticker] for o in sells)
    available = cash + proceeds
    wanted = sum(d for _, d in buys)
    scale = min(1.0, available / wanted) if wanted > 0 else 1.0
    buy_orders = []
    for ticker, delta in buys:
        amount = round(delta * scale - 0.005, 2) if scale < 1.0 else round(delta, 2)
        if amount >= min_notional_usd:
            buy_orders.append(PlannedOrder(client_order_id(account_id, symphony_id, session_date, ticker, "buy"),
                                           account_id, symphony_id, session_date, ticker, "buy", amount, None,
                                           "rebalance"))
    return sells + buy_orders


def apply_fills(holdings: Mapping[str, float], cash: float, fills: list[Fill]) -> tuple[dict[str, float], float]:
    """The ledger after fills: shares move by ``±qty``, cash by ``∓qty·price``. Positions under 1e-9 shares vanish.

    Returns:
        ``(holdings, cash)`` — new dict of shares per ticker and cash in USD.
    """
    new = dict(holdings)
    for f in fills:
        sign = 1.0 if f.side == "buy" else -1.0
        new[f.ticker] = new.get(f.ticker, 0.0) + sign * f.qty
        cash -= sign * f.qty * f.price
    return {t: q for t, q in new.items() if abs(q) > 1e-9}, cash


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
        return (True, f"first session of a new {rule[:-2] if rule != 'daily' else 'day'} period") if new_period \
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
