"""Netting the symphonies of one account into one order per ticker, and attributing fills back to their ledgers.

Each symphony of an account keeps a *virtual ledger* (shares per ticker and cash) inside the one broker account.
On a trading session every symphony that rebalances wants ``Δq_{s,t} = target shares − held shares`` of ticker t
at the reference price ``p_t`` (the live price). Per ticker the account sends one market order for the net
``N_t = Σ_s Δq_{s,t}``:

* symphonies on opposite sides are **crossed internally** at ``p_t`` (no broker order for the matched part);
* the net side's symphonies share the broker fill pro rata to their ``|Δq|`` — a partial fill or a rejection
  reduces each of them proportionally, and the other side is always fully crossed against the net side's matched
  part (which needs no broker);
* every net **sale is sent by quantity** (shares, fractional): a full exit sells the ledgers' exact quantity, and
  since no symphony wants to sell more than it holds (``delta ≥ −held``), a netted sale never exceeds what the
  ledgers hold — no fill can leave a ledger below zero (a notional sale filled at a price below the reference
  would sell more shares than planned: the demo's −0.0107 BIL);
* net **buys are notional** USD market DAY orders, floored to the cent, and each symphony's buys are capped at
  the cash it has after its sells: ``Σ buys ≤ cash + Σ_sales max(0, (1 − cost_buffer)·value − fee_allowance)``
  at the reference price, so slippage and fees on the sales cannot take its cash below zero (``cost_buffer`` is
  a fraction, default :data:`DEFAULT_COST_BUFFER`; ``fee_allowance_usd`` per sale, default
  :data:`DEFAULT_FEE_ALLOWANCE_USD`).

Nets below ``min_notional_usd`` are not sent (the wanted changes are then not made: crossing only happens
together with an order or when both sides match exactly). Sells are sent before buys. All amounts: shares (float,
fractional), USD.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Iterable, Literal, Mapping

from engine.orders import client_order_id

NET = "net"  # the symphony id used in client order ids of netted account orders
#: Fraction of a symphony's planned sale proceeds not spent on its buys the same session (slippage + fees +
#: the move between the reference price and the fill): 10 bp.
DEFAULT_COST_BUFFER = 0.001
#: USD held back per planned sale for the per-order fee minimums (the SEC fee and FINRA TAF are rounded up to
#: the cent, so a 4 USD sale pays about 2 cents, 50 bp, far more than the proportional buffer).
DEFAULT_FEE_ALLOWANCE_USD = 0.03


@dataclass(frozen=True)
class SymphonyIntent:
    """One symphony's wanted change of one ticker: ``delta_qty`` shares (+ buy, − sell) at ``price`` USD."""

    symphony_id: str
    ticker: str
    delta_qty: float
    price: float
    liquidate: bool = False


@dataclass(frozen=True)
class NetOrder:
    """One account order for one ticker and the symphonies behind it.

    Attributes:
        client_order_id: deterministic id (account, session, ticker, side).
        notional_usd / qty: exactly one is set: ``qty`` (shares) for sells, ``notional_usd`` (USD) for buys.
        intents: every symphony intent on this ticker (both sides).
    """

    client_order_id: str
    account_id: str
    session_date: dt.date
    ticker: str
    side: Literal["buy", "sell"]
    notional_usd: float | None
    qty: float | None
    price: float
    intents: tuple[SymphonyIntent, ...]

    @property
    def net_qty(self) -> float:
        """Signed net shares (+ buy)."""
        return sum(i.delta_qty for i in self.intents)


@dataclass
class NettingPlan:
    """Orders to send (sells first) and tickers whose intents cross exactly (no order needed)."""

    orders: list[NetOrder] = field(default_factory=list)
    crossed: dict[str, tuple[SymphonyIntent, ...]] = field(default_factory=dict)
    skipped: dict[str, tuple[SymphonyIntent, ...]] = field(default_factory=dict)


