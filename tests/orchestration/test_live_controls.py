"""Live controls (go to cash, skip the next rebalance, preview) and the path-dependency guard, through the daily
graph as Dagster materialises it, on the bundled data (issue 10 items 2 and 7)."""
from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from assets.daily import DAILY_ASSETS, DAILY_CHECKS, daily_bars, indicator_values, target_allocations
from orchestration.cli import seed_symphonies
from orchestration.definitions import build_definitions, build_resources
from warehouse import AccountScope, Warehouse
from warehouse.repos import audit, controls
from warehouse.scope import ALL_ACCOUNTS

D = dt.date.fromisoformat


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


def run(url: str, session: str, assets=None, checks: bool = False, instance=None):
    selection = None if assets is None else assets
    result = dg.materialize([*DAILY_ASSETS, *(DAILY_CHECKS if checks else [])],
                            resources=build_resources(warehouse_url=url), partition_key=session,
                            instance=instance or dg.DagsterInstance.ephemeral(), selection=selection,
                            raise_on_error=False)
    return result


def held(wh: Warehouse, sid: str, session: str) -> dict[str, float]:
    pos = wh.read("positions", where={"symphony_id": sid, "session_date": D(session)})
    return {r["ticker"]: float(r["qty"]) for r in pos.to_dict("records")}


def as_operator(**kw):
    return dict(actor="root", role="operator", user_account=None, origin="cli", **kw)


@pytest.mark.slow
def test_cash_until_the_next_weekly_rebalance(wh, warehouse_url, tmp_path):
    """Weekly SPY symphony beside a daily TLT one: sold to cash on 06-18, cash on 06-20 and 06-21 (same week),
    back to SPY on Monday 06-24 (first session of the next week), where the control is consumed."""
    weekly = write(tmp_path, "spy-weekly", '(weight-equal [(asset "SPY")])', ":weekly")
    daily = write(tmp_path, "tlt-daily", '(weight-equal [(asset "TLT")])')
    seed_symphonies(wh, [weekly, daily], "acct")
    assert run(warehouse_url, "2024-06-17").success
    spy_qty = held(wh, "spy-weekly", "2024-06-17")["SPY"]
    assert spy_qty > 18   # ~10,000 USD of SPY at ~548
    row = controls.set_control(wh, symphony_id="spy-weekly", control="cash_until_rebalance",
                               effective_session=D("2024-06-18"), note="earnings week", **as_operator())
    assert run(warehouse_url, "2024-06-18").success
    day2 = held(wh, "spy-weekly", "2024-06-18")
    assert set(day2) == {"$USD"} and day2["$USD"] == pytest.approx(10_000, rel=0.01)   # all cash, no SPY
    sale = wh.read("orders", where={"session_date": D("2024-06-18"), "ticker": "SPY"}).iloc[0]
    assert sale["side"] == "sell" and sale["qty"] == pytest.approx(spy_qty, rel=1e-12)   # exactly what it held
    assert set(held(wh, "tlt-daily", "2024-06-18")) == {"TLT", "$USD"}                    # the other one trades
    stored = controls.controls(wh, ALL_ACCOUNTS, symphony_id="spy-weekly").iloc[0]
    assert stored["started_session"] == D("2024-06-18") and stored["status"] == "open"
    for s in ("2024-06-20", "2024-06-21"):   # 06-19 is Juneteenth: no session
        assert run(warehouse_url, s).success
        assert held(wh, "spy-weekly", s) == day2   # holds cash until the next scheduled (weekly) rebalance
        assert wh.read("order_intents", where={"session_date": D(s), "symphony_id": "spy-weekly"}).empty
    assert run(warehouse_url, "2024-06-24").success
    monday = held(wh, "spy-weekly", "2024-06-24")
    assert monday["SPY"] > 18 and monday["$USD"] < 5
    done = controls.controls(wh, ALL_ACCOUNTS, symphony_id="spy-weekly", status=None).iloc[0]
    assert done["control_id"] == row["control_id"] and done["status"] == "consumed"
    assert done["consumed_session"] == D("2024-06-24")
    # re-running the consumption session repeats its decision (trade), and the liquidation session liquidates again
    before = wh.read("positions", where={"session_date": D("2024-06-24")})
    assert run(warehouse_url, "2024-06-24").success
    pd.testing.assert_frame_equal(wh.read("positions", where={"session_date": D("2024-06-24")}), before)
    events = audit.read(wh, AccountScope.only("acct"), actions=["live_control_set"])
    assert list(events["actor"]) == ["root"] and list(events["target"]) == ["spy-weekly"]
    assert events["detail"].iloc[0] == "cash_until_rebalance from session 2024-06-18: earnings week"


