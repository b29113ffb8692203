"""Broker credentials (issue 11, items 3 and 4): encrypted at rest, connected by pasted keys or OAuth against the
fake Alpaca paper server, used by the daily run, re-encrypted by ``oragami credentials rotate-key``."""
from __future__ import annotations

import base64
import datetime as dt
import io
import json
from pathlib import Path

import pandas as pd
import pytest
import requests

from dashboards.reads import credentials as creds
from orchestration.cli import main
from resources.credentials import CredentialError, open_sealed, rotate_master_key, stored_credential
from tests.fakes.alpaca_server import FakeAlpacaServer
from tests.orchestration.credentials_helpers import (D1, D2, follow_authorize, key_text, oauth_env, prices,
                                                     run_daily, seeded)
from warehouse import AccountScope, Warehouse
from warehouse.repos import credentials as repo

KEY_ID, SECRET = "PKCREDTEST0042", "sk-credtest-9f8e7d6c5b4a"
TOKEN = "oauth-token-credtest-31415926"
MASTER, OTHER = key_text(b"M1"), key_text(b"Z9")
ALL = AccountScope.all()


@pytest.fixture
def master(monkeypatch):
    for name in ("ALPACA_API_KEY", "ALPACA_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ORAGAMI_MASTER_KEY", MASTER)
    return repo.parse_master_key(MASTER)


@pytest.fixture
def fake(monkeypatch):
    with FakeAlpacaServer(api_key=KEY_ID, secret_key=SECRET, oauth_token=TOKEN, prices=prices(D1),
                          oauth_client_id="oragami-test-client",
                          oauth_client_secret="client-secret-LEAKCHECK-5b7e") as server:
        monkeypatch.setenv("ORAGAMI_ALPACA_URL", server.url)
        monkeypatch.setenv("ALPACA_URL_ACCT", server.url)
        oauth_env(monkeypatch, server)
        yield server


# ----------------------------------------------------------------------------------------- master key, envelope
def test_master_key_errors_name_the_variable_never_the_value():
    with pytest.raises(repo.MasterKeyError, match="ORAGAMI_MASTER_KEY is not set"):
        repo.parse_master_key(None)
    with pytest.raises(repo.MasterKeyError, match="not valid base64") as bad:
        repo.parse_master_key("not*base64*at*all!!")
    assert "not*base64" not in str(bad.value)
    short = base64.b64encode(b"x" * 16).decode()
    with pytest.raises(repo.MasterKeyError, match="exactly 32 bytes, got 16") as err:
        repo.parse_master_key(short, "MY_KEY")
    assert short not in str(err.value) and "MY_KEY" in str(err.value)
    k = repo.parse_master_key(MASTER)
    assert repo.parse_master_key(MASTER.rstrip("=").replace("+", "-").replace("/", "_")).version == k.version
    assert MASTER not in repr(k) and k.version.startswith("k1-") and len(k.version) == 15
    assert len(base64.b64decode(repo.new_master_key_text())) == 32
    assert repo.new_master_key_text() != repo.new_master_key_text()


def test_seal_is_aes_gcm_with_fresh_nonce_bound_to_account_and_kind():
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    k = repo.parse_master_key(MASTER)
    a = repo.seal(k, "acct", "api_key", {"key_id": KEY_ID, "secret_key": SECRET})
    b = repo.seal(k, "acct", "api_key", {"key_id": KEY_ID, "secret_key": SECRET})
    assert a.nonce != b.nonce and a.ciphertext != b.ciphertext and len(base64.b64decode(a.nonce)) == 12
    raw = base64.b64decode(a.ciphertext)
    assert SECRET.encode() not in raw and KEY_ID.encode() not in raw
    # decrypting by hand with the documented parameters gives the JSON back (AES-256-GCM, AAD = account + kind)
    plain = AESGCM((b"M1" * 16)).decrypt(base64.b64decode(a.nonce), raw, repo.associated_data("acct", "api_key"))
    assert json.loads(plain) == {"key_id": KEY_ID, "secret_key": SECRET}
    row = {"account_id": "acct", "kind": "api_key", "key_id_hint": "…0042", "ciphertext": a.ciphertext,
           "nonce": a.nonce, "key_version": a.key_version}
    cred = open_sealed(k, row)
    assert (cred.key_id, cred.secret_key, cred.oauth_token) == (KEY_ID, SECRET, None)
    assert SECRET not in repr(cred) and KEY_ID not in repr(cred)
    # the same ciphertext moved to another account, or relabelled as a token, fails authentication
    for moved in ({**row, "account_id": "other"}, {**row, "kind": "oauth"}):
        with pytest.raises(CredentialError, match="failed authentication") as err:
            open_sealed(k, moved)
        assert a.ciphertext not in str(err.value) and err.value.__cause__ is None and err.value.__context__ is None
    flipped = bytearray(raw)
    flipped[0] ^= 1
    with pytest.raises(CredentialError, match="failed authentication"):
        open_sealed(k, {**row, "ciphertext": base64.b64encode(bytes(flipped)).decode()})


