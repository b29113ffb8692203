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


def test_a_tiny_rebalance_pays_its_fee_minimums_from_the_allowance():
    """The demo's −0.02 USD: a 4 USD sale of TLT funding a 4 USD buy of GLD. The SEC fee and TAF are rounded up to
    the cent, so the sale nets about 2 cents (50 bp) less than at the reference; the per-sale allowance covers it.
    Fills priced by the backtest's own CostModel (1 bp slippage, fees of the session)."""
    from engine.costs import CostModel

    costs, day = CostModel(slippage_bps=1.0), dt.date(2026, 7, 7)
    p = {"GLD": 377.49, "TLT": 84.55}
    held = Ledger({"GLD": 13.083218, "TLT": 58.507785}, 0.0)

    def session(**kw):
        plan = net_orders("acct", D, intents_for("S", held.holdings, held.cash, p, {"GLD": 0.5, "TLT": 0.5}, **kw))
        outcomes = {}
        for o in plan.orders:
            fill = costs.fill("sell", o.qty, p[o.ticker], day) if o.side == "sell" else \
                costs.buy_for_notional(o.notional_usd, p[o.ticker], day)
            outcomes[o.client_order_id] = OrderOutcome(fill.shares, fill.net_price)
        return settle({"S": held}, [(o.client_order_id, o.intents) for o in plan.orders], outcomes)["S"]

    # without the allowance: the demo's −0.0158 USD (beyond a cent)
    assert session(fee_allowance_usd=0.0).cash == pytest.approx(-0.0158, abs=5e-4)
    after = session()
    assert violations("S", after) == [] and 0.0 <= after.cash < 0.05
