"""Account settings through the door a user uses (the router, the sign-in form): connect Alpaca paper by pasting
keys (validated first) and by OAuth (the redirect comes back in a new browser session), see the status,
disconnect; a forged OAuth state is refused; an analyst only ever sees and changes their own account."""
from __future__ import annotations

import pandas as pd
import pytest

from tests.dashboards.door import add_users, open_page, sign_in, texts
from tests.fakes.alpaca_server import FakeAlpacaServer
from tests.orchestration.credentials_helpers import follow_authorize, key_text, oauth_env
from warehouse import AccountScope, Warehouse
from warehouse.repos import credentials as repo

PAGE = "app_pages/account_settings.py"
KEY_ID, SECRET, TOKEN = "PKPAGETEST7777", "sk-pagetest-0a1b2c3d", "oauth-token-pagetest-2718"
MASTER = key_text(b"P4")


@pytest.fixture
def world(tmp_path, monkeypatch, use_duckdb):
    monkeypatch.setenv("ORAGAMI_DASHBOARD_AUTH", "on")
    monkeypatch.setenv("ORAGAMI_MASTER_KEY", MASTER)
    path = use_duckdb(tmp_path / "w.duckdb")
    with Warehouse(f"duckdb:///{path}") as wh:
        wh.create_schema()
        wh.upsert("accounts", pd.DataFrame([{"account_id": a, "name": n} for a, n in
                                            (("acct-a", "Alice"), ("acct-b", "Bob"), ("acct-nobody", "Nobody"))]),
                  ["account_id"])
        add_users(wh, ("alice", "bob", "root"))
    with FakeAlpacaServer(api_key=KEY_ID, secret_key=SECRET, oauth_token=TOKEN,
                          oauth_client_id="oragami-test-client",
                          oauth_client_secret="client-secret-LEAKCHECK-5b7e") as fake:
        monkeypatch.setenv("ORAGAMI_ALPACA_URL", fake.url)
        oauth_env(monkeypatch, fake)
        yield f"duckdb:///{path}", fake


def _stored(url: str) -> pd.DataFrame:
    with Warehouse(url) as wh:
        return repo.status(wh, AccountScope.all())


def _submit_keys(at, key_id: str, secret: str):
    at.text_input(key="cred_key_id").set_value(key_id)
    at.text_input(key="cred_secret").set_value(secret)
    next(b for b in at.button if b.label == "Validate and save").click()
    return at.run()


def test_analyst_pastes_keys_validated_then_stored_then_disconnects(world):
    url, fake = world
    at = open_page(sign_in("alice"), PAGE)
    assert not at.exception
    assert "Account acct-a is not connected" in texts(at)
    at = _submit_keys(at, KEY_ID, "wrong-secret-value")
    assert "Not saved: the paper endpoint refused these credentials (HTTP 401)" in texts(at)
    assert _stored(url).empty
    at = _submit_keys(at, KEY_ID, SECRET)
    shown = texts(at)
    assert "Keys accepted by the paper endpoint (Alpaca account PA0FAKE00001) and saved encrypted." in shown
    assert "Connected with paper API keys, key …7777 — Alpaca account PA0FAKE00001." in shown
    assert "Connected by alice on" in shown and "last verified" in shown
    assert SECRET not in shown and KEY_ID not in shown
    assert at.text_input(key="cred_secret").value == ""             # the form was cleared on submit
    row = _stored(url).iloc[0]
    assert (row["account_id"], row["kind"], row["connected_by"]) == ("acct-a", "api_key", "alice")
    next(b for b in at.button if b.label == "Disconnect").click()
    at = at.run()
    assert "Account acct-a disconnected: its stored credential was deleted." in texts(at)
    assert _stored(url).empty


def test_oauth_redirect_in_a_new_session_connects_and_forged_state_is_refused(world):
    url, fake = world
    at = open_page(sign_in("alice"), PAGE)
    next(b for b in at.button if b.label == "Start OAuth connection").click()
    at = at.run()
    links = at.get("link_button")
    assert len(links) == 1
    authorize = links[0].proto.url
    assert authorize.startswith(f"{fake.url}/oauth/authorize?") and "code_challenge_method=S256" in authorize
    back = follow_authorize(authorize)

    # a forged state, in a new session: refused, nothing stored, the code is never exchanged
    forged = sign_in("alice")
    forged.query_params["code"] = back["code"]
    forged.query_params["state"] = "forged-state"
    forged = open_page(forged, PAGE)
    assert "Alpaca connection refused: the OAuth state does not match any pending request" in texts(forged)
    assert _stored(url).empty and fake.count("POST", "/oauth/token") == 0

    # bob cannot finish alice's flow
    other = sign_in("bob")
    other.query_params.update(back)
    other = open_page(other, PAGE)
    assert "started by another user" in texts(other) and _stored(url).empty

    # the state was used up by bob's attempt (one use): alice starts again and comes back in a new session
    at = open_page(sign_in("alice"), PAGE)
    next(b for b in at.button if b.label == "Start OAuth connection").click()
    back = follow_authorize(at.run().get("link_button")[0].proto.url)
    returned = sign_in("alice")
    returned.query_params.update(back)
    returned = open_page(returned, PAGE)
    shown = texts(returned)
    assert "Account acct-a is connected to Alpaca paper with OAuth." in shown
    assert "Connected with OAuth (Alpaca Connect) — Alpaca account PA0FAKE00001." in shown
    assert TOKEN not in shown and back["code"] not in shown
    row = _stored(url).iloc[0]
    assert (row["account_id"], row["kind"], row["connected_by"]) == ("acct-a", "oauth", "alice")


def test_analyst_sees_only_their_account_and_operator_must_pick_one(world):
    url, fake = world
    with Warehouse(url) as wh:
        from dashboards.reads import credentials as creds
        creds.connect_api_key(wh, AccountScope.all(), "acct-a", KEY_ID, SECRET, actor="root", role="operator")
    bob = open_page(sign_in("bob"), PAGE)
    shown = texts(bob)
    assert "Account acct-b is not connected" in shown and "acct-a" not in shown and "…7777" not in shown
    root = open_page(sign_in("root"), PAGE)
    assert "Pick one account in the sidebar" in texts(root)
    root.selectbox(key="account_pick").set_value("acct-a")
    root = root.run()
    assert "Connected with paper API keys, key …7777" in texts(root)


def test_no_master_key_is_a_clear_message_not_a_crash(world, monkeypatch):
    monkeypatch.delenv("ORAGAMI_MASTER_KEY")
    at = _submit_keys(open_page(sign_in("alice"), PAGE), KEY_ID, SECRET)
    assert not at.exception
    assert "Not saved: cannot store credentials: ORAGAMI_MASTER_KEY is not set" in texts(at)
    assert fake_requests(world[1]) == 0


def fake_requests(fake: FakeAlpacaServer) -> int:
    return len(fake.requests)


def test_page_without_the_router_shows_nothing(world):
    from streamlit.testing.v1 import AppTest

    from tests.dashboards.door import ROOT

    at = AppTest.from_file(str(ROOT / "dashboards" / PAGE), default_timeout=30).run()
    assert "and sign in." in texts(at) and not at.get("link_button") and not at.text_input
