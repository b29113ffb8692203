"""The broker contract the trading assets talk to (pure types; implementations live in ``orchestration/``).

Every implementation — the offline simulated broker and the Alpaca paper adapter — provides :class:`Broker`.
Orders are identified by their deterministic ``client_order_id`` (``engine.orders.client_order_id``): before any
(re)submission the caller looks the id up, so a retry after a timeout can never create a second order.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal, Protocol

OrderStatus = Literal["new", "accepted", "partially_filled", "filled", "canceled", "rejected", "expired"]
FINAL_STATUSES = frozenset({"filled", "canceled", "rejected", "expired"})


@dataclass(frozen=True)
class OrderRequest:
    """A market DAY order: exactly one of ``notional_usd`` (fractional buy/sell in USD) or ``qty`` (shares)."""

    client_order_id: str
    ticker: str
    side: Literal["buy", "sell"]
    notional_usd: float | None = None
    qty: float | None = None

    def __post_init__(self) -> None:
        if (self.notional_usd is None) == (self.qty is None):
            raise ValueError(f"{self.client_order_id}: give exactly one of notional_usd and qty")
        amount = self.notional_usd if self.notional_usd is not None else self.qty
        if not amount or amount <= 0:
            raise ValueError(f"{self.client_order_id}: order amount must be positive, got {amount}")


@dataclass(frozen=True)
class BrokerOrder:
    """The broker's view of one order.

    Attributes:
        filled_qty: shares filled so far; ``filled_avg_price`` their average price (USD), None before any fill.
        reason: the broker's rejection or cancellation reason, when there is one.
    """

    client_order_id: str
    broker_order_id: str
    ticker: str
    side: Literal["buy", "sell"]
    status: OrderStatus
    notional_usd: float | None = None
    qty: float | None = None
    filled_qty: float = 0.0
    filled_avg_price: float | None = None
    reason: str | None = None
    submitted_at: dt.datetime | None = None


@dataclass(frozen=True)
class AccountSnapshot:
    """Cash (USD), buying power (USD) and positions (shares per ticker) of one broker account."""

    cash_usd: float
    buying_power_usd: float
    positions: dict[str, float] = field(default_factory=dict)


class BrokerError(RuntimeError):
    """The broker could not be reached or answered with an error (the message never contains credentials)."""


class Broker(Protocol):
    """What the trading assets need from a broker account."""

    def account(self) -> AccountSnapshot:
        """Cash, buying power and positions now."""

    def get_order(self, client_order_id: str) -> BrokerOrder | None:
        """The order with this client id, or None if the broker has never seen it."""

    def submit(self, order: OrderRequest) -> BrokerOrder:
        """Send one order once (no blind retry): the caller has checked :meth:`get_order` first."""

    def orders_for_session(self, session: dt.date) -> list[BrokerOrder]:
        """Every order submitted on ``session`` (New York date), with current status and fills."""


class RetryableBrokerError(BrokerError):
    """A transient failure (rate limit, timeout, 5xx, dropped connection): the order may or may not exist."""

    retryable = True


def send_exactly_once(broker: Broker, order: OrderRequest, *, attempts: int = 4, wait=None) -> BrokerOrder:
    """Submit ``order`` so that the broker holds it at most once, whatever fails in between.

    Before every attempt the client order id is looked up; an order the broker already holds (from an earlier
    attempt whose answer was lost, or an earlier run that crashed before recording) is returned, never resent.
    Only transient errors (:class:`RetryableBrokerError`, or any error with ``retryable = True``) are retried;
    ``wait(attempt)`` is called between attempts (back-off; tests pass a no-op).

    Raises:
        BrokerError: the broker still does not hold the order after ``attempts`` tries, or a permanent error.
    """
    last: Exception | None = None
    for attempt in range(attempts):
        found = broker.get_order(order.client_order_id)
        if found is not None:
            return found
        try:
            return broker.submit(order)
        except BrokerError as exc:
            if not getattr(exc, "retryable", False):
                raise
            last = exc
            if wait is not None:
                wait(attempt)
    found = broker.get_order(order.client_order_id)
    if found is not None:
        return found
    raise BrokerError(f"{order.client_order_id}: not accepted after {attempts} attempts ({last})")
