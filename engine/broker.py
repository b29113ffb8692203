"""The broker contract the trading assets talk to (pure types and the one retry policy; implementations live in ``resources/``).

Every implementation — the offline simulated broker and the Alpaca paper adapter — provides :class:`Broker`.
Orders are identified by their deterministic ``client_order_id`` (``engine.orders.client_order_id``): before any
(re)submission the caller looks the id up, so a retry after a timeout can never create a second order.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Protocol, TypeVar

logger = logging.getLogger(__name__)

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


class RetryableBrokerError(BrokerError):
    """A transient failure (rate limit, timeout, 5xx, dropped connection): the order may or may not exist."""

    retryable = True


def is_retryable(exc: BaseException) -> bool:
    """True for a transient broker failure (:class:`RetryableBrokerError` or any error with ``retryable = True``)."""
    return isinstance(exc, BrokerError) and bool(getattr(exc, "retryable", False))


T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """The one bounded retry policy of every broker call the trading assets make.

    Submissions (:func:`send_exactly_once`), client-id look-ups, reconciliation reads (account, positions) and
    late-fill refreshes all go through it: at most ``attempts`` tries; before retry ``n`` (1-based) it waits
    ``wait_s(n) = min(max_wait_s, first_wait_s · 2^(n−1))`` seconds. Only transient errors
    (:func:`is_retryable`) are retried; a permanent error is raised at once.

    Attributes:
        attempts: tries in all (≥ 1).
        first_wait_s / max_wait_s: seconds; tests pass 0.
        sleep: how to wait (injectable).
    """

    attempts: int = 4
    first_wait_s: float = 0.5
    max_wait_s: float = 8.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)
    backoff: Callable[[int], float] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be ≥ 1")

    def wait_s(self, retry: int) -> float:
        """Seconds to wait before retry ``retry`` (1-based)."""
        if self.backoff is not None:
            return float(self.backoff(retry))
        return min(self.max_wait_s, self.first_wait_s * 2 ** max(0, retry - 1))

    def pause(self, retry: int) -> None:
        """Wait before retry ``retry`` (1-based)."""
        self.sleep(self.wait_s(retry))

    def call(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` with up to ``attempts`` tries on transient errors.

        Raises:
            BrokerError: a permanent error at once; after the last try, the last transient error (``retryable``
                stays True: calling again later is safe for a read).
        """
        for attempt in range(1, self.attempts + 1):
            if attempt > 1:
                self.pause(attempt - 1)
            try:
                return fn(*args)
            except BrokerError as exc:
                if not is_retryable(exc) or attempt == self.attempts:
                    raise
                logger.info("%s: attempt %d/%d failed, retrying: %s", what, attempt, self.attempts, exc)
        raise AssertionError("unreachable")  # pragma: no cover


NO_WAIT = RetryPolicy(first_wait_s=0.0, max_wait_s=0.0, sleep=lambda s: None)


class Broker(Protocol):
    """What the trading assets need from one broker account.

    Every method is ONE request (no retry inside); callers retry through a :class:`RetryPolicy`
    (:class:`ReliableBroker` does it for all of them).
    """

    def account(self) -> AccountSnapshot:
        """Cash, buying power and positions now."""

    def get_order(self, client_order_id: str) -> BrokerOrder | None:
        """The order with this client id, or None if the broker has never seen it."""

    def submit(self, order: OrderRequest) -> BrokerOrder:
        """Send one order once (no blind retry): the caller has checked :meth:`get_order` first."""

    def orders_for_session(self, session: dt.date) -> list[BrokerOrder]:
        """Every order submitted on ``session`` (New York date), with current status and fills."""

    def calendar(self, start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.datetime, dt.datetime]]:
        """The broker's trading sessions ``[(date, open, close)]`` (tz-aware New York); ``[]`` when it has none."""


def _look_up(broker: Broker, cid: str) -> tuple[bool, BrokerOrder | None, BrokerError | None]:
    """One look-up of ``cid``: ``(True, order or None, None)``, or ``(False, None, error)`` after a transient error.

    Raises:
        BrokerError: a permanent error (not retryable).
    """
    try:
        return True, broker.get_order(cid), None
    except BrokerError as exc:
        if not is_retryable(exc):
            raise
        return False, None, exc


