"""Client order ids and the live rebalance rule, by hand (ledger arithmetic: test_ledger.py)."""
from __future__ import annotations

import datetime as dt

from engine.ledger import needs_rebalance
from engine.orders import client_order_id

D = dt.date(2024, 6, 21)


def test_client_order_ids_are_deterministic_unique_and_short():
    a = client_order_id("acct", "sym", D, "BRK/B", "buy")
    assert a == client_order_id("acct", "sym", D, "BRK/B", "buy")
    others = {client_order_id("acct", "sym", D, "BRK/B", "sell"), client_order_id("acct", "sym2", D, "BRK/B", "buy"),
              client_order_id("acct", "sym", dt.date(2024, 6, 24), "BRK/B", "buy"),
              client_order_id("acct", "sym", D, "BRK/B", "buy", attempt=1)}
    assert a not in others and len(others) == 4
    assert len(a) <= 48 and a.startswith("oc-20240621-") and "BRK.B" in a


def test_rebalance_rules_live():
    base = dict(corridor=None, holdings={"A": 5.0, "B": 10.0}, cash=0.0, prices={"A": 100.0, "B": 50.0},
                targets={"A": 0.5, "B": 0.5}, has_traded=True)
    jan31, feb1, feb2 = dt.date(2024, 1, 31), dt.date(2024, 2, 1), dt.date(2024, 2, 2)
    assert needs_rebalance(rule="monthly", session=feb1, previous_session=jan31, **base)[0] is True
    assert needs_rebalance(rule="monthly", session=feb2, previous_session=feb1, **base)[0] is False
    assert needs_rebalance(rule="daily", session=feb2, previous_session=feb1, **base)[0] is True
    assert needs_rebalance(rule="monthly", session=feb2, previous_session=feb1,
                           **{**base, "has_traded": False})[0] is True
    # threshold 5 pp: A at 110 → 550/1050 = 52.4 % (inside); at 130 → 56.5 % (outside)
    thr = {**base, "corridor": 0.05}
    assert needs_rebalance(rule="none", session=feb2, previous_session=feb1,
                           **{**thr, "prices": {"A": 110.0, "B": 50.0}})[0] is False
    trade, why = needs_rebalance(rule="none", session=feb2, previous_session=feb1,
                                 **{**thr, "prices": {"A": 130.0, "B": 50.0}})
    assert trade and "drifted 6.52%" in why  # with two assets both drift by the same 6.52 pp
    assert needs_rebalance(rule="none", session=feb2, previous_session=feb1,
                           **{**thr, "targets": {"A": 1.0}})[0] is True  # branch switch