def test_wrong_master_key_fails_clearly_naming_the_account(tmp_path, master, fake):
    url, wh = seeded(tmp_path)
    creds.connect_api_key(wh, ALL, "acct", KEY_ID, SECRET, actor="root", role="operator")
    row = repo.sealed_rows(wh, ALL).iloc[0]
    other = repo.parse_master_key(OTHER)
    with pytest.raises(CredentialError) as err:
        stored_credential(wh, "acct", other)
    text = str(err.value)
    assert err.value.account_id == "acct" and "'acct'" in text
    assert f"encrypted under master key {master.version}" in text and f"master key given is {other.version}" in text
    assert row["ciphertext"] not in text and row["nonce"] not in text and OTHER not in text and MASTER not in text
    # no master key in the environment: clear too
    import os
    del os.environ["ORAGAMI_MASTER_KEY"]
    with pytest.raises(CredentialError, match="has a stored broker credential but ORAGAMI_MASTER_KEY is not set"):
        stored_credential(wh, "acct")
    wh.dispose()


# ----------------------------------------------------------------------------------------- pasted keys
def test_pasted_keys_are_validated_before_they_are_saved_and_stored_as_ciphertext(tmp_path, master, fake):
    url, wh = seeded(tmp_path)
    with pytest.raises(creds.ConnectError, match=r"refused these credentials \(HTTP 401\)") as err:
        creds.connect_api_key(wh, ALL, "acct", KEY_ID, "not-the-secret", actor="root", role="operator")
    assert "not-the-secret" not in str(err.value)
    assert repo.sealed_rows(wh, ALL).empty                       # refused keys are not stored
    assert fake.count("GET", "/v2/account") == 1

    number = creds.connect_api_key(wh, ALL, "acct", f"  {KEY_ID} ", SECRET, actor="root", role="operator")
    assert number == "PA0FAKE00001"
    raw = wh.read("broker_credentials")
    assert len(raw) == 1
    r = raw.iloc[0]
    assert (r["kind"], r["key_id_hint"], r["status"], r["connected_by"], r["key_version"]) == \
        ("api_key", "…0042", "connected", "root", master.version)
    stored = " ".join(str(v) for v in r.to_dict().values())
    assert SECRET not in stored and KEY_ID not in stored and MASTER not in stored
    assert SECRET.encode() not in base64.b64decode(r["ciphertext"])
    wh.dispose()
    blob = Path(url.removeprefix("duckdb:///")).read_bytes()
    assert SECRET.encode() not in blob and KEY_ID.encode() not in blob and MASTER.encode() not in blob
    wh = Warehouse(url)
    cred = stored_credential(wh, "acct")
    assert (cred.kind, cred.key_id, cred.secret_key) == ("api_key", KEY_ID, SECRET)
    events = wh.read("audit_log")
    assert list(events["action"]) == ["broker_connected"]
    assert events.iloc[0]["detail"] == "paper API keys …0042 (Alpaca account PA0FAKE00001)"
    # scope: an analyst of another account cannot connect this one
    with pytest.raises(PermissionError, match="not in your scope"):
        creds.connect_api_key(wh, AccountScope.only("other"), "acct", KEY_ID, SECRET, actor="bob", role="analyst")
    assert creds.disconnect(wh, ALL, "acct", actor="root", role="operator") is True
    assert repo.sealed_rows(wh, ALL).empty and list(wh.read("audit_log")["action"]).count("broker_disconnected") == 1
    wh.dispose()