@pytest.mark.slow
def test_skip_next_rebalance_keeps_the_holdings_once(wh, warehouse_url, tmp_path):
    """Daily 50/50 SPY/TLT: the 06-21 rebalance is skipped (holdings unchanged), 06-24 rebalances again."""
    sym = write(tmp_path, "spy-tlt", '(weight-equal [(asset "SPY") (asset "TLT")])')
    seed_symphonies(wh, [sym], "acct")
    assert run(warehouse_url, "2024-06-20").success
    controls.set_control(wh, symphony_id="spy-tlt", control="skip_next_rebalance",
                         effective_session=D("2024-06-21"), **as_operator())
    assert run(warehouse_url, "2024-06-21").success
    before, after = held(wh, "spy-tlt", "2024-06-20"), held(wh, "spy-tlt", "2024-06-21")
    assert after == before   # shares and cash untouched
    assert wh.read("order_intents", where={"session_date": D("2024-06-21")}).empty
    stored = controls.controls(wh, ALL_ACCOUNTS, symphony_id="spy-tlt", status=None).iloc[0]
    assert stored["status"] == "consumed" and stored["consumed_session"] == D("2024-06-21")
    assert run(warehouse_url, "2024-06-24").success
    intents = wh.read("order_intents", where={"session_date": D("2024-06-24")})
    assert len(intents) == 2 and set(intents["ticker"]) == {"SPY", "TLT"}   # the daily drift rebalance is back


@pytest.mark.slow
def test_preview_is_what_the_run_sends(wh, warehouse_url, tmp_path):
    """The preview (netted orders, nothing written) equals the orders the run then plans and sends."""
    a = write(tmp_path, "all-spy", '(weight-equal [(asset "SPY")])')
    b = write(tmp_path, "spy-tlt", '(weight-equal [(asset "SPY") (asset "TLT")])')
    seed_symphonies(wh, [a, b], "acct")
    assert run(warehouse_url, "2024-06-20").success
    controls.set_control(wh, symphony_id="all-spy", control="cash_until_rebalance",
                         effective_session=D("2024-06-21"), **as_operator())
    early = controls.preview(wh, AccountScope.only("acct"), "acct", D("2024-06-21"))
    assert early.prices_as_of == D("2024-06-20")   # the session's bars are not there yet: says which prices
    assert run(warehouse_url, "2024-06-21", assets=[daily_bars]).success
    counts = wh.row_counts(ALL_ACCOUNTS)
    pv = controls.preview(wh, AccountScope.only("acct"), "acct", D("2024-06-21"))
    assert wh.row_counts(ALL_ACCOUNTS) == counts   # nothing written
    assert controls.controls(wh, ALL_ACCOUNTS, symphony_id="all-spy").iloc[0]["started_session"] is None
    assert pv.prices_as_of == D("2024-06-21") and pv.refused is None
    decisions = dict(zip(pv.symphonies["symphony_id"], pv.symphonies["decision"]))
    assert decisions["all-spy"].startswith("to cash — cash_until_rebalance set by root")
    assert set(pv.orders["ticker"]) >= {"SPY"}
    spy = pv.orders[pv.orders["ticker"] == "SPY"].iloc[0]
    assert spy["side"] == "sell" and spy["symphonies"] == "all-spy, spy-tlt"   # netted inside the account
    assert run(warehouse_url, "2024-06-21").success
    sent = wh.read("orders", where={"session_date": D("2024-06-21")}).sort_values("ticker")
    got = pv.orders.sort_values("ticker")
    assert list(sent["ticker"]) == list(got["ticker"]) and list(sent["side"]) == list(got["side"])
    for col in ("qty", "notional_usd", "ref_price"):
        assert sent[col].fillna(-1).tolist() == pytest.approx(got[col].fillna(-1).tolist(), abs=1e-9)
    only_b = controls.preview(wh, AccountScope.only("acct"), "acct", D("2024-06-24"), symphony_id="spy-tlt")
    assert list(only_b.symphonies["symphony_id"]) == ["spy-tlt"]
    with pytest.raises(PermissionError, match="not in your scope"):
        controls.preview(wh, AccountScope.only("other"), "acct", D("2024-06-21"))
    with pytest.raises(ValueError, match="not an NYSE session"):
        controls.preview(wh, AccountScope.only("acct"), "acct", D("2024-06-22"))