def intents_for(symphony_id: str, holdings: Mapping[str, float], cash: float, prices: Mapping[str, float],
                targets: Mapping[str, float], *, cost_buffer: float = DEFAULT_COST_BUFFER,
                fee_allowance_usd: float = DEFAULT_FEE_ALLOWANCE_USD) -> list[SymphonyIntent]:
    """A symphony's wanted share changes to reach ``targets`` (weights of its NAV) at ``prices``.

    Sales never exceed the holding (a zero target sells exactly the held quantity, ``liquidate=True``); buys are
    scaled down pro rata so that their value ≤ ``cash`` plus the sales' value net of the cost buffer and the
    per-sale fee allowance (:func:`cap_buys`) — never borrow.

    Args:
        holdings: shares per ticker; cash: USD; prices: USD per share; targets: weights (fractions, Σ ≤ 1).
        cost_buffer: fraction of sale proceeds held back from the buys (0 … 1).
        fee_allowance_usd: USD held back per sale.

    Raises:
        KeyError: naming a held or targeted ticker without price.
    """
    nav = cash + sum(q * prices[t] for t, q in holdings.items() if q)
    sells: list[SymphonyIntent] = []
    buys: list[SymphonyIntent] = []
    for t in sorted(set(holdings) | {t for t, w in targets.items() if w > 0}):
        if t not in prices:
            raise KeyError(f"no price for {t!r}")
        want = targets.get(t, 0.0) * nav / prices[t]
        have = max(0.0, holdings.get(t, 0.0))
        liquidate = targets.get(t, 0.0) <= 1e-12 and have > 0
        delta = -have if liquidate else max(want - have, -have)
        if delta < 0:
            sells.append(SymphonyIntent(symphony_id, t, delta, prices[t], liquidate))
        elif delta > 0:
            buys.append(SymphonyIntent(symphony_id, t, delta, prices[t], False))
    return cap_buys(sells + buys, {symphony_id: cash}, cost_buffer=cost_buffer,
                    fee_allowance_usd=fee_allowance_usd)


def cap_buys(intents: list[SymphonyIntent], cash: Mapping[str, float], *,
             cost_buffer: float = DEFAULT_COST_BUFFER,
             fee_allowance_usd: float = DEFAULT_FEE_ALLOWANCE_USD) -> list[SymphonyIntent]:
    """The intents with each symphony's buys scaled down pro rata so that, per symphony,
    ``Σ buy value ≤ max(0, cash) + Σ_sales max(0, (1 − cost_buffer)·value − fee_allowance_usd)`` (values at the
    intents' prices, USD).

    Sales are unchanged; a symphony left nothing to spend loses its buys. Returns the intents sorted by
    (symphony, ticker).
    """
    by_sid: dict[str, list[SymphonyIntent]] = {}
    for i in intents:
        by_sid.setdefault(i.symphony_id, []).append(i)
    out: list[SymphonyIntent] = []
    for sid, mine in sorted(by_sid.items()):
        sells = [i for i in mine if i.delta_qty < 0]
        buys = [i for i in mine if i.delta_qty > 0]
        spend = sum(i.delta_qty * i.price for i in buys)
        available = max(0.0, cash.get(sid, 0.0)) + sum(max(0.0, (1.0 - cost_buffer) * -i.delta_qty * i.price
                                                           - fee_allowance_usd) for i in sells)
        if spend > available:
            scale = available / spend if available > 0 else 0.0
            buys = [SymphonyIntent(i.symphony_id, i.ticker, i.delta_qty * scale, i.price) for i in buys if scale > 0]
        out.extend(sorted(sells + buys, key=lambda i: i.ticker))
    return out