def test_non_paper_endpoints_are_refused_before_any_request(monkeypatch, tmp_path, master):
    _, wh = seeded(tmp_path)
    monkeypatch.setenv("ORAGAMI_ALPACA_URL", "https://api.alpaca.markets")     # the LIVE endpoint
    with pytest.raises(creds.ConnectError, match="refusing endpoint 'https://api.alpaca.markets'"):
        creds.connect_api_key(wh, ALL, "acct", KEY_ID, SECRET, actor="root", role="operator")
    monkeypatch.setenv("ORAGAMI_ALPACA_OAUTH_CLIENT_ID", "c")
    monkeypatch.setenv("ORAGAMI_ALPACA_OAUTH_CLIENT_SECRET", "s")
    monkeypatch.setenv("ORAGAMI_APP_URL", "http://127.0.0.1:8501")
    monkeypatch.setenv("ORAGAMI_ALPACA_OAUTH_TOKEN_URL", "https://evil.example/oauth/token")
    with pytest.raises(creds.ConnectError, match="refusing endpoint 'https://evil.example/oauth/token'"):
        creds.OAuthSettings.from_env()
    monkeypatch.delenv("ORAGAMI_ALPACA_OAUTH_TOKEN_URL")
    s = creds.OAuthSettings.from_env()
    assert (s.authorize_url, s.token_url, s.redirect_uri) == (
        "https://app.alpaca.markets/oauth/authorize", "https://api.alpaca.markets/oauth/token",
        "http://127.0.0.1:8501/settings")
    assert "'s'" not in repr(s)
    wh.dispose()


# ----------------------------------------------------------------------------------------- OAuth
def test_oauth_code_flow_with_state_and_pkce(tmp_path, master, fake):
    _, wh = seeded(tmp_path)
    url = creds.begin_oauth(wh, ALL, "acct", "root")
    query = dict(p.split("=", 1) for p in url.split("?", 1)[1].split("&"))
    assert url.startswith(f"{fake.url}/oauth/authorize?")
    assert query["scope"] == "account%3Awrite+trading" and query["code_challenge_method"] == "S256"
    assert query["redirect_uri"] == "http%3A%2F%2F127.0.0.1%3A8501%2Fsettings"
    pending = wh.read("oauth_pending")
    assert len(pending) == 1 and pending.iloc[0]["state_hash"] != query["state"]     # the state is not stored
    assert pending.iloc[0]["expires_at"] - pending.iloc[0]["created_at"] == pd.Timedelta(minutes=10)
    back = follow_authorize(url)
    assert back["state"] == query["state"] and back["code"]

    # a forged state (CSRF) is rejected, and the code is not exchanged
    with pytest.raises(creds.ConnectError, match="state does not match any pending request"):
        creds.finish_oauth(wh, ALL, "root", "operator", code=back["code"], state="forged-" + back["state"])
    assert fake.count("POST", "/oauth/token") == 0 and repo.sealed_rows(wh, ALL).empty

    account = creds.finish_oauth(wh, ALL, "root", "operator", code=back["code"], state=back["state"])
    assert account == "acct" and fake.count("POST", "/oauth/token") == 1 and fake.issued_tokens == 1
    row = repo.sealed_rows(wh, ALL).iloc[0]
    assert (row["kind"], row["key_id_hint"], row["broker_account"], row["connected_by"]) == \
        ("oauth", "oauth", "PA0FAKE00001", "root")
    assert TOKEN not in " ".join(map(str, row.to_dict().values()))
    cred = stored_credential(wh, "acct")
    assert (cred.kind, cred.oauth_token, cred.key_id) == ("oauth", TOKEN, None)
    # the same redirect replayed: the state was used once
    with pytest.raises(creds.ConnectError, match="already used or forged"):
        creds.finish_oauth(wh, ALL, "root", "operator", code=back["code"], state=back["state"])
    # the fake logged the exchange without the client secret, verifier or code
    logged = [r for r in fake.requests if r.path == "/oauth/token"][0].body
    assert logged["client_secret"] == logged["code_verifier"] == logged["code"] == "***"
    wh.dispose()


