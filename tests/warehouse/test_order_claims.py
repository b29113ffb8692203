"""Claims before sending (warehouse.repos.orders.claim_first_attempts): atomic, once, kept by re-planning."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from warehouse import Warehouse
from warehouse.repos import orders as order_repo

S = dt.date(2026, 7, 31)


def _plan(account: str, n: int) -> list[dict]:
    return [{"client_order_id": f"{account}-{i}", "account_id": account, "symphony_id": "net", "session_date": S,
             "ticker": f"T{i}", "side": "buy", "notional_usd": 100.0, "qty": None, "status": "planned",
             "reason": "rebalance", "ref_price": 10.0} for i in range(n)]


def test_claim_once_atomically_and_survive_replanning(wh: Warehouse) -> None:
    order_repo.replace_plan(wh, S, _plan("a", 3) + _plan("b", 2))
    assert order_repo.claim_first_attempts(wh, S, "a", ["a-0", "a-1"]) == {"a-0", "a-1"}
    # a second run (or a concurrent one) claims nothing already claimed; another account's ids are not touched
    assert order_repo.claim_first_attempts(wh, S, "a", ["a-0", "a-1", "a-2", "b-0"]) == {"a-2"}
    assert order_repo.claim_first_attempts(wh, S, "b", []) == set()
    # re-planning the session (order_plan re-run) keeps the claims, answered or not
    order_repo.replace_plan(wh, S, _plan("a", 3) + _plan("b", 2))
    stored = wh.read("orders").set_index("client_order_id")["first_attempt_at"]
    assert stored[["a-0", "a-1", "a-2"]].notna().all() and stored[["b-0", "b-1"]].isna().all()
    assert order_repo.claim_first_attempts(wh, S, "a", ["a-0", "a-1", "a-2"]) == set()
    assert order_repo.claim_first_attempts(wh, S, "b", ["b-0", "b-1"]) == {"b-0", "b-1"}


def test_record_updates_the_row_and_fills_are_derived(wh: Warehouse) -> None:
    order_repo.replace_plan(wh, S, _plan("a", 2))
    row = wh.read("orders", where={"client_order_id": "a-1"}).iloc[0].to_dict()
    when = dt.datetime(2026, 7, 31, 19, 50, tzinfo=dt.timezone.utc)
    order_repo.record(wh, row, status="filled", broker_order_id="B1", submitted_at=when, filled_qty=9.99,
                      filled_avg_price=10.01)
    got = wh.read("orders").set_index("client_order_id")
    assert got.loc["a-1", "status"] == "filled" and got.loc["a-1", "broker_order_id"] == "B1"
    assert got.loc["a-1", "filled_qty"] == 9.99 and got.loc["a-1", "reason"] == "rebalance"
    assert got.loc["a-0", "status"] == "planned" and pd.isna(got.loc["a-0", "broker_order_id"])
    order_repo.replace_fills(wh, S, got.reset_index().to_dict("records"))
    fills = wh.read("fills")
    assert list(fills["client_order_id"]) == ["a-1"] and fills["notional_usd"].iloc[0] == 9.99 * 10.01
