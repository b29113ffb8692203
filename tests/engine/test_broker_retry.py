"""The one retry policy of every broker call, and exactly-once submission over a scripted broker, by hand."""
from __future__ import annotations

import pytest

from engine.broker import (BrokerError, BrokerOrder, OrderRequest, ReliableBroker, RetryableBrokerError, RetryPolicy,
                           send_exactly_once)


class Scripted:
    """A broker whose calls fail as scripted: ``script[name]`` is a list of exceptions raised by the next calls."""

    def __init__(self, **script):
        self.script = {k: list(v) for k, v in script.items()}
        self.book: dict[str, BrokerOrder] = {}
        self.calls: list[str] = []

    def _maybe_fail(self, name):
        self.calls.append(name)
        queue = self.script.get(name, [])
        if queue:
            raise queue.pop(0)

    def get_order(self, cid):
        self._maybe_fail("get_order")
        return self.book.get(cid)

    def submit(self, order):
        self._maybe_fail("submit_before")
        placed = BrokerOrder(order.client_order_id, f"b-{order.client_order_id}", order.ticker, order.side, "filled",
                             order.notional_usd, order.qty, filled_qty=1.0, filled_avg_price=100.0)
        self.book[order.client_order_id] = placed
        self._maybe_fail("submit_after")       # accepted, answer lost
        return placed

    def account(self):
        self._maybe_fail("account")
        return "snapshot"


T = RetryableBrokerError("HTTP 504")
ORDER = OrderRequest("cid-1", "SPY", "buy", notional_usd=100.0)


def test_waits_double_and_cap_and_permanent_errors_are_not_retried():
    waits = []
    policy = RetryPolicy(attempts=5, first_wait_s=0.5, max_wait_s=1.5, sleep=waits.append)
    assert [policy.wait_s(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 1.5, 1.5]
    b = Scripted(account=[T, T])
    assert policy.call("account", b.account) == "snapshot" and waits == [0.5, 1.0]
    b = Scripted(account=[BrokerError("HTTP 401")])
    with pytest.raises(BrokerError, match="401"):
        policy.call("account", b.account)
    assert b.calls == ["account"]                                   # no retry of a permanent error
    b = Scripted(account=[T] * 5)
    with pytest.raises(RetryableBrokerError):
        policy.call("account", b.account)
    assert b.calls == ["account"] * 5                               # bounded


def test_lookups_are_retried_and_never_followed_by_a_blind_submission():
    b = Scripted(get_order=[T, T], submit_after=[T])
    placed = send_exactly_once(b, ORDER, RetryPolicy(attempts=4, sleep=lambda s: None))
    # look-up fails twice (no submit), third look-up: none → submit accepted but answer lost → look-up finds it
    assert b.calls == ["get_order", "get_order", "get_order", "submit_before", "submit_after", "get_order"]
    assert placed.broker_order_id == "b-cid-1" and len(b.book) == 1


def test_gives_up_with_a_retryable_error_when_the_broker_never_holds_the_order():
    b = Scripted(submit_before=[T] * 3)
    with pytest.raises(RetryableBrokerError, match="safe"):
        send_exactly_once(b, ORDER, RetryPolicy(attempts=3, sleep=lambda s: None))
    assert b.calls.count("submit_before") == 3 and b.book == {}


def test_reliable_broker_counts_only_orders_it_created():
    inner = Scripted()
    acct = ReliableBroker(inner, RetryPolicy(sleep=lambda s: None), "acct")
    acct.submit(ORDER)
    acct.submit(ORDER)                                              # found by its id, not resent
    assert acct.created == 1 and inner.calls.count("submit_before") == 1


def test_first_attempt_skips_only_the_first_look_up():
    b = Scripted()
    send_exactly_once(b, ORDER, RetryPolicy(attempts=3, sleep=lambda s: None), first_attempt=True)
    assert b.calls == ["submit_before", "submit_after"]              # claimed: no look-up before the first try
    b = Scripted(submit_after=[T])                                   # accepted, answer lost
    placed = send_exactly_once(b, ORDER, RetryPolicy(attempts=3, sleep=lambda s: None), first_attempt=True)
    assert b.calls == ["submit_before", "submit_after", "get_order"]  # the retry looks up and finds it
    assert placed.broker_order_id == "b-cid-1" and len(b.book) == 1
    b = Scripted()
    ReliableBroker(b, RetryPolicy(sleep=lambda s: None), "acct").submit(ORDER, first_attempt=False)
    assert b.calls == ["get_order", "submit_before", "submit_after"]
