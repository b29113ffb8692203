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
import json

import pandas as pd

from engine.parsing import parse_defsymphony
from warehouse import CASH_TICKER, Warehouse

D0, D1, D2, D3, D4 = (dt.date(2023, 12, 29), dt.date(2024, 1, 2), dt.date(2024, 1, 3), dt.date(2024, 1, 4),
                      dt.date(2024, 1, 5))
UTC = dt.timezone.utc
TREND = ('(defsymphony "Sixty Forty" {:rebalance-frequency :daily} (weight-equal [(if (> (current-price "SPY") '
         '(moving-average-price "SPY" {:window 20})) [(asset "SPY")] [(asset "TLT")])]))')


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


# -- a seeded warehouse with trading and backtest detail ---------------------------------------------------------

def seed_perf(wh: Warehouse) -> None:
    """The overview dataset plus: a stored model for sym-6040, SPY bars, backtest config/stats/weights, and on D3
    one filled and one rejected netted order with the intents, fills and positions behind them."""
    seed_overview(wh)
    wh.upsert("symphonies", pd.DataFrame([{
        "symphony_id": "sym-6040", "account_id": "acct-a", "name": "Sixty Forty", "source_format": "defsymphony",
        "source_text": TREND, "parsed_json": parse_defsymphony(TREND).model_dump_json(), "status": "active",
        "rebalance": "daily"}]))
    wh.upsert("daily_bars", pd.DataFrame({"session_date": [D0, D1, D2, D3, D4], "ticker": "SPY",
                                          "adj_close": [470.0, 472.0, 468.0, 467.0, 470.0]}))
    wh.upsert("backtest_runs", pd.DataFrame([{
        "run_id": "bt-new", "account_id": "acct-a", "symphony_id": "sym-6040", "start_date": D0, "end_date": D4,
        "capital_usd": 10000.0, "slippage_bps": 5.0, "config_json": json.dumps({"benchmark": "SPY", "slippage_bps": 5}),
        "stats_json": json.dumps({"stats": {"cumulative_return": 1.06, "sharpe_ratio": 1.2},
                                  "costs": {"slippage": 1.5, "reg_fee": 0.1, "taf_fee": 0.0}, "benchmark": {}}),
        "cagr": 0.10, "sharpe": 1.2, "max_drawdown": 0.2, "created_at": dt.datetime(2024, 2, 1, tzinfo=UTC)}]))
    bw = pd.DataFrame([(D1, "SPY", 0.5), (D1, "TLT", 0.5), (D2, "TLT", 1.0), (D3, "SPY", 0.6), (D3, "TLT", 0.4),
                       (D4, "SPY", 1.0)], columns=["session_date", "ticker", "weight"])
    wh.replace("backtest_weights", bw.assign(run_id="bt-new", account_id="acct-a", symphony_id="sym-6040"),
               {"run_id": "bt-new"})
    wh.upsert("orders", pd.DataFrame([
        {"client_order_id": "o-spy", "account_id": "acct-a", "symphony_id": "net", "session_date": D3,
         "ticker": "SPY", "side": "buy", "qty": 1.0, "status": "filled", "filled_qty": 1.0,
         "filled_avg_price": 467.0, "ref_price": 466.5},
        {"client_order_id": "o-tlt", "account_id": "acct-a", "symphony_id": "net", "session_date": D3,
         "ticker": "TLT", "side": "sell", "qty": 2.0, "status": "rejected", "filled_qty": 0.0,
         "reason": "insufficient qty", "ref_price": 95.0},
    ]))
    wh.upsert("order_intents", pd.DataFrame([
        {"account_id": "acct-a", "symphony_id": "sym-6040", "session_date": D3, "ticker": "SPY", "delta_qty": 1.0,
         "ref_price": 466.5, "liquidate": False, "client_order_id": "o-spy", "disposition": "order"},
        {"account_id": "acct-a", "symphony_id": "sym-6040", "session_date": D3, "ticker": "TLT", "delta_qty": -2.0,
         "ref_price": 95.0, "liquidate": False, "client_order_id": "o-tlt", "disposition": "order"},
    ]))
    wh.upsert("fills", pd.DataFrame([{"fill_id": "f1", "client_order_id": "o-spy", "account_id": "acct-a",
                                      "symphony_id": "sym-6040", "session_date": D3, "ticker": "SPY", "side": "buy",
                                      "qty": 1.0, "price": 467.0, "notional_usd": 467.0,
                                      "filled_at": dt.datetime(2024, 1, 4, 20, 55, tzinfo=UTC)}]))
    wh.upsert("positions", pd.DataFrame([
        {"account_id": "acct-a", "symphony_id": "sym-6040", "session_date": D3, "ticker": "SPY", "qty": 13.0,
         "price": 467.0, "market_value_usd": 6071.0},
        {"account_id": "acct-a", "symphony_id": "sym-6040", "session_date": D3, "ticker": "TLT", "qty": 40.0,
         "price": 95.0, "market_value_usd": 3800.0},
        {"account_id": "acct-a", "symphony_id": "sym-6040", "session_date": D3, "ticker": CASH_TICKER, "qty": 329.0,
         "price": 1.0, "market_value_usd": 329.0},
    ]))


