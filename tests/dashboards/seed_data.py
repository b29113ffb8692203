"""A small hand-seeded warehouse for the dashboard tests, whose overview answers are known.

The dataset (sessions D1 < D2 < D3 of January 2024; D0 before and D4 after the paper window):

* accounts ``acct-a`` "Alice" and ``acct-b`` "Bob".
* symphonies: ``sym-6040`` "Sixty Forty" (acct-a, active, daily), ``sym-qqq`` "Nasdaq Tilt" (acct-b, active,
  none), ``sym-old`` "Retired" (acct-a, inactive, daily).
* target_allocations: ``sym-6040`` D2 SPY/TLT 50/50 and D3 SPY .6 / TLT .4; ``sym-qqq`` D3 QQQ .8 + cash .2;
  ``sym-old`` D1 GLD 1.0.
* symphony_runs: ``sym-6040`` ok on D2 and D3, ``sym-qqq`` ok on D3, ``sym-old`` failed on D1.
* decision_traces: ``sym-6040`` on D2 (one node) and on D3 (three nodes stored out of tree order).
* daily_nav: ``sym-6040`` 10000 / 10100 / 10200 on D1..D3; ``sym-qqq`` 5000 / 4950 on D2..D3. Total on D3: 15150,
  change against D2 over the symphonies present on both: (10200 + 4950) - (10100 + 5000) = +50.
* backtests of ``sym-6040``: an older run ``bt-old`` (flat at 1.0) and the newest ``bt-new`` with NAV 50 on D0,
  100 / 99 / 102 on D1..D3 and 103 on D4 (rebased to the paper's 10000 on D1: 10000 / 9900 / 10200).
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from warehouse import CASH_TICKER, Warehouse

D0, D1, D2, D3, D4 = (dt.date(2023, 12, 29), dt.date(2024, 1, 2), dt.date(2024, 1, 3), dt.date(2024, 1, 4),
                      dt.date(2024, 1, 5))
UTC = dt.timezone.utc


def seed_overview(wh: Warehouse) -> None:
    """Write the dataset described in the module docstring into an empty, schema-ready warehouse."""
    wh.upsert("accounts", pd.DataFrame({"account_id": ["acct-a", "acct-b"], "name": ["Alice", "Bob"]}))
    wh.upsert("symphonies", pd.DataFrame({
        "symphony_id": ["sym-6040", "sym-qqq", "sym-old"],
        "account_id": ["acct-a", "acct-b", "acct-a"],
        "name": ["Sixty Forty", "Nasdaq Tilt", "Retired"],
        "source_format": ["json", "edn", "defsymphony"],
        "source_text": ["{}", "{}", "(defsymphony)"],
        "status": ["active", "active", "inactive"],
        "rebalance": ["daily", "none", "daily"],
    }))
    alloc = pd.DataFrame([
        ("acct-a", "sym-6040", D2, "SPY", 0.5), ("acct-a", "sym-6040", D2, "TLT", 0.5),
        ("acct-a", "sym-6040", D3, "SPY", 0.6), ("acct-a", "sym-6040", D3, "TLT", 0.4),
        ("acct-b", "sym-qqq", D3, "QQQ", 0.8), ("acct-b", "sym-qqq", D3, CASH_TICKER, 0.2),
        ("acct-a", "sym-old", D1, "GLD", 1.0),
    ], columns=["account_id", "symphony_id", "session_date", "ticker", "target_weight"])
    wh.replace("target_allocations", alloc, {"session_date": [D1, D2, D3]})
    runs = pd.DataFrame([
        ("acct-a", "sym-6040", D2, "ok", None), ("acct-a", "sym-6040", D3, "ok", None),
        ("acct-b", "sym-qqq", D3, "ok", None), ("acct-a", "sym-old", D1, "failed", "ValueError: no prices"),
    ], columns=["account_id", "symphony_id", "session_date", "status", "reason"])
    runs["evaluated_at"] = dt.datetime(2024, 1, 5, 21, 0, tzinfo=UTC)
    wh.replace("symphony_runs", runs, {"session_date": [D1, D2, D3]})
    traces = pd.DataFrame([
        ("acct-a", "sym-6040", D2, 0, "root/0", "if", "yesterday's reason"),
        ("acct-a", "sym-6040", D3, 0, "root/0/10", "filter", "deepest, evaluated first"),
        ("acct-a", "sym-6040", D3, 1, "root/0/2", "if", "middle"),
        ("acct-a", "sym-6040", D3, 2, "root/0", "if", "SPY above its 200d average -> then"),
    ], columns=["account_id", "symphony_id", "session_date", "seq", "node_path", "node_type", "summary"])
    wh.replace("decision_traces", traces, {"session_date": [D2, D3]})
    nav = pd.DataFrame([
        ("acct-a", "sym-6040", D1, 10000.0), ("acct-a", "sym-6040", D2, 10100.0),
        ("acct-a", "sym-6040", D3, 10200.0),
        ("acct-b", "sym-qqq", D2, 5000.0), ("acct-b", "sym-qqq", D3, 4950.0),
    ], columns=["account_id", "symphony_id", "session_date", "nav_usd"])
    wh.replace("daily_nav", nav, {"session_date": [D1, D2, D3]})
    bt_runs = pd.DataFrame([
        ("bt-old", "acct-a", "sym-6040", D1, D3, 0.01, 0.1, -0.5, dt.datetime(2024, 1, 1, tzinfo=UTC)),
        ("bt-new", "acct-a", "sym-6040", D0, D4, 0.10, 1.2, -0.2, dt.datetime(2024, 2, 1, tzinfo=UTC)),
    ], columns=["run_id", "account_id", "symphony_id", "start_date", "end_date", "cagr", "sharpe", "max_drawdown",
                "created_at"])
    wh.replace("backtest_runs", bt_runs, {"run_id": ["bt-old", "bt-new"]})
    bt_daily = pd.DataFrame([
        ("bt-old", D1, 1.0), ("bt-old", D2, 1.0), ("bt-old", D3, 1.0),
        ("bt-new", D0, 50.0), ("bt-new", D1, 100.0), ("bt-new", D2, 99.0), ("bt-new", D3, 102.0),
        ("bt-new", D4, 103.0),
    ], columns=["run_id", "session_date", "nav_usd"])
    bt_daily = bt_daily.assign(account_id="acct-a", symphony_id="sym-6040")
    wh.replace("backtest_daily", bt_daily, {"run_id": ["bt-old", "bt-new"]})
