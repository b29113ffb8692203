"""The per-symphony book by hand: the invariant, settlement of crosses and fills, and the demo's residual."""
from __future__ import annotations

import datetime as dt

import pytest

from engine.ledger import Ledger, LedgerInvariantError, OrderOutcome, settle, violations
from engine.netting import SymphonyIntent, intents_for, net_orders

D = dt.date(2026, 7, 31)


def test_invariant_names_negative_shares_and_cash_beyond_a_cent():
    assert violations("s", Ledger({"SPY": 1.0}, -0.009)) == []                # within a cent
    assert violations("s", Ledger({"BIL": -1e-10}, 0.0)) == []                # float residue, not a short
    assert violations("s", Ledger({"BIL": -0.0107}, -0.99)) == [
        "s: BIL -0.0107 shares (negative)", "s: cash -0.99 USD (negative beyond a cent)"]
    with pytest.raises(LedgerInvariantError, match="BIL -0.0107"):
        Ledger({"BIL": -0.0107}, 5.0).check("s")


def test_settle_crosses_at_the_reference_and_shares_the_fill_pro_rata():
    ledgers = {"A": Ledger({}, 1000.0), "B": Ledger({"SPY": 4.0}, 0.0), "C": Ledger({}, 50.0)}
    (o,) = net_orders("acct", D, [SymphonyIntent("A", "SPY", 10.0, 100.0), SymphonyIntent("B", "SPY", -4.0, 100.0,
                                                                                            True)]).orders
    out = settle(ledgers, [(o.client_order_id, o.intents)], {o.client_order_id: OrderOutcome(6.0, 100.5)})
    assert out["B"] == Ledger({}, 400.0)                                      # crossed at 100, whole exit
    assert out["A"].holdings == {"SPY": pytest.approx(10.0)}
    assert out["A"].cash == pytest.approx(1000.0 - 400.0 - 6 * 100.5)
    assert out["C"] == ledgers["C"]                                           # untouched
    nothing = settle(ledgers, [(o.client_order_id, o.intents)], {})          # rejected: only the cross happens
    assert nothing["A"].holdings == {"SPY": pytest.approx(4.0)} and nothing["B"] == Ledger({}, 400.0)


def test_the_demo_residual_cannot_happen_again():
    """A symphony leaves BIL entirely while another trims it; a notional sale filled 1 bp below the reference
    used to sell more shares than planned (−0.0107 BIL), and buys planned at the reference spent more cash than
    the slipped sale brought in (−0.99 USD). Sales now go by quantity and buys keep a cost buffer."""
    p = {"BIL": 91.5, "SPY": 530.0}
    a = intents_for("A", {"BIL": 109.29}, 0.0, p, {"SPY": 1.0})                # full exit, buy SPY
    b = intents_for("B", {"BIL": 50.0}, 0.0, p, {"BIL": 0.5, "SPY": 0.5})      # trim BIL, buy SPY
    plan = net_orders("acct", D, a + b)
    sell = next(o for o in plan.orders if o.side == "sell")
    assert sell.qty == pytest.approx(109.29 + 25.0) and sell.notional_usd is None
    s = 1e-4   # 1 bp slippage against us; the fill price is all-in
    outcomes = {sell.client_order_id: OrderOutcome(sell.qty, 91.5 * (1 - s))}
    for o in plan.orders:
        if o.side == "buy":   # notional buy at a 1 bp worse price: spends the whole notional
            outcomes[o.client_order_id] = OrderOutcome(o.notional_usd / (530.0 * (1 + s)), 530.0 * (1 + s))
    ledgers = {"A": Ledger({"BIL": 109.29}, 0.0), "B": Ledger({"BIL": 50.0}, 0.0)}
    out = settle(ledgers, [(o.client_order_id, o.intents) for o in plan.orders], outcomes)
    assert "BIL" not in out["A"].holdings                                     # exactly zero, no dust
    assert out["B"].holdings["BIL"] == pytest.approx(25.0, abs=1e-12)
    for sid, led in out.items():
        assert violations(sid, led) == []
        assert 0.0 <= led.cash < 0.002 * 10_000                               # the buffer stays as cash