# -- a second tenant whose every id, name and number is recognisable -------------------------------------------

#: Account B of the tenancy test: every string below contains "bravo" or "zulu"/"yankee", every USD value is one
#: that account A's data never produces.
BRAVO = "acct-bravo-zq"
BRAVO_SYMPHONIES = {"sym-bravo-zulu": "Zulu Leak Momentum", "sym-bravo-yankee": "Yankee Leak Rotation"}
BRAVO_ORDERS = ("ord-bravo-xle-1", "ord-bravo-gld-2", "ord-bravo-late-3")
BRAVO_RUNS = ("bt-bravo-1",)
#: A session on which only account B traded (not a session of A's data).
BRAVO_ONLY_SESSION = dt.date(2024, 1, 8)
#: NAV, cash, fill and position values (USD) of account B.
BRAVO_NUMBERS = (31337.13, 31415.92, 32768.64, 2718.28, 27182.81, 28459.04, 88.88, 31400.01, 1618.03)
ZULU = ('(defsymphony "Zulu Leak Momentum" {:rebalance-frequency :daily} (weight-equal [(if (> (current-price "XLE") '
        '(moving-average-price "XLE" {:window 20})) [(asset "XLE")] [(asset "GLD")])]))')
#: Every text the tenancy test must never find on account A's pages.
BRAVO_TEXTS = (BRAVO, "Bravo Zulu Holdings", *BRAVO_SYMPHONIES, *BRAVO_SYMPHONIES.values(), *BRAVO_ORDERS,
               *BRAVO_RUNS, "fill-bravo-1", "bravo-rejection-reason", "bravo-trace-summary", "bravo-run-failure",
               "XLE", BRAVO_ONLY_SESSION.isoformat())