def test_oauth_refusals_other_user_denied_and_pkce_mismatch(tmp_path, master, fake, monkeypatch):
    _, wh = seeded(tmp_path)
    # another user cannot finish a flow someone else started
    back = follow_authorize(creds.begin_oauth(wh, ALL, "acct", "root"))
    with pytest.raises(creds.ConnectError, match="started by another user"):
        creds.finish_oauth(wh, ALL, "mallory", "operator", code=back["code"], state=back["state"])
    # the user refused on Alpaca's page
    fake.oauth_deny = True
    back = follow_authorize(creds.begin_oauth(wh, ALL, "acct", "root"))
    assert back["error"] == "access_denied" and "code" not in back
    with pytest.raises(creds.ConnectError, match="did not authorize the connection"):
        creds.finish_oauth(wh, ALL, "root", "operator", code=None, state=back["state"], error=back["error"])
    fake.oauth_deny = False
    # the verifier does not match the challenge (here: the master key changed in between) → the token endpoint
    # refuses the code and nothing is stored
    back = follow_authorize(creds.begin_oauth(wh, ALL, "acct", "root"))
    monkeypatch.setenv("ORAGAMI_MASTER_KEY", OTHER)
    with pytest.raises(creds.ConnectError, match=r"refused the authorization code \(HTTP 400, invalid_grant\)"):
        creds.finish_oauth(wh, ALL, "root", "operator", code=back["code"], state=back["state"])
    assert repo.sealed_rows(wh, ALL).empty and fake.issued_tokens == 0
    # an expired request is unknown
    monkeypatch.setenv("ORAGAMI_MASTER_KEY", MASTER)
    state = "expired-state"
    repo.add_pending(wh, state, "acct", "root", "http://127.0.0.1:8501/settings",
                     now=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=11))
    with pytest.raises(creds.ConnectError, match="expired, already used or forged"):
        creds.finish_oauth(wh, ALL, "root", "operator", code="x", state=state)
    wh.dispose()