@pytest.mark.slow
def test_a_session_whose_previous_session_is_incomplete_refuses(wh, warehouse_url, tmp_path):
    """acct-1's 06-20 stopped after the allocations: its 06-21 plans nothing, says why, and writes no ledger;
    acct-2 (new, no history) trades 06-21. Once 06-20 is finished, 06-21 trades and starts from 06-20's ledger."""
    seed_symphonies(wh, [write(tmp_path, "spy-1", '(weight-equal [(asset "SPY")])')], "acct-1")
    assert run(warehouse_url, "2024-06-20", assets=[daily_bars, indicator_values, target_allocations]).success
    seed_symphonies(wh, [write(tmp_path, "tlt-2", '(weight-equal [(asset "TLT")])')], "acct-2")
    result = run(warehouse_url, "2024-06-21", checks=True)
    check = next(c for c in result.get_asset_check_evaluations() if c.check_name == "previous_session_complete")
    assert check.passed is False
    runs = wh.read("symphony_runs", where={"session_date": D("2024-06-21")}).set_index("symphony_id")
    assert runs.loc["spy-1", "status"] == "skipped"
    assert runs.loc["spy-1", "reason"] == (
        "previous session 2024-06-20 is not complete (spy-1 evaluated (ok) on 2024-06-20 but has no end-of-session "
        "ledger): run or finish 2024-06-20 first, then re-run 2024-06-21 (sessions trade in date order)")
    assert check.metadata["reasons"].value == f"acct-1: {runs.loc['spy-1', 'reason']}"
    orders = wh.read("orders", where={"session_date": D("2024-06-21")})
    assert set(orders["account_id"]) == {"acct-2"}                     # the new account's first session trades
    assert held(wh, "spy-1", "2024-06-21") == {}                        # no ledger, no NAV for the refused one
    assert wh.read("daily_nav", where={"symphony_id": "spy-1"}).empty
    # the refusal chains: 06-24 is refused too, until 06-21 is complete
    assert run(warehouse_url, "2024-06-24").success
    reason = wh.read("symphony_runs", where={"session_date": D("2024-06-24"), "symphony_id": "spy-1"})["reason"]
    assert reason.iloc[0].startswith("previous session 2024-06-21 is not complete (spy-1 refused on 2024-06-21")
    # finish 06-20, re-run 06-21: it trades, from 06-20's ledger
    assert run(warehouse_url, "2024-06-20").success
    result = run(warehouse_url, "2024-06-21", checks=True)
    assert next(c for c in result.get_asset_check_evaluations()
                if c.check_name == "previous_session_complete").passed
    nav = wh.read("daily_nav", where={"symphony_id": "spy-1"}).sort_values("session_date")
    assert list(nav["session_date"]) == [D("2024-06-20"), D("2024-06-21")]
    assert nav["daily_return"].iloc[1] == pytest.approx(nav["nav_usd"].iloc[1] / nav["nav_usd"].iloc[0] - 1)
    assert held(wh, "spy-1", "2024-06-21")["SPY"] == pytest.approx(held(wh, "spy-1", "2024-06-20")["SPY"],
                                                                  rel=2e-3)


