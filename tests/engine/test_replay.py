"""engine.replay on hand-made cases: the exact sizing is the backtest's arithmetic, the fills are the simulated
broker's, netting by quantity crosses inside the account, and the session loop books what it fills."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from engine.backtest import run_backtest
from engine.broker import OrderRequest
from engine.costs import CostModel
from engine.ledger import settle
from engine.netting import SymphonyIntent
from engine.parsing import parse_symphony
from engine.replay import (ReplayError, ReplaySymphony, exact_trade, net_by_quantity, replay, simulated_fill)

S = 1e-4   # 1 bp
DAY = dt.date(2025, 6, 3)

SIXTY_FORTY = """
(defsymphony "sixty forty" {:rebalance-frequency :daily}
  (weight-specified 0.6 (asset "A") 0.4 (asset "B")))
"""


def _closes(n: int = 6) -> pd.DataFrame:
    days = pd.bdate_range("2025-06-02", periods=n)
    return pd.DataFrame({"A": 100.0 * 1.01 ** np.arange(n), "B": 50.0 * 0.99 ** np.arange(n)}, index=days)


def test_exact_trade_first_day_without_fees_is_capital_over_one_plus_s():
    moves = exact_trade({}, 10_000.0, {"A": 100.0}, {"A": 1.0}, CostModel(1.0, False, False, False), DAY)
    # V' = 10,000 − s·V'  →  V' = 10,000/(1+s); shares = V'/100 (Composer's v2 engine, composer_format.md §6)
    assert moves == {"A": pytest.approx(10_000 / (1 + S) / 100, rel=1e-13)}


def test_exact_trade_scales_the_buys_so_that_the_fees_leave_cash_at_zero():
    costs = CostModel()   # 1 bp, SEC + TAF + CAT on 2025-06-03 (SEC 0.00/M since 2025-05-14)
    moves = exact_trade({}, 10_000.0, {"A": 100.0, "B": 50.0}, {"A": 0.6, "B": 0.4}, costs, DAY)
    spent = sum(costs.fill("buy", q, p, DAY).principal + costs.fill("buy", q, p, DAY).fees
                for q, p in ((moves["A"], 100.0), (moves["B"], 50.0)))
    assert spent == pytest.approx(10_000.0, abs=1e-9)                    # cash ends at zero
    assert moves["A"] * 100 / (moves["B"] * 50) == pytest.approx(1.5, rel=1e-12)   # weights kept 60/40


def test_a_zero_target_sells_exactly_the_holding():
    moves = exact_trade({"A": 12.345, "B": 3.0}, 0.0, {"A": 100.0, "B": 50.0}, {"B": 1.0}, CostModel(), DAY)
    assert moves["A"] == -12.345


def test_simulated_fill_is_the_simulated_brokers_arithmetic(tmp_path):
    from resources import SimulatedAccount
    from warehouse import Warehouse

    costs = CostModel(slippage_bps=10.0)
    wh = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    wh.create_schema()
    try:
        acct = SimulatedAccount("acct", wh, {"A": 100.0}, DAY, costs)
        for i, order in enumerate([OrderRequest("c0", "A", "sell", qty=12.5), OrderRequest("c1", "A", "buy",
                                   notional_usd=1234.56), OrderRequest("c2", "A", "buy", qty=3.25),
                                   OrderRequest("c3", "A", "sell", notional_usd=500.0)]):
            got = acct.submit(order)
            assert simulated_fill(costs, order, 100.0, DAY) == (got.filled_qty, got.filled_avg_price), order
    finally:
        wh.dispose()


def test_net_by_quantity_crosses_inside_the_account_and_sends_the_net():
    intents = [SymphonyIntent("s1", "X", -10.0, 20.0, True), SymphonyIntent("s2", "X", 4.0, 20.0)]
    plan = net_by_quantity("acct", DAY, intents)
    [order] = plan.orders
    assert (order.side, order.qty, order.notional_usd) == ("sell", 6.0, None)
    from engine.ledger import Ledger, OrderOutcome

    out = settle({"s1": Ledger({"X": 10.0}, 0.0), "s2": Ledger({}, 100.0)}, [(order.client_order_id, order.intents)],
                 {order.client_order_id: OrderOutcome(6.0, 19.9)})
    assert out["s2"].holdings == {"X": 4.0} and out["s2"].cash == pytest.approx(100.0 - 80.0)   # crossed at 20
    assert "X" not in out["s1"].holdings and out["s1"].cash == pytest.approx(4 * 20.0 + 6 * 19.9)


def test_replay_equals_the_backtest_on_a_hand_made_frame():
    root = parse_symphony(SIXTY_FORTY)
    closes = _closes()
    days = [d.date() for d in closes.index]
    res = replay([ReplaySymphony("acct", "s", root)], closes, days, CostModel(), traces=False,
                 previous_session=lambda d: d - dt.timedelta(days=1))
    bt = run_backtest(root, closes, capital=10_000.0, costs=CostModel(), benchmark=None)
    assert res.nav_frame()["s"].to_numpy() == pytest.approx(bt.nav.to_numpy(), rel=1e-12)
    assert {r["status"] for r in res.symphony_runs} == {"ok"}
    assert {r["status"] for r in res.orders} == {"filled"}
    # every session rebalances (daily): day 1 buys both, later days trade the drift back to 60/40
    assert len({r["session_date"] for r in res.orders}) == len(days)
    metrics = {r["metric"]: r["value"] for r in res.performance_metrics if r["as_of_date"] == days[-1]}
    assert metrics["end_value"] == pytest.approx(bt.nav.iloc[-1], rel=1e-12)


def test_a_session_after_the_last_price_is_refused():
    root = parse_symphony(SIXTY_FORTY)
    with pytest.raises(ReplayError, match="no prices after 2025-06-09: cannot replay to 2025-06-10"):
        replay([ReplaySymphony("acct", "s", root)], _closes(), [dt.date(2025, 6, 10)], CostModel())
    with pytest.raises(ReplayError, match="unknown sizing"):
        replay([ReplaySymphony("acct", "s", root)], _closes(), [dt.date(2025, 6, 3)], CostModel(), sizing="fast")


def test_history_stats_are_composer_stats_on_every_prefix():
    from engine.metrics import composer_stats
    from engine.replay import history_stats

    rng = np.random.default_rng(3)
    nav = 10_000.0 * np.cumprod(1.0 + rng.normal(0.0005, 0.02, 300))
    index = pd.bdate_range("2025-01-02", periods=len(nav))
    for k in (1, 2, 3, 50, 300):
        want = composer_stats(pd.Series(nav[:k], index=index[:k]), capital=10_000.0)
        got = history_stats(nav[:k], 10_000.0)
        assert list(got) == list(want)
        for key in want:
            assert got[key] == pytest.approx(want[key], rel=1e-12, nan_ok=True), (k, key)