def plan_account(account_id: str, session_date: dt.date, intents: list[SymphonyIntent],
                 cash: Mapping[str, float], *, cost_buffer: float = DEFAULT_COST_BUFFER,
                 fee_allowance_usd: float = DEFAULT_FEE_ALLOWANCE_USD, min_notional_usd: float = 1.0,
                 max_rounds: int = 8) -> NettingPlan:
    """Net one account's intents (:func:`net_orders`) so that no symphony's buys rely on a sale that is not sent.

    A ticker whose net is below ``min_notional_usd`` is skipped — its sales bring no cash. The skipped intents
    are set aside, every symphony's buys are capped again at its cash plus the sales still planned
    (:func:`cap_buys`), and the rest is netted again, until nothing more is skipped (at most ``max_rounds``;
    then every remaining buy is dropped, which is always safe). The plan's ``skipped`` lists every intent set
    aside.

    Args:
        cash: each symphony's cash carried into the session, USD.
    """
    current = cap_buys(list(intents), cash, cost_buffer=cost_buffer, fee_allowance_usd=fee_allowance_usd)
    aside: dict[str, list[SymphonyIntent]] = {}
    for _ in range(max_rounds):
        plan = net_orders(account_id, session_date, current, min_notional_usd=min_notional_usd)
        if not plan.skipped:
            break
        for ticker, group in plan.skipped.items():
            aside.setdefault(ticker, []).extend(group)
        gone = {id(i) for g in plan.skipped.values() for i in g}
        kept = [i for i in current if id(i) not in gone]
        current = cap_buys(kept, cash, cost_buffer=cost_buffer, fee_allowance_usd=fee_allowance_usd)
        left = {(i.symphony_id, i.ticker) for i in current}
        for i in kept:   # a buy left without any cash to pay for it is set aside too
            if (i.symphony_id, i.ticker) not in left:
                aside.setdefault(i.ticker, []).append(i)
    else:   # still skipping after max_rounds: send the sales only
        plan = net_orders(account_id, session_date, [i for i in current if i.delta_qty < 0],
                          min_notional_usd=min_notional_usd)
        for ticker, group in plan.skipped.items():
            aside.setdefault(ticker, []).extend(group)
        for i in current:
            if i.delta_qty > 0:
                aside.setdefault(i.ticker, []).append(i)
    plan.skipped = {t: tuple(g) for t, g in sorted(aside.items()) if g}
    return plan


@dataclass(frozen=True)
class TickerNet:
    """One ticker's intents in an account and their net: ``net_qty`` shares (+ buy) at ``price`` USD.

    ``two_sided``: some intent buys and some sells (a cross inside the account is possible).
    """

    ticker: str
    intents: tuple[SymphonyIntent, ...]
    net_qty: float
    price: float

    @property
    def notional_usd(self) -> float:
        return abs(self.net_qty) * self.price

    @property
    def two_sided(self) -> bool:
        return any(i.delta_qty > 0 for i in self.intents) and any(i.delta_qty < 0 for i in self.intents)

    def order(self, account_id: str, session_date: dt.date, *, notional_buys: bool) -> NetOrder:
        """The one broker order for the net, with its deterministic client id (:func:`engine.orders.client_order_id`):
        a sell by quantity; a buy by notional floored to the cent (``notional_buys``) or by quantity."""
        side: Literal["buy", "sell"] = "buy" if self.net_qty > 0 else "sell"
        cid = client_order_id(account_id, NET, session_date, self.ticker, side)
        if side == "buy" and notional_buys:   # floored to the cent: never more cash than the buyers planned
            return NetOrder(cid, account_id, session_date, self.ticker, side,
                            math.floor(self.net_qty * self.price * 100 + 1e-6) / 100, None, self.price, self.intents)
        # by quantity: a sale never gives up more shares than the sellers' ledgers
        return NetOrder(cid, account_id, session_date, self.ticker, side, None, float(abs(self.net_qty)),
                        self.price, self.intents)


