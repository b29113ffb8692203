"""Fixtures for the warehouse tests: a schema-ready warehouse per backend and a small seeded dataset."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pandas as pd
import pytest

from warehouse import CASH_TICKER, Warehouse

D1, D2, D3 = dt.date(2022, 1, 3), dt.date(2022, 1, 4), dt.date(2022, 1, 5)


@pytest.fixture
def wh(warehouse_url: str) -> Iterator[Warehouse]:
    """An empty warehouse with every table created (DuckDB file or fresh PostgreSQL database)."""
    warehouse = Warehouse(warehouse_url)
    warehouse.create_schema()
    try:
        yield warehouse
    finally:
        warehouse.dispose()


@pytest.fixture
def seeded(wh: Warehouse) -> Warehouse:
    """``wh`` with a small hand-written dataset whose query answers are known.

    * symphonies: ``sym-a1`` (active) and ``sym-a2`` (inactive) of account ``acct-a``; ``sym-b1`` (active) of
      ``acct-b``.
    * target_allocations: ``sym-a1`` on D1 (SPY .6 / TLT .4) and D2 (SPY 1.0); ``sym-b1`` on D1 only (QQQ 1.0).
    * positions of ``sym-a1`` on D1 and D3 (none on D2); daily_nav of ``sym-a1`` on D1..D3.
    * daily_bars: SPY on D1..D3, TLT on D1 and D3 (missing D2), adj_close = 100 + day index (+10 for TLT).
    """
    wh.upsert("symphonies", pd.DataFrame({
        "symphony_id": ["sym-a1", "sym-a2", "sym-b1"],
        "account_id": ["acct-a", "acct-a", "acct-b"],
        "name": ["A one", "A two", "B one"],
        "source_format": ["json", "edn", "defsymphony"],
        "source_text": ["{}", "{}", "(defsymphony)"],
        "status": ["active", "inactive", "active"],
        "rebalance": ["daily", "daily", "none"],
    }))
    alloc = pd.DataFrame([
        ("acct-a", "sym-a1", D1, "SPY", 0.6),
        ("acct-a", "sym-a1", D1, "TLT", 0.4),
        ("acct-a", "sym-a1", D2, "SPY", 1.0),
        ("acct-b", "sym-b1", D1, "QQQ", 1.0),
    ], columns=["account_id", "symphony_id", "session_date", "ticker", "target_weight"])
    wh.replace("target_allocations", alloc, {"symphony_id": ["sym-a1", "sym-b1"]})
    pos = pd.DataFrame([
        ("acct-a", "sym-a1", D1, "SPY", 10.0, 100.0, 1000.0),
        ("acct-a", "sym-a1", D1, CASH_TICKER, 9000.0, 1.0, 9000.0),
        ("acct-a", "sym-a1", D3, "SPY", 20.0, 102.0, 2040.0),
        ("acct-a", "sym-a1", D3, CASH_TICKER, 8000.0, 1.0, 8000.0),
    ], columns=["account_id", "symphony_id", "session_date", "ticker", "qty", "price", "market_value_usd"])
    wh.replace("positions", pos, {"symphony_id": "sym-a1", "session_date": [D1, D3]})
    nav = pd.DataFrame({"account_id": "acct-a", "symphony_id": "sym-a1", "session_date": [D1, D2, D3],
                        "nav_usd": [10000.0, 10100.0, 10040.0], "cash_usd": [9000.0, 9000.0, 8000.0],
                        "daily_return": [None, 0.01, 10040.0 / 10100.0 - 1]})
    wh.replace("daily_nav", nav, {"symphony_id": "sym-a1"})
    bars = pd.DataFrame([
        (D1, "SPY", 101.0), (D2, "SPY", 102.0), (D3, "SPY", 103.0),
        (D1, "TLT", 111.0), (D3, "TLT", 113.0),
    ], columns=["session_date", "ticker", "adj_close"])
    bars["close"] = bars["adj_close"]
    bars["source"] = "test"
    wh.replace("daily_bars", bars, {"session_date": [D1, D2, D3]})
    return wh