def send_exactly_once(broker: Broker, order: OrderRequest, policy: RetryPolicy = NO_WAIT, *,
                      first_attempt: bool = False) -> BrokerOrder:
    """Submit ``order`` so that the broker holds it at most once, whatever fails in between.

    Before every attempt the client order id is looked up; an order the broker already holds (from an earlier
    attempt whose answer was lost, or an earlier run that crashed before recording) is returned, never resent. A
    look-up that fails transiently is retried (never followed by a blind submission). Only transient errors are
    retried, at most ``policy.attempts`` tries with ``policy``'s waits; then one last look-up.

    ``first_attempt=True`` says the caller holds durable proof that nothing ever tried to send this client id
    before (the warehouse claim of :func:`warehouse.repos.orders.claim_first_attempts`, committed before the
    send): the look-up before the *first* try is skipped — it could only answer "unknown" — and every retry
    still looks up first.

    Raises:
        BrokerError: a permanent error at once; ``retryable=True`` when the broker still does not hold the order
            after every try (submitting it again later is safe: the id never changes).
    """
    cid = order.client_order_id
    last: BaseException | None = None
    for attempt in range(1, policy.attempts + 1):
        if attempt > 1:
            policy.pause(attempt - 1)
        if attempt == 1 and first_attempt:
            looked_up, found, failure = True, None, None
        else:
            looked_up, found, failure = _look_up(broker, cid)
        if not looked_up:
            last = failure
            logger.info("%s: look-up attempt %d failed (%s); not submitting blind", cid, attempt, failure)
            continue
        if found is not None:
            return found
        try:
            return broker.submit(order)
        except BrokerError as exc:
            if not is_retryable(exc):
                raise
            last = exc
            logger.warning("%s: submit attempt %d/%d failed; the id is looked up before any retry: %s", cid,
                           attempt, policy.attempts, exc)
    policy.pause(policy.attempts)
    looked_up, found, failure = _look_up(broker, cid)
    if found is not None:
        return found
    if not looked_up:
        last = failure
    err = RetryableBrokerError(f"{cid}: not placed after {policy.attempts} attempts (last error: {last}); the "
                               "broker does not know the order, so submitting it again later is safe")
    err.status_code = getattr(last, "status_code", None)  # type: ignore[attr-defined]
    raise err


class ReliableBroker:
    """A :class:`Broker` whose every call goes through one :class:`RetryPolicy` (implements :class:`Broker`).

    ``submit`` is exactly-once (:func:`send_exactly_once`); reads (``account``, ``get_order``,
    ``orders_for_session``, ``calendar``) are retried on transient errors. ``account_id`` names the account in
    errors and logs; ``created`` counts the orders this object's submissions created at the broker (a look-up
    that found the order creates none).
    """

    def __init__(self, inner: Broker, policy: RetryPolicy, account_id: str = "") -> None:
        self.inner = inner
        self.policy = policy
        self.account_id = account_id
        self.created = 0

    def __repr__(self) -> str:
        return f"ReliableBroker({self.inner!r}, attempts={self.policy.attempts})"

    def account(self) -> AccountSnapshot:
        return self.policy.call(f"{self.account_id}: account", self.inner.account)

    def get_order(self, client_order_id: str) -> BrokerOrder | None:
        return self.policy.call(f"{client_order_id}: look-up", self.inner.get_order, client_order_id)

    def submit(self, order: OrderRequest, *, first_attempt: bool = False) -> BrokerOrder:
        """Exactly-once submission (:func:`send_exactly_once`; ``first_attempt`` as there)."""
        return send_exactly_once(_Counting(self), order, self.policy, first_attempt=first_attempt)

    def orders_for_session(self, session: dt.date) -> list[BrokerOrder]:
        return self.policy.call(f"{self.account_id}: orders of {session}", self.inner.orders_for_session, session)

    def calendar(self, start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.datetime, dt.datetime]]:
        return self.policy.call(f"{self.account_id}: calendar", self.inner.calendar, start, end)


class _Counting:
    """The inner broker of a :class:`ReliableBroker`, counting the orders its ``submit`` creates."""

    def __init__(self, outer: ReliableBroker) -> None:
        self._outer = outer

    def get_order(self, client_order_id: str) -> BrokerOrder | None:
        return self._outer.inner.get_order(client_order_id)

    def submit(self, order: OrderRequest) -> BrokerOrder:
        placed = self._outer.inner.submit(order)
        self._outer.created += bool(placed.broker_order_id)
        return placed