@pytest.mark.slow
def test_an_earlier_session_still_running_fails_the_run(wh, warehouse_url, tmp_path):
    """Launched out of order (06-20 still running), daily_trading for 06-21 fails before planning, naming it."""
    seed_symphonies(wh, [write(tmp_path, "spy-1", '(weight-equal [(asset "SPY")])')], "acct-1")
    job = build_definitions(warehouse_url=warehouse_url).resolve_job_def("daily_trading")
    instance = dg.DagsterInstance.ephemeral()
    queued = instance.create_run_for_job(job, status=dg.DagsterRunStatus.STARTED,
                                         tags={"dagster/partition": "2024-06-20"})
    result = job.execute_in_process(partition_key="2024-06-21", instance=instance, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.step_key == "order_plan"
    text = failure.event_specific_data.error_display_string
    assert (f"session 2024-06-21 refuses to trade: earlier session(s) not finished: 2024-06-20 (run "
            f"{queued.run_id[:8]}, STARTED)") in text
    assert wh.read("orders").empty and wh.read("positions").empty


def test_permissions_and_one_open_control(wh, tmp_path):
    seed_symphonies(wh, [write(tmp_path, "spy-1", '(weight-equal [(asset "SPY")])')], "acct-1")
    with pytest.raises(controls.ControlPermissionError, match="analyst of account 'acct-2' may not change"):
        controls.set_control(wh, symphony_id="spy-1", control="skip_next_rebalance", actor="bob", role="analyst",
                             user_account="acct-2", origin="dashboard", effective_session=D("2024-06-21"))
    with pytest.raises(controls.ControlPermissionError, match="role 'viewer'"):
        controls.set_control(wh, symphony_id="spy-1", control="skip_next_rebalance", actor="x", role="viewer",
                             user_account=None, origin="cli", effective_session=D("2024-06-21"))
    with pytest.raises(LookupError, match="no symphony 'nope'"):
        controls.set_control(wh, symphony_id="nope", control="skip_next_rebalance", **as_operator())
    with pytest.raises(ValueError, match="2024-06-22 is not an NYSE session"):
        controls.set_control(wh, symphony_id="spy-1", control="skip_next_rebalance",
                             effective_session=D("2024-06-22"), **as_operator())
    first = controls.set_control(wh, symphony_id="spy-1", control="skip_next_rebalance", actor="alice",
                                 role="analyst", user_account="acct-1", origin="dashboard",
                                 effective_session=D("2024-06-21"))
    again = controls.set_control(wh, symphony_id="spy-1", control="skip_next_rebalance", **as_operator())
    assert again["control_id"] == first["control_id"] and again["set_by"] == "alice"   # idempotent
    with pytest.raises(ValueError, match="already has skip_next_rebalance open \\(set by alice"):
        controls.set_control(wh, symphony_id="spy-1", control="cash_until_rebalance", **as_operator())
    cleared = controls.clear_control(wh, symphony_id="spy-1", **as_operator())
    assert cleared["cleared_by"] == "root"
    assert controls.clear_control(wh, symphony_id="spy-1", **as_operator()) is None    # nothing open: no-op
    rows = controls.controls(wh, AccountScope.only("acct-1"), status=None)
    assert list(rows["status"]) == ["cleared"] and rows["cleared_at"].notna().all()
    assert controls.controls(wh, AccountScope.only("acct-2"), status=None).empty        # scoped
    events = audit.read(wh, AccountScope.only("acct-1"))
    assert sorted(zip(events["action"], events["actor"], events["origin"])) == [
        ("live_control_cleared", "root", "cli"), ("live_control_set", "alice", "dashboard")]


def test_next_trading_session():
    ny = "America/New_York"
    assert controls.next_trading_session(pd.Timestamp("2024-06-21 10:00", tz=ny)) == D("2024-06-21")
    assert controls.next_trading_session(pd.Timestamp("2024-06-21 15:55", tz=ny)) == D("2024-06-24")
    assert controls.next_trading_session(pd.Timestamp("2024-06-18 17:00", tz=ny)) == D("2024-06-20")  # Juneteenth
    assert controls.next_trading_session(pd.Timestamp("2024-07-03 12:55", tz=ny)) == D("2024-07-05")  # early close


def test_scheduled_rebalance_rules():
    f = controls.scheduled_rebalance
    assert f("daily", D("2024-06-21"), D("2024-06-20"), {}, None)
    assert not f("weekly", D("2024-06-21"), D("2024-06-20"), {}, None)
    assert f("weekly", D("2024-06-24"), D("2024-06-21"), {}, None)
    assert f("monthly", D("2024-07-01"), D("2024-06-28"), {}, None)
    assert not f("none", D("2024-06-21"), D("2024-06-20"), {"SPY": 1.0}, {"SPY": 1.0})
    assert f("none", D("2024-06-21"), D("2024-06-20"), {"TLT": 1.0}, {"SPY": 1.0})   # branch switch
    assert not f("none", D("2024-06-21"), D("2024-06-20"), {"TLT": 1.0}, None)