def by_ticker(intents: Iterable[SymphonyIntent]) -> list[TickerNet]:
    """One account's intents grouped per ticker (tickers sorted, intents in their given order), each with its net
    (the first intent's price: every intent of a ticker carries the session's price)."""
    groups: dict[str, list[SymphonyIntent]] = {}
    for i in intents:
        groups.setdefault(i.ticker, []).append(i)
    return [TickerNet(t, tuple(g), sum(i.delta_qty for i in g), g[0].price) for t, g in sorted(groups.items())]


def sells_first(orders: list[NetOrder]) -> list[NetOrder]:
    """``orders`` sorted in place as they are sent: every sell before any buy (the sales' cash pays the buys),
    then by ticker."""
    orders.sort(key=lambda o: (o.side != "sell", o.ticker))
    return orders


def net_orders(account_id: str, session_date: dt.date, intents: list[SymphonyIntent], *,
               min_notional_usd: float = 1.0) -> NettingPlan:
    """Net the intents of one account per ticker into orders (sells before buys, then by ticker).

    A net under ``min_notional_usd`` sends nothing: an exact cross (both sides, under half a cent) is ``crossed``,
    anything else ``skipped``. Sells go by quantity, buys by notional floored to the cent (:meth:`TickerNet.order`).
    """
    plan = NettingPlan()
    for tn in by_ticker(intents):
        if tn.notional_usd < min_notional_usd:
            if tn.two_sided and tn.notional_usd < 0.005:
                plan.crossed[tn.ticker] = tn.intents
            else:
                plan.skipped[tn.ticker] = tn.intents
            continue
        plan.orders.append(tn.order(account_id, session_date, notional_buys=True))
    sells_first(plan.orders)
    return plan


@dataclass(frozen=True)
class LedgerMove:
    """What one symphony's ledger receives: ``qty`` shares (signed) for ``cash_usd`` (signed, − = paid)."""

    symphony_id: str
    ticker: str
    qty: float
    cash_usd: float
    source: Literal["broker", "cross"]


def attribute(order_intents: tuple[SymphonyIntent, ...], filled_qty: float, fill_price: float | None,
              ref_price: float) -> list[LedgerMove]:
    """Split one ticker's outcome among its symphonies.

    Args:
        order_intents: every intent on the ticker (both sides).
        filled_qty: shares the broker filled for the net order (≥ 0; 0 if rejected or none sent).
        fill_price: the broker's average fill price (USD), None when nothing filled.
        ref_price: the crossing price (the session's reference price).

    Returns:
        Ledger moves whose shares sum to the broker's signed fill and whose cash sums to −(fill notional): crossed
        shares change hands at ``ref_price`` inside the account.
    """
    buyers = [i for i in order_intents if i.delta_qty > 0]
    sellers = [i for i in order_intents if i.delta_qty < 0]
    b = sum(i.delta_qty for i in buyers)
    s = -sum(i.delta_qty for i in sellers)
    moves: list[LedgerMove] = []
    if b >= s:   # net buy (or exact cross): sellers fully crossed; buyers share crossed s + broker fill
        net_side, other, matched = buyers, sellers, s
        sign = 1.0
        total_net = b
    else:        # net sell: buyers fully crossed; sellers share crossed b + broker fill
        net_side, other, matched = sellers, buyers, b
        sign = -1.0
        total_net = s
    for i in other:  # the minority side is always completely crossed at the reference price
        moves.append(LedgerMove(i.symphony_id, i.ticker, i.delta_qty, -i.delta_qty * ref_price, "cross"))
    for i in net_side:
        share = abs(i.delta_qty) / total_net if total_net > 0 else 0.0
        crossed = matched * share
        broker = filled_qty * share
        if crossed:
            moves.append(LedgerMove(i.symphony_id, i.ticker, sign * crossed, -sign * crossed * ref_price, "cross"))
        if broker:
            moves.append(LedgerMove(i.symphony_id, i.ticker, sign * broker, -sign * broker * (fill_price or 0.0),
                                    "broker"))
    return moves
