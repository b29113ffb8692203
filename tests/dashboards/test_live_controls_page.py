"""Live controls on the Symphony detail page, through the router after signing in (issue 10 item 7)."""
from __future__ import annotations

import pytest

from dashboards import auth
from engine.evaluate import evaluate
from engine.model import tickers
from engine.parsing import load_symphony
from tests.dashboards.door import ROOT, add_users, frames, open_page, sign_in, texts
from warehouse import AccountScope, Warehouse
from warehouse.bundled import load_adjusted_closes
from warehouse.repos import audit, controls
from warehouse.repos import symphonies as symphony_repo

PAGE = "app_pages/symphony_detail.py"
SURF = ROOT / "symphonies" / "sector_surfing_rsi_bottom2.clj"


@pytest.fixture
def page_db(seeded_duckdb, use_duckdb, monkeypatch):
    """The seeded warehouse plus Sector Surfing in acct-a and 80 sessions of its bundled closes."""
    use_duckdb(seeded_duckdb)
    monkeypatch.setenv(auth.ENV_AUTH, "on")
    root = load_symphony(SURF)
    closes = load_adjusted_closes(sorted(tickers(root) | {"SPY"})).iloc[-80:]
    long = closes.stack().rename("adj_close").reset_index()
    long.columns = ["session_date", "ticker", "adj_close"]
    long["session_date"] = long["session_date"].dt.date
    with Warehouse(f"duckdb:///{seeded_duckdb}") as wh:
        symphony_repo.register(wh, "acct-a", symphony_id="surf-a", name=root.name, source_format="defsymphony",
                               source_text=SURF.read_text(), parsed_json=root.model_dump_json(),
                               rebalance=root.rebalance)
        wh.replace("daily_bars", long.assign(source="bundled"),
                   where={"session_date": sorted(set(long["session_date"]))})
        add_users(wh, ("alice", "bob", "root"))
    want = evaluate(root, closes).weights_on(closes.index[-1])
    return seeded_duckdb, want, closes.index[-1].date()


def _choose(at, sid: str):
    at.selectbox(key="detail_symphony").set_value(sid)
    return at.run()


def test_analyst_sets_previews_and_clears_a_control(page_db):
    path, want, last = page_db
    at = _choose(open_page(sign_in("alice"), PAGE), "surf-a")
    assert not at.exception
    assert "No live control on this symphony" in texts(at)
    at.button(key="ctl_cash_until_rebalance").click().run()
    assert not at.exception
    assert any(s.value.startswith("Go to cash until the next rebalance: set from session") for s in at.success)
    info = [i.value for i in at.info]
    assert any(v.startswith("**Go to cash until the next rebalance** from session") and "set by `alice` (analyst)"
               in v for v in info)
    assert at.button(key="ctl_skip_next_rebalance").disabled   # one open control at a time
    with Warehouse(f"duckdb:///{path}", read_only=True) as wh:
        stored = controls.controls(wh, AccountScope.only("acct-a"), symphony_id="surf-a")
        events = audit.read(wh, AccountScope.only("acct-a"), actions=["live_control_set"])
    assert list(stored["set_by"]) == ["alice"] and list(stored["origin"]) == ["dashboard"]
    assert list(events["actor"]) == ["alice"] and list(events["origin"]) == ["dashboard"]

    at.button(key="ctl_preview").click().run()
    assert not at.exception
    assert f"prices as of {last}" in texts(at)
    # never traded: the control's first session "liquidates" a ledger that holds only cash — no order at all,
    # and the decision says why
    assert frames(at, "side") == [] and "No order: nothing to trade for this symphony" in texts(at)
    [syms] = frames(at, "decision")
    assert syms["decision"].iloc[0].startswith("to cash — cash_until_rebalance set by alice")

    at.button(key="ctl_clear").click().run()
    assert any(s.value == "Control cleared." for s in at.success)
    at.button(key="ctl_preview").click().run()
    [orders] = frames(at, "side")
    # without the control the first trade buys the two lowest-RSI ETFs, 5,000 USD each (cash 10,000, floored)
    assert sorted(orders["ticker"]) == sorted(want) and set(orders["side"]) == {"buy"}
    assert orders["notional_usd"].tolist() == pytest.approx([10_000 * w for w in
                                                             [want[t] for t in orders["ticker"]]], abs=0.01)
    assert set(orders["symphonies"]) == {"surf-a"}
    with Warehouse(f"duckdb:///{path}", read_only=True) as wh:
        assert wh.read("orders").empty   # the preview sent nothing and wrote nothing
        hist = controls.controls(wh, AccountScope.only("acct-a"), symphony_id="surf-a", status=None)
    assert list(hist["status"]) == ["cleared"] and list(hist["cleared_by"]) == ["alice"]


def test_operator_may_act_on_any_account(page_db):
    path, _, _ = page_db
    at = _choose(open_page(sign_in("root"), PAGE), "surf-a")
    at.button(key="ctl_skip_next_rebalance").click().run()
    assert not at.exception
    with Warehouse(f"duckdb:///{path}", read_only=True) as wh:
        stored = controls.controls(wh, AccountScope.all(), symphony_id="surf-a").iloc[0]
    assert (stored["control"], stored["set_by"], stored["set_role"]) == ("skip_next_rebalance", "root", "operator")


def test_other_analyst_cannot_reach_the_symphony(page_db):
    at = open_page(sign_in("bob"), PAGE)
    assert not at.exception
    options = at.selectbox(key="detail_symphony").options
    assert "surf-a" not in " ".join(map(str, options))   # acct-a's symphony is not even offered to bob


def test_action_refuses_outside_scope(page_db):
    from dashboards import actions

    path, _, _ = page_db
    bob = auth.User("bob", "analyst", "acct-b")
    with pytest.raises(LookupError, match="not in your scope"):
        actions.set_live_control(f"duckdb:///{path}", AccountScope.only("acct-b"), bob, "surf-a",
                                 "cash_until_rebalance")
    with pytest.raises(controls.ControlPermissionError):
        actions.set_live_control(f"duckdb:///{path}", AccountScope.only("acct-a"), bob, "surf-a",
                                 "cash_until_rebalance")
