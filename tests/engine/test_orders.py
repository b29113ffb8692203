"""Order planning and ledger arithmetic by hand."""
from __future__ import annotations

import datetime as dt

import pytest

from engine.orders import Fill, apply_fills, client_order_id, nav_usd, plan_orders

D = dt.date(2024, 6, 21)


def plan(**kw):
    return plan_orders(account_id="acct", symphony_id="sym", session_date=D, **kw)


def test_switch_sells_everything_by_quantity_then_buys():
    orders = plan(holdings={"A": 10.0}, cash=100.0, prices={"A": 50.0, "B": 20.0}, targets={"B": 1.0})
    assert [(o.side, o.ticker, o.qty, o.notional_usd) for o in orders] == [
        ("sell", "A", 10.0, None),      # liquidate: by quantity, no dust
        ("buy", "B", None, 600.0),      # NAV = 100 + 10·50 = 600
    ]


def test_partial_rebalance_sells_first_and_skips_tiny_differences():
    orders = plan(holdings={"A": 10.0, "B": 10.0}, cash=0.0, prices={"A": 50.0, "B": 20.0},
                  targets={"A": 0.5, "B": 0.5})
    # NAV 700, target 350 each: A 500 → 350 (sell 150), B 200 → 350 (buy 150)
    assert [(o.side, o.ticker, o.notional_usd) for o in orders] == [("sell", "A", 150.0), ("buy", "B", 150.0)]
    assert plan(holdings={"A": 10.0}, cash=0.5, prices={"A": 50.0}, targets={"A": 1.0}) == []  # 0.50 < $1


def test_buys_never_exceed_cash():
    orders = plan(holdings={}, cash=1000.0, prices={"A": 10.0, "B": 10.0}, targets={"A": 0.5, "B": 0.5})
    assert sum(o.notional_usd for o in orders) <= 1000.0
    with pytest.raises(ValueError, match="sum"):
        plan(holdings={}, cash=1.0, prices={"A": 1.0}, targets={"A": 0.7, "B": 0.7})
    with pytest.raises(KeyError, match="C"):
        plan(holdings={"C": 1.0}, cash=0.0, prices={"A": 1.0}, targets={"A": 1.0})


def test_client_order_ids_are_deterministic_unique_and_short():
    a = client_order_id("acct", "sym", D, "BRK/B", "buy")
    assert a == client_order_id("acct", "sym", D, "BRK/B", "buy")
    others = {client_order_id("acct", "sym", D, "BRK/B", "sell"), client_order_id("acct", "sym2", D, "BRK/B", "buy"),
              client_order_id("acct", "sym", dt.date(2024, 6, 24), "BRK/B", "buy"),
              client_order_id("acct", "sym", D, "BRK/B", "buy", attempt=1)}
    assert a not in others and len(others) == 4
    assert len(a) <= 48 and a.startswith("oc-20240621-") and "BRK.B" in a


def test_apply_fills_moves_shares_and_cash():
    holdings, cash = apply_fills({"A": 10.0}, 100.0, [Fill("x", "A", "sell", 10.0, 49.0), Fill("y", "B", "buy", 20.0, 20.0)])
    assert holdings == {"B": 20.0}
    assert cash == pytest.approx(100 + 490 - 400)
    assert nav_usd(holdings, cash, {"B": 21.0}) == pytest.approx(190 + 420)


def test_rebalance_rules_live():
    from engine.orders import needs_rebalance

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