def test_fake_token_endpoint_checks_client_redirect_and_verifier(fake):
    r = requests.get(f"{fake.url}/oauth/authorize", params={
        "response_type": "code", "client_id": "oragami-test-client", "redirect_uri": "http://127.0.0.1:1/cb",
        "state": "s1", "scope": "account:write trading",
        "code_challenge": creds.pkce_challenge("v" * 43), "code_challenge_method": "S256"}, allow_redirects=False)
    code = requests.utils.urlparse(r.headers["Location"]).query.split("code=")[1].split("&")[0]
    form = {"grant_type": "authorization_code", "code": code, "client_id": "oragami-test-client",
            "client_secret": "client-secret-LEAKCHECK-5b7e", "redirect_uri": "http://127.0.0.1:1/cb",
            "code_verifier": "v" * 43}
    assert requests.post(f"{fake.url}/oauth/token", data={**form, "client_secret": "nope"}).status_code == 401
    bad_redirect = requests.post(f"{fake.url}/oauth/token", data={**form, "redirect_uri": "http://127.0.0.1:2/cb"})
    assert bad_redirect.json()["error"] == "invalid_grant"      # and the code is now spent
    r = requests.get(f"{fake.url}/oauth/authorize", params={
        "response_type": "code", "client_id": "oragami-test-client", "redirect_uri": "http://127.0.0.1:1/cb",
        "state": "s2", "code_challenge": creds.pkce_challenge("v" * 43), "code_challenge_method": "S256"},
        allow_redirects=False)
    code = requests.utils.urlparse(r.headers["Location"]).query.split("code=")[1].split("&")[0]
    assert requests.post(f"{fake.url}/oauth/token", data={**form, "code": code, "code_verifier": "w" * 43}) \
        .json()["error_description"] == "PKCE verification failed"
    assert fake.issued_tokens == 0
    # bearer tokens are accepted on the trading API only once issued
    assert requests.get(f"{fake.url}/v2/account", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 401


# ----------------------------------------------------------------------------------------- the daily run
@pytest.mark.slow
def test_daily_run_trades_with_the_oauth_token_and_after_rotate_key(tmp_path, master, fake, monkeypatch, capsys):
    url, wh = seeded(tmp_path)
    back = follow_authorize(creds.begin_oauth(wh, ALL, "acct", "root"))
    creds.finish_oauth(wh, ALL, "root", "operator", code=back["code"], state=back["state"])
    wh.dispose()

    result = run_daily(url, D1)
    assert result.success
    wh = Warehouse(url)
    orders = wh.read("orders", where={"session_date": dt.date.fromisoformat(D1)})
    assert sorted(orders["ticker"]) == ["SPY", "TLT"] and set(orders["status"]) == {"filled"}
    assert len(fake.orders_created) == 2 and fake.position("SPY") > 0
    # every trading request used the token: the fake has no APCA keys in these requests to accept
    fake.revoke_tokens()
    assert requests.get(f"{fake.url}/v2/account", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 401
    fake._tokens.add(TOKEN)

    # rotate: old key ORAGAMI_MASTER_KEY, new key ORAGAMI_NEW_MASTER_KEY, one transaction, audited
    before = repo.sealed_rows(wh, ALL).iloc[0]
    wh.dispose()
    monkeypatch.setenv("ORAGAMI_NEW_MASTER_KEY", OTHER)
    assert main(["credentials", "rotate-key", "--warehouse", url]) == 0
    out = capsys.readouterr()
    new = repo.parse_master_key(OTHER)
    assert f"re-encrypted 1 broker credential(s) from master key {master.version} to {new.version}" in out.out
    assert OTHER not in out.out + out.err and MASTER not in out.out + out.err
    wh = Warehouse(url)
    after = repo.sealed_rows(wh, ALL).iloc[0]
    assert after["key_version"] == new.version and after["ciphertext"] != before["ciphertext"]
    assert after["nonce"] != before["nonce"]
    rotated = wh.read("audit_log", where={"action": "key_rotated"})
    assert len(rotated) == 1 and rotated.iloc[0]["detail"] == \
        f"1 broker credential(s) re-encrypted from master key {master.version} to {new.version}"
    wh.dispose()

    # the old key no longer opens it: the account fails alone, with the reason, and nothing is sent
    fake.prices = prices(D2)
    posts = fake.post_order_attempts
    result = run_daily(url, D2)
    wh = Warehouse(url)
    failed = wh.read("orders", where={"session_date": dt.date.fromisoformat(D2)})
    assert fake.post_order_attempts == posts and set(failed["status"]) == {"failed"}
    assert all("was encrypted under master key " + new.version in r for r in failed["reason"])
    audit_fail = wh.read("audit_log", where={"action": "run_failed"})
    assert len(audit_fail) == 1 and audit_fail.iloc[0]["account_id"] == "acct"
    wh.dispose()

    # with the new key the next run trades (the failed orders of D2 are sent now)
    monkeypatch.setenv("ORAGAMI_MASTER_KEY", OTHER)
    result = run_daily(url, D2)
    assert result.success
    wh = Warehouse(url)
    d2 = wh.read("orders", where={"session_date": dt.date.fromisoformat(D2)})
    assert len(d2) >= 1 and set(d2["status"]) == {"filled"}
    assert len(fake.orders_created) == 2 + len(d2) == len(fake.unique_client_ids)
    wh.dispose()


@pytest.mark.slow
def test_one_account_that_cannot_decrypt_does_not_stop_the_others(tmp_path, master, monkeypatch):
    """alpha's credential was sealed under another master key; beta trades with pasted keys; gamma has no stored
    credential and uses the environment-variable fallback."""
    with FakeAlpacaServer(api_key=KEY_ID, secret_key=SECRET, prices=prices(D1)) as a, \
            FakeAlpacaServer(api_key="PKBETA00000001", secret_key="sk-beta-1", prices=prices(D1)) as b, \
            FakeAlpacaServer(api_key="PKENV000000001", secret_key="sk-env-1", prices=prices(D1)) as g:
        for name, server in (("ALPHA", a), ("BETA", b), ("GAMMA", g)):
            monkeypatch.setenv(f"ALPACA_URL_{name}", server.url)
        monkeypatch.setenv("ALPACA_API_KEY_GAMMA", "PKENV000000001")
        monkeypatch.setenv("ALPACA_SECRET_KEY_GAMMA", "sk-env-1")
        url, wh = seeded(tmp_path, ("alpha", "beta", "gamma"))
        creds.connect_api_key(wh, ALL, "alpha", KEY_ID, SECRET, actor="root", role="operator",
                              key=repo.parse_master_key(OTHER))
        creds.connect_api_key(wh, ALL, "beta", "PKBETA00000001", "sk-beta-1", actor="root", role="operator")
        wh.dispose()
        run_daily(url, D1)
        wh = Warehouse(url)
        orders = wh.read("orders")
        by = {acct: set(g_["status"]) for acct, g_ in orders.groupby("account_id")}
        assert by == {"alpha": {"failed"}, "beta": {"filled"}, "gamma": {"filled"}}
        reason = orders[orders["account_id"] == "alpha"]["reason"].iloc[0]
        assert "account 'alpha'" in reason and "encrypted under master key" in reason
        assert (len(a.orders_created), len(b.orders_created), len(g.orders_created)) == (0, 2, 2)
        wh.dispose()


def test_cli_connect_status_verify_disconnect(tmp_path, master, fake, monkeypatch, capsys):
    url, wh = seeded(tmp_path)
    wh.dispose()
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{KEY_ID}\nwrong-secret\n"))
    assert main(["credentials", "connect", "--account", "acct", "--warehouse", url]) == 2
    err = capsys.readouterr().err
    assert "error: account acct: not saved: the paper endpoint refused these credentials (HTTP 401)" in err
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{KEY_ID}\n{SECRET}\n"))
    assert main(["credentials", "connect", "--account", "acct", "--warehouse", url]) == 0
    assert "account acct: paper keys accepted (Alpaca account PA0FAKE00001) and stored encrypted" in \
        capsys.readouterr().out
    assert main(["credentials", "status", "--warehouse", url]) == 0
    out = capsys.readouterr().out
    assert out.startswith("acct: api_key …0042 status=connected alpaca_account=PA0FAKE00001 connected_by=cli")
    assert main(["credentials", "verify", "--account", "acct", "--warehouse", url]) == 0
    assert "account acct: api_key credential verified against the paper endpoint" in capsys.readouterr().out
    # a wrong master key: verification fails with the reason, recorded as failed
    monkeypatch.setenv("ORAGAMI_MASTER_KEY", OTHER)
    assert main(["credentials", "verify", "--all", "--warehouse", url]) == 1
    assert "verification FAILED: account 'acct': its broker credential (api_key) was encrypted under master key" \
        in capsys.readouterr().err
    wh = Warehouse(url)
    assert repo.status(wh, ALL).iloc[0]["status"] == "failed"
    assert list(wh.read("audit_log", where={"action": "broker_verified"})["detail"].str[:6]) in \
        (["ok (ap", "failed"], ["failed", "ok (ap"])
    wh.dispose()
    assert main(["credentials", "rotate-key", "--warehouse", url]) == 2       # no ORAGAMI_NEW_MASTER_KEY
    assert "ORAGAMI_NEW_MASTER_KEY is not set" in capsys.readouterr().err
    monkeypatch.setenv("ORAGAMI_NEW_MASTER_KEY", MASTER)                       # old key is wrong: nothing changes
    assert main(["credentials", "rotate-key", "--warehouse", url]) == 2
    assert "nothing re-encrypted: account 'acct'" in capsys.readouterr().err
    assert main(["credentials", "disconnect", "--account", "acct", "--warehouse", url]) == 0
    assert "account acct: stored credential deleted" in capsys.readouterr().out
    assert main(["credentials", "new-master-key"]) == 0
    assert len(base64.b64decode(capsys.readouterr().out.strip())) == 32


def test_rotation_is_all_or_nothing(tmp_path, master, fake):
    url, wh = seeded(tmp_path, ("acct", "zed"))
    creds.connect_api_key(wh, ALL, "acct", KEY_ID, SECRET, actor="root", role="operator")
    creds.connect_api_key(wh, ALL, "zed", KEY_ID, SECRET, actor="root", role="operator",
                          key=repo.parse_master_key(OTHER))       # a row the old key cannot open
    before = repo.sealed_rows(wh, ALL)
    with pytest.raises(CredentialError, match="account 'zed'"):
        rotate_master_key(wh, master, repo.parse_master_key(key_text(b"N3")))
    after = repo.sealed_rows(wh, ALL)
    pd.testing.assert_frame_equal(before[["ciphertext", "nonce", "key_version"]],
                                  after[["ciphertext", "nonce", "key_version"]])
    assert wh.read("audit_log", where={"action": "key_rotated"}).empty
    wh.dispose()


def test_only_resources_credentials_decrypts():
    """The one place that opens stored credentials: no other project module calls an AEAD ``decrypt``."""
    import ast

    root = Path(__file__).resolve().parents[2]
    callers = set()
    for package in ("engine", "warehouse", "resources", "assets", "pipelines", "orchestration", "dashboards"):
        for path in (root / package).rglob("*.py"):
            tree = ast.parse(path.read_text(), filename=str(path))
            if any(isinstance(n, ast.Attribute) and n.attr == "decrypt" for n in ast.walk(tree)):
                callers.add(str(path.relative_to(root)))
    assert callers == {"resources/credentials.py"}