def seed_bravo(wh: Warehouse) -> None:
    """Account B (:data:`BRAVO`) with symphonies, allocations, runs, traces, NAV, a backtest (runs, daily,
    weights), orders (one filled, one rejected, one on :data:`BRAVO_ONLY_SESSION`), intents, fills and positions,
    on the sessions of account A's data (D1..D3) and one more."""
    days = [D1, D2, D3, BRAVO_ONLY_SESSION]
    wh.upsert("accounts", pd.DataFrame({"account_id": [BRAVO], "name": ["Bravo Zulu Holdings"]}))
    wh.upsert("symphonies", pd.DataFrame([
        {"symphony_id": "sym-bravo-zulu", "account_id": BRAVO, "name": "Zulu Leak Momentum",
         "source_format": "defsymphony", "source_text": ZULU, "parsed_json": parse_defsymphony(ZULU).model_dump_json(),
         "status": "active", "rebalance": "daily", "capital_usd": 31000.0},
        {"symphony_id": "sym-bravo-yankee", "account_id": BRAVO, "name": "Yankee Leak Rotation",
         "source_format": "defsymphony", "source_text": ZULU.replace("Zulu Leak Momentum", "Yankee Leak Rotation"),
         "status": "inactive", "rebalance": "daily", "capital_usd": 16180.0}]))
    z = "sym-bravo-zulu"
    wh.replace("target_allocations", pd.DataFrame(
        [(BRAVO, z, d, "XLE", 1.0) for d in days] + [(BRAVO, "sym-bravo-yankee", D1, "GLD", 1.0)],
        columns=["account_id", "symphony_id", "session_date", "ticker", "target_weight"]),
        {"account_id": BRAVO})
    runs = pd.DataFrame([(BRAVO, z, d, "ok", None) for d in days]
                        + [(BRAVO, "sym-bravo-yankee", D1, "failed", "bravo-run-failure")],
                        columns=["account_id", "symphony_id", "session_date", "status", "reason"])
    wh.replace("symphony_runs", runs.assign(evaluated_at=dt.datetime(2024, 1, 8, 21, 0, tzinfo=UTC)),
               {"account_id": BRAVO})
    wh.replace("decision_traces", pd.DataFrame(
        [(BRAVO, z, d, 0, "root/0/0", "if", "bravo-trace-summary") for d in days],
        columns=["account_id", "symphony_id", "session_date", "seq", "node_path", "node_type", "summary"]),
        {"account_id": BRAVO})
    nav = pd.DataFrame({"account_id": BRAVO, "symphony_id": z, "session_date": days,
                        "nav_usd": [31337.13, 31415.92, 32768.64, 31400.01], "cash_usd": [2718.28] * 4})
    wh.replace("daily_nav", nav, {"account_id": BRAVO})
    wh.upsert("backtest_runs", pd.DataFrame([{
        "run_id": "bt-bravo-1", "account_id": BRAVO, "symphony_id": z, "start_date": D0, "end_date": D4,
        "capital_usd": 27182.81, "slippage_bps": 7.0, "config_json": json.dumps({"benchmark": "XLE"}),
        "stats_json": json.dumps({"stats": {"sharpe_ratio": 1.618}, "costs": {"slippage": 16.18}}),
        "cagr": 0.1618, "sharpe": 1.618, "max_drawdown": 0.1618, "created_at": dt.datetime(2024, 3, 1, tzinfo=UTC)}]))
    wh.replace("backtest_daily", pd.DataFrame({
        "run_id": "bt-bravo-1", "account_id": BRAVO, "symphony_id": z, "session_date": [D0, D1, D2, D3, D4],
        "nav_usd": [27182.81, 28459.04, 27182.81, 28459.04, 27182.81]}), {"run_id": "bt-bravo-1"})
    wh.replace("backtest_weights", pd.DataFrame({
        "run_id": "bt-bravo-1", "account_id": BRAVO, "symphony_id": z, "session_date": [D1, D2, D3],
        "ticker": "XLE", "weight": 1.0}), {"run_id": "bt-bravo-1"})
    wh.upsert("orders", pd.DataFrame([
        {"client_order_id": "ord-bravo-xle-1", "account_id": BRAVO, "symphony_id": "net", "session_date": D3,
         "ticker": "XLE", "side": "buy", "qty": 353.53, "status": "filled", "filled_qty": 353.53,
         "filled_avg_price": 88.88, "ref_price": 88.88, "notional_usd": 31400.01},
        {"client_order_id": "ord-bravo-gld-2", "account_id": BRAVO, "symphony_id": "net", "session_date": D3,
         "ticker": "GLD", "side": "sell", "qty": 9.0, "status": "rejected", "filled_qty": 0.0,
         "reason": "bravo-rejection-reason", "ref_price": 1618.03},
        {"client_order_id": "ord-bravo-late-3", "account_id": BRAVO, "symphony_id": "net",
         "session_date": BRAVO_ONLY_SESSION, "ticker": "XLE", "side": "sell", "qty": 1.0, "status": "filled",
         "filled_qty": 1.0, "filled_avg_price": 88.88, "ref_price": 88.88},
    ]))
    wh.upsert("order_intents", pd.DataFrame([
        {"account_id": BRAVO, "symphony_id": z, "session_date": D3, "ticker": "XLE", "delta_qty": 353.53,
         "ref_price": 88.88, "liquidate": False, "client_order_id": "ord-bravo-xle-1", "disposition": "order"},
        {"account_id": BRAVO, "symphony_id": z, "session_date": D3, "ticker": "GLD", "delta_qty": -9.0,
         "ref_price": 1618.03, "liquidate": False, "client_order_id": "ord-bravo-gld-2", "disposition": "order"},
    ]))
    wh.upsert("fills", pd.DataFrame([{"fill_id": "fill-bravo-1", "client_order_id": "ord-bravo-xle-1",
                                      "account_id": BRAVO, "symphony_id": z, "session_date": D3, "ticker": "XLE",
                                      "side": "buy", "qty": 353.53, "price": 88.88, "notional_usd": 31400.01,
                                      "filled_at": dt.datetime(2024, 1, 4, 20, 55, tzinfo=UTC)}]))
    wh.upsert("positions", pd.DataFrame([
        {"account_id": BRAVO, "symphony_id": z, "session_date": d, "ticker": "XLE", "qty": 353.53, "price": 88.88,
         "market_value_usd": 31400.01} for d in days] + [
        {"account_id": BRAVO, "symphony_id": z, "session_date": d, "ticker": CASH_TICKER, "qty": 1618.03,
         "price": 1.0, "market_value_usd": 1618.03} for d in days]))
