"""Order-safety rules of the daily graph on the simulated broker (the offline twin of Alpaca paper)."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from assets.daily import DAILY_ASSETS
from orchestration.cli import seed_symphonies
from orchestration.definitions import build_resources
from resources import SimulatedAccount, SimulatedBroker
from warehouse import Warehouse
from warehouse.scope import ALL_ACCOUNTS

D1, D2 = "2024-06-20", "2024-06-21"   # SPY fell 0.16 % on 2024-06-21 (adjusted close 532.63 → 531.92)


def write(tmp_path: Path, name: str, body: str, rebalance: str = ":daily") -> Path:
    p = tmp_path / f"{name}.clj"
    p.write_text(f'(defsymphony "{name}" {{:asset-class "EQUITIES", :rebalance-frequency {rebalance}}} {body})')
    return p


@pytest.fixture
def wh(warehouse_url):
    w = Warehouse(warehouse_url)
    w.create_schema()
    yield w
    w.dispose()


def run(url: str, session: str, broker=None, raise_on_error=True):
    resources = build_resources(warehouse_url=url)
    if broker is not None:
        resources["broker"] = broker
    return dg.materialize([*DAILY_ASSETS], resources=resources, partition_key=session,
                          instance=dg.DagsterInstance.ephemeral(), raise_on_error=raise_on_error)


def set_account(wh: Warehouse, account_id: str, **settings):
    acct = wh.read("accounts", where={"account_id": account_id}).iloc[0].to_dict()
    acct.update(settings)
    wh.upsert("accounts", pd.DataFrame([acct]), ["account_id"])


@pytest.mark.slow
def test_symphonies_of_one_account_are_netted_and_crossed(wh, warehouse_url, tmp_path):
    spy = write(tmp_path, "all-spy", '(weight-equal [(asset "SPY")])')
    half = write(tmp_path, "spy-tlt", '(weight-equal [(asset "SPY") (asset "TLT")])')
    seed_symphonies(wh, [spy, half], "acct")
    assert run(warehouse_url, D1).success
    orders = wh.read("orders")
    # 10,000 all SPY + 5,000 SPY + 5,000 TLT: one SPY order for both symphonies, one TLT order
    assert sorted(zip(orders["ticker"], orders["side"])) == [("SPY", "buy"), ("TLT", "buy")]
    spy_order = orders[orders["ticker"] == "SPY"].iloc[0]
    assert spy_order["notional_usd"] == pytest.approx(15_000, abs=0.02)
    intents = wh.read("order_intents")
    assert set(intents.loc[intents["ticker"] == "SPY", "symphony_id"]) == {"all-spy", "spy-tlt"}
    # the account's broker fills equal the sum of the ledgers
    pos = wh.read("positions", where={"session_date": dt.date.fromisoformat(D1)})
    book = SimulatedAccount("acct", wh, {}, dt.date.fromisoformat(D1), 0.0).account().positions
    for t in ("SPY", "TLT"):
        assert pos.loc[pos["ticker"] == t, "qty"].sum() == pytest.approx(book[t], rel=1e-12)


@pytest.mark.slow
def test_failed_symphony_goes_to_cash_while_the_others_trade(wh, warehouse_url, tmp_path):
    good = write(tmp_path, "good", '(weight-equal [(asset "SPY")])')
    bad = write(tmp_path, "bad", '(weight-equal [(if (> (rsi "TLT" {:window 10}) 0) [(asset "TLT")] [(asset "SPY")])])')
    seed_symphonies(wh, [good, bad], "acct")
    assert run(warehouse_url, D1).success
    # the tree becomes invalid before the next session (a function the engine cannot compute)
    sym = wh.read("symphonies", where={"symphony_id": "bad"}).iloc[0].to_dict()
    sym["parsed_json"] = sym["parsed_json"].replace("relative-strength-index", "no-such-function")
    wh.upsert("symphonies", pd.DataFrame([sym]), ["symphony_id"])
    assert run(warehouse_url, D2).success
    runs = wh.read("symphony_runs", where={"session_date": dt.date.fromisoformat(D2)}).set_index("symphony_id")
    assert runs.loc["bad", "status"] == "failed" and "no-such-function" in runs.loc["bad", "reason"]
    assert runs.loc["good", "status"] == "ok"
    pos = wh.read("positions", where={"session_date": dt.date.fromisoformat(D2)})
    bad_pos = pos[pos["symphony_id"] == "bad"]
    assert list(bad_pos["ticker"]) == ["$USD"]                 # TLT sold: all cash
    assert bad_pos["qty"].iloc[0] == pytest.approx(10_000, rel=2e-3)
    good_pos = pos[pos["symphony_id"] == "good"]
    assert set(good_pos["ticker"]) == {"SPY", "$USD"}


@pytest.mark.slow
def test_kill_switch_blocks_buys_but_not_sells(wh, warehouse_url, tmp_path):
    seed_symphonies(wh, [write(tmp_path, "spy-tlt", '(weight-equal [(asset "SPY") (asset "TLT")])')], "acct")
    assert run(warehouse_url, D1).success
    set_account(wh, "acct", daily_loss_kill_pct=0.00001)   # any loss at all trips it
    assert run(warehouse_url, D2).success
    orders = wh.read("orders", where={"session_date": dt.date.fromisoformat(D2)})
    buys, sells = orders[orders["side"] == "buy"], orders[orders["side"] == "sell"]
    assert len(buys) == 1 and len(sells) == 1
    assert buys["status"].iloc[0] == "blocked" and "kill switch" in buys["reason"].iloc[0]
    assert sells["status"].iloc[0] == "filled"


@pytest.mark.slow
def test_dry_run_and_order_size_limit(wh, warehouse_url, tmp_path):
    seed_symphonies(wh, [write(tmp_path, "spy", '(weight-equal [(asset "SPY")])')], "dry")
    seed_symphonies(wh, [write(tmp_path, "tlt", '(weight-equal [(asset "TLT")])')], "capped")
    set_account(wh, "dry", dry_run=True)
    set_account(wh, "capped", max_order_notional_usd=5_000.0)
    assert run(warehouse_url, D1).success
    orders = wh.read("orders").set_index("account_id")
    assert orders.loc["dry", "status"] == "dry_run"
    assert orders.loc["capped", "status"] == "blocked" and "above the limit" in orders.loc["capped", "reason"]
    assert wh.read("sim_broker_orders").empty                # nothing reached the broker
    pos = wh.read("positions", where={"session_date": dt.date.fromisoformat(D1)})
    assert set(pos["ticker"]) == {"$USD"} and pos["qty"].tolist() == [10_000.0, 10_000.0]


@pytest.mark.slow
def test_only_the_account_limit_of_active_symphonies_trades(wh, warehouse_url, tmp_path):
    files = [write(tmp_path, f"s{i}", '(weight-equal [(asset "SPY")])') for i in range(3)]
    seed_symphonies(wh, files, "acct")
    set_account(wh, "acct", max_active_symphonies=2)
    assert run(warehouse_url, D1).success
    runs = wh.read("symphony_runs").set_index("symphony_id")
    assert runs.loc["s2", "status"] == "skipped" and "more than 2 active symphonies" in runs.loc["s2", "reason"]
    assert set(wh.read("positions")["symphony_id"]) == {"s0", "s1"}


class CrashingBroker(SimulatedBroker):
    """Submits normally, then the process 'dies' right after the broker accepted the second order."""

    crash_after: int = 2

    def for_account(self, account_id, warehouse, prices, session):
        inner = super().for_account(account_id, warehouse, prices, session)
        outer = self

        class Dying:
            def __getattr__(self, name):
                return getattr(inner, name)

            def submit(self, order):
                result = inner.submit(order)
                if len(warehouse.read("sim_broker_orders")) >= outer.crash_after:
                    raise SystemError("process killed after submit, before recording")
                return result

        return Dying()


@pytest.mark.slow
def test_crash_between_submit_and_record_then_rerun_sends_no_duplicate(wh, warehouse_url, tmp_path):
    seed_symphonies(wh, [write(tmp_path, "three", '(weight-equal [(asset "SPY") (asset "TLT") (asset "GLD")])')],
                    "acct")
    crashed = run(warehouse_url, D1, broker=CrashingBroker(), raise_on_error=False)
    assert not crashed.success
    assert len(wh.read("sim_broker_orders")) == 2               # two orders reached the broker
    # each order is recorded as its answer arrives: the first is filled, the second died before its record
    assert sorted(wh.read("orders")["status"]) == ["filled", "planned", "planned"]
    again = run(warehouse_url, D1)
    assert again.success
    book = wh.read("sim_broker_orders")
    orders = wh.read("orders")
    print(f"\ncrash then re-run: orders recorded {len(orders)}, orders at the broker {len(book)}, "
          f"unique client ids {book['client_order_id'].nunique()}")
    assert len(book) == book["client_order_id"].nunique() == len(orders) == 3
    assert set(orders["status"]) == {"filled"}
    meta = again.asset_materializations_for_node("submitted_orders")[0].metadata
    # the recorded order is not sent again; the unrecorded one is found by its client id; one is new
    assert meta["new_at_broker"].value == 1 and meta["orders_sent"].value == 2
    assert meta["already_recorded"].value == 1


@pytest.mark.slow
def test_second_run_of_a_completed_session_sends_nothing_new(wh, warehouse_url, tmp_path):
    seed_symphonies(wh, [write(tmp_path, "spy-tlt", '(weight-equal [(asset "SPY") (asset "TLT")])')], "acct")
    assert run(warehouse_url, D1).success
    first = wh.read("sim_broker_orders")
    first_orders = wh.read("orders")
    assert list(first_orders["reason"]) == ["net of 1 symphony intent(s)"] * 2
    counts = wh.row_counts(ALL_ACCOUNTS)
    second = run(warehouse_url, D1)
    assert second.success
    # the idempotent re-run keeps every recorded field, the reason included (it used to become NULL)
    pd.testing.assert_frame_equal(wh.read("orders"), first_orders)
    meta = second.asset_materializations_for_node("submitted_orders")[0].metadata
    assert meta["new_at_broker"].value == 0
    pd.testing.assert_frame_equal(wh.read("sim_broker_orders"), first)
    assert wh.row_counts(ALL_ACCOUNTS) == counts


@pytest.mark.slow
def test_broken_symphonies_fail_alone_and_ppo_pairs_both_trade(wh, warehouse_url, tmp_path):
    ppo = '(weight-equal [(if (> (percentage-price-oscillator "SPY" {{:short-window {s}, :long-window {l}}}) -100) ' \
          '[(asset "SPY")] [(asset "TLT")])])'
    seed_symphonies(wh, [write(tmp_path, "good", '(weight-equal [(asset "SPY")])'),
                         write(tmp_path, "ppo-fast", ppo.format(s=5, l=35)),
                         write(tmp_path, "ppo-slow", ppo.format(s=12, l=26)),
                         write(tmp_path, "overflow", '(weight-equal [(if (> (rsi "SPY" {:window 10}) 0) '
                                                     '[(asset "SPY")] [(asset "TLT")])])'),
                         write(tmp_path, "unknown", '(weight-equal [(asset "SPY") (asset "ZZZQX")])')], "acct")
    seed_symphonies(wh, [write(tmp_path, "other", '(weight-equal [(asset "TLT")])')], "acct-2")
    # stored as if before windows were bounded: the row itself carries a window of 2^31
    sym = wh.read("symphonies", where={"symphony_id": "overflow"}).iloc[0].to_dict()
    sym["parsed_json"] = sym["parsed_json"].replace('"window":10', '"window":2147483648')
    assert "2147483648" in sym["parsed_json"]
    wh.upsert("symphonies", pd.DataFrame([sym]), ["symphony_id"])
    assert run(warehouse_url, D1).success
    runs = wh.read("symphony_runs").set_index("symphony_id")
    print("\n" + "\n".join(f"{sid}: {r.status} {r.reason if isinstance(r.reason, str) else ''}" for sid, r in runs.iterrows()))
    assert runs.loc["overflow", "status"] == "failed"
    assert runs.loc["overflow", "reason"].startswith("parse of stored row")
    assert "field 'window' of SPY is 2147483648" in runs.loc["overflow", "reason"]
    assert runs.loc["unknown", "status"] == "failed" and "ZZZQX" in runs.loc["unknown", "reason"]
    assert {runs.loc[s, "status"] for s in ("good", "ppo-fast", "ppo-slow", "other")} == {"ok"}
    ind = wh.read("indicator_values")
    assert sorted(ind.loc[ind["fn"] == "percentage-price-oscillator", "params"]) == [
        '{"long-window":26,"short-window":12}', '{"long-window":35,"short-window":5}']
    pos = wh.read("positions").groupby("symphony_id")
    held = {sid: set(g.loc[g["qty"] > 0, "ticker"]) - {"$USD"} for sid, g in pos}
    assert held["overflow"] == held["unknown"] == set()                      # all cash
    assert held["good"] == held["ppo-fast"] == held["ppo-slow"] == {"SPY"} and held["other"] == {"TLT"}
    cash = {sid: float(g.loc[g["ticker"] == "$USD", "qty"].sum()) for sid, g in pos}
    assert cash["overflow"] == cash["unknown"] == 10_000.0


@pytest.mark.slow
def test_ledgers_hold_check_fails_on_a_stored_negative_ledger(wh, warehouse_url, tmp_path):
    from assets.daily import ledgers_hold

    seed_symphonies(wh, [write(tmp_path, "spy", '(weight-equal [(asset "SPY")])')], "acct")
    resources = build_resources(warehouse_url=warehouse_url)
    result = dg.materialize([*DAILY_ASSETS, ledgers_hold], resources=resources, partition_key=D1,
                            instance=dg.DagsterInstance.ephemeral())
    (check,) = result.get_asset_check_evaluations()
    assert check.passed and check.metadata["detail"].value == "none"
    session = dt.date.fromisoformat(D1)
    pos = wh.read("positions", where={"session_date": session})
    assert pos.loc[pos["ticker"] == "$USD", "qty"].iloc[0] >= 0.0            # the run itself keeps the invariant
    bad = pd.concat([pos[pos["ticker"] != "$USD"],
                     pd.DataFrame([{"account_id": "acct", "symphony_id": "spy", "session_date": session,
                                    "ticker": "BIL", "qty": -0.0107, "price": 91.5, "market_value_usd": -0.979},
                                   {"account_id": "acct", "symphony_id": "spy", "session_date": session,
                                    "ticker": "$USD", "qty": -0.99, "price": 1.0, "market_value_usd": -0.99}])])
    wh.replace("positions", bad, where={"session_date": session})            # as the demo used to end
    again = dg.materialize([*DAILY_ASSETS, ledgers_hold], resources=resources, partition_key=D1,
                           selection=dg.AssetSelection.assets("daily_nav") | dg.AssetSelection.checks(ledgers_hold),
                           instance=dg.DagsterInstance.ephemeral())
    (check,) = again.get_asset_check_evaluations()
    assert check.passed is False and check.metadata["violations"].value == 2
    assert check.metadata["detail"].value == \
        "spy: BIL -0.0107 shares (negative); spy: cash -0.99 USD (negative beyond a cent)"
