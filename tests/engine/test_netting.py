"""Netting per account and attribution of fills to symphony ledgers, by hand."""
from __future__ import annotations

import datetime as dt

import pytest

from engine.netting import SymphonyIntent, attribute, intents_for, net_orders, plan_account

D = dt.date(2024, 6, 21)


def intent(s, q, t="SPY", p=100.0, liquidate=False):
    return SymphonyIntent(s, t, q, p, liquidate)


def totals(moves):
    return sum(m.qty for m in moves), sum(m.cash_usd for m in moves)


def test_opposite_symphonies_cross_and_only_the_net_is_sent():
    a, b = intent("A", 10.0), intent("B", -4.0)
    plan = net_orders("acct", D, [a, b])
    assert len(plan.orders) == 1
    o = plan.orders[0]
    assert (o.side, o.notional_usd, o.qty) == ("buy", 600.0, None)   # net +6 shares at 100
    moves = attribute(o.intents, filled_qty=6.0, fill_price=101.0, ref_price=100.0)
    by = {(m.symphony_id, m.source): (m.qty, m.cash_usd) for m in moves}
    assert by[("B", "cross")] == (-4.0, 400.0)
    assert by[("A", "cross")] == (4.0, -400.0)
    assert by[("A", "broker")] == (6.0, -606.0)
    assert totals(moves) == pytest.approx((6.0, -606.0))  # the account moves exactly by the broker fill


def test_partial_fill_and_rejection_reduce_the_net_side_pro_rata():
    a, c, b = intent("A", 6.0), intent("C", 2.0), intent("B", -4.0)
    o = net_orders("acct", D, [a, c, b]).orders[0]                 # net +4
    moves = attribute(o.intents, filled_qty=2.0, fill_price=100.0, ref_price=100.0)   # half filled
    got = {}
    for m in moves:
        got[m.symphony_id] = got.get(m.symphony_id, 0.0) + m.qty
    # buyers share 4 crossed + 2 filled = 6 in proportion 6:2
    assert got == pytest.approx({"A": 4.5, "C": 1.5, "B": -4.0})
    rejected = attribute(o.intents, filled_qty=0.0, fill_price=None, ref_price=100.0)
    assert totals(rejected) == pytest.approx((0.0, 0.0))
    assert {m.symphony_id: m.qty for m in rejected if m.symphony_id == "B"} == {"B": -4.0}


def test_full_liquidation_is_sent_by_quantity_and_sells_come_first():
    plan = net_orders("acct", D, [intent("A", -5.0, "TLT", 90.0, True), intent("B", -3.0, "TLT", 90.0, True),
                                  intent("A", 2.0, "AAA", 50.0)])
    assert [(o.ticker, o.side, o.qty, o.notional_usd) for o in plan.orders] == [
        ("TLT", "sell", 8.0, None), ("AAA", "buy", None, 100.0)]
    assert len({o.client_order_id for o in plan.orders}) == 2


def test_exact_cross_needs_no_order_and_tiny_nets_are_skipped():
    plan = net_orders("acct", D, [intent("A", 5.0), intent("B", -5.0), intent("C", 0.004, "QQQ")])
    assert plan.orders == [] and set(plan.crossed) == {"SPY"} and set(plan.skipped) == {"QQQ"}


def test_intents_for_a_symphony():
    args = ("A", {"SPY": 10.0, "TLT": 5.0}, 0.0, {"SPY": 100.0, "TLT": 100.0, "GLD": 50.0}, {"SPY": 0.5, "GLD": 0.5})
    got = intents_for(*args, cost_buffer=0.0, fee_allowance_usd=0.0)
    # NAV 1500: SPY 750 → 7.5 shares (−2.5), TLT liquidated (−5), GLD 750/50 = +15
    assert [(i.ticker, i.delta_qty, i.liquidate) for i in got] == [
        ("GLD", 15.0, False), ("SPY", -2.5, False), ("TLT", -5.0, True)]
    # default: 10 bp of each sale and 3 cents per sale are held back: (249.75 − 0.03) + (499.50 − 0.03) = 749.19
    # USD buys 749.19 / 50 = 14.9838 shares of GLD
    capped = {i.ticker: i.delta_qty for i in intents_for(*args)}
    assert capped == pytest.approx({"GLD": 14.9838, "SPY": -2.5, "TLT": -5.0}, abs=1e-12)


def test_buys_are_capped_at_cash_and_sells_at_the_holding():
    # weights above 1 cannot borrow: 1,000 cash buys 1,000 of A and B pro rata (500 each), not 1,400
    got = {i.ticker: i.delta_qty for i in intents_for("A", {}, 1000.0, {"A": 10.0, "B": 10.0},
                                                      {"A": 0.7, "B": 0.7})}   # no sale: nothing held back
    assert got == pytest.approx({"A": 50.0, "B": 50.0})
    # a negative cash going in (an old ledger) buys nothing
    assert intents_for("A", {}, -5.0, {"A": 10.0}, {"A": 1.0}) == []


def test_every_sale_is_by_quantity_and_a_fill_below_the_reference_cannot_go_negative():
    # A liquidates its 0.5 shares of BIL, B sells 0.3 of its 1: net sale of 0.8 shares, sent as 0.8 shares
    plan = net_orders("acct", D, [intent("A", -0.5, "BIL", 91.0, True), intent("B", -0.3, "BIL", 91.0)])
    (o,) = plan.orders
    assert (o.side, o.qty, o.notional_usd) == ("sell", 0.8, None)
    moves = attribute(o.intents, filled_qty=0.8, fill_price=90.99, ref_price=91.0)   # 1 bp below
    got = {m.symphony_id: m.qty for m in moves}
    assert got == pytest.approx({"A": -0.5, "B": -0.3}, abs=1e-15)          # exactly what each held/wanted
    # a buy notional is floored to the cent, never rounded up beyond the buyers' cash
    (b,) = net_orders("acct", D, [intent("A", 1.00009, "SPY", 100.0)]).orders
    assert b.notional_usd == 100.0


def test_a_skipped_sale_funds_no_buy():
    # A trims SPY by 0.60 USD (below the 1 USD minimum: not sent) to buy 0.60 of QQQ that B also buys (sent):
    # without the sale A has no cash, so its QQQ intent is dropped and only B's buy goes out
    a = [intent("A", -0.006, "SPY", 100.0), intent("A", 0.0015, "QQQ", 400.0)]
    b = [intent("B", 0.25, "QQQ", 400.0)]
    plan = plan_account("acct", D, a + b, {"A": 0.0, "B": 100.0}, cost_buffer=0.0, fee_allowance_usd=0.0)
    (o,) = plan.orders
    assert (o.ticker, o.side, o.notional_usd) == ("QQQ", "buy", 100.0)
    assert [i.symphony_id for i in o.intents] == ["B"]
    assert {(i.symphony_id, i.ticker) for g in plan.skipped.values() for i in g} == {("A", "SPY"), ("A", "QQQ")}
    # with the cash to pay for it, A's buy stays in the netted order
    (o,) = plan_account("acct", D, a + b, {"A": 1.0, "B": 100.0}, cost_buffer=0.0, fee_allowance_usd=0.0).orders
    assert o.notional_usd == 100.6 and {i.symphony_id for i in o.intents} == {"A", "B"}
