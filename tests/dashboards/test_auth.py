"""Dashboard sign-in (dashboards.auth) and tenant scoping of the dashboard queries (dashboards.queries)."""
from __future__ import annotations

import inspect

import pytest

from dashboards import auth, queries
from tests.dashboards.seed_data import D3
from warehouse import Warehouse, open_read_only


@pytest.fixture
def wh(seeded_duckdb):
    with Warehouse(f"duckdb:///{seeded_duckdb}") as w:
        w.create_schema()  # adds the users table to the seeded file if it predates it
        yield w


def test_hash_and_verify():
    h = auth.hash_password("correct horse")
    assert h.startswith("$2") and "correct horse" not in h
    assert auth.verify_password("correct horse", h)
    assert not auth.verify_password("wrong horse", h)
    assert not auth.verify_password("correct horse", "not-a-hash")
    assert auth.hash_password("correct horse") != h  # salted
    with pytest.raises(ValueError, match="72 bytes"):
        auth.hash_password("x" * 73)


def test_create_user_and_authenticate(wh):
    assert not auth.users_exist(wh)
    alice = auth.create_user(wh, "alice", "alice-pass-1", "analyst", "acct-a")
    auth.create_user(wh, "root", "root-pass-12", "operator")
    assert auth.users_exist(wh)
    assert auth.authenticate(wh, "alice", "alice-pass-1") == alice == auth.User("alice", "analyst", "acct-a")
    assert auth.authenticate(wh, "root", "root-pass-12") == auth.User("root", "operator", None)
    assert auth.authenticate(wh, "alice", "wrong-password") is None
    assert auth.authenticate(wh, "nobody", "alice-pass-1") is None
    stored = wh.read("users")
    assert "alice-pass-1" not in set(stored["password_hash"])


@pytest.mark.parametrize("args, message", [
    (("bob", "bob-pass-123", "analyst", None), "needs an account"),
    (("bob", "bob-pass-123", "analyst", "acct-zzz"), "unknown account"),
    (("bob", "bob-pass-123", "operator", "acct-a"), "every account"),
    (("bob", "short", "analyst", "acct-a"), "shorter"),
    (("bob", "bob-pass-123", "admin", None), "unknown role"),
])
def test_create_user_refuses_bad_input(wh, args, message):
    with pytest.raises(ValueError, match=message):
        auth.create_user(wh, *args)


def test_scope_for():
    analyst = auth.User("alice", "analyst", "acct-a")
    operator = auth.User("root", "operator", None)
    assert auth.scope_for(analyst, "acct-b") == "acct-a"  # an analyst cannot pick another account
    assert auth.scope_for(operator, "acct-b") == "acct-b"
    assert auth.scope_for(operator) is None


def test_auth_env(monkeypatch):
    monkeypatch.setenv(auth.ENV_AUTH, "off")
    assert not auth.auth_enabled()
    monkeypatch.delenv(auth.ENV_AUTH)
    assert auth.auth_enabled()


def test_every_query_takes_account_id():
    for name, fn in inspect.getmembers(queries, inspect.isfunction):
        params = list(inspect.signature(fn).parameters)
        if fn.__module__ == queries.__name__ and params[:1] == ["wh"]:
            assert "account_id" in params, name


def test_analyst_queries_return_only_their_account(seeded_duckdb_shared):
    with open_read_only(seeded_duckdb_shared) as ro:
        assert set(queries.symphonies(ro, "acct-b")["symphony_id"]) == {"sym-qqq"}
        assert set(queries.symphonies(ro, "acct-a")["symphony_id"]) == {"sym-6040", "sym-old"}
        assert set(queries.symphonies(ro)["symphony_id"]) == {"sym-6040", "sym-old", "sym-qqq"}
        assert list(queries.accounts(ro, "acct-b")["account_id"]) == ["acct-b"]
        assert set(queries.latest_allocations(ro, "acct-b")["symphony_id"]) == {"sym-qqq"}
        assert set(queries.paper_nav(ro, account_id="acct-b")["symphony_id"]) == {"sym-qqq"}
        assert queries.latest_backtest_runs(ro, "acct-b").empty
        assert queries.backtest_nav(ro, account_id="acct-b").empty
        assert set(queries.symphony_runs(ro, "acct-b")["symphony_id"]) == {"sym-qqq"}
        assert queries.decision_traces(ro, D3, "acct-b").empty
        assert set(queries.decision_traces(ro, D3, "acct-a")["symphony_id"]) == {"sym-6040"}
        assert set(queries.library(ro, "acct-b")["symphony_id"]) == {"sym-qqq"}
        assert queries.symphony_record(ro, "sym-6040", "acct-b") is None
        assert queries.symphony_record(ro, "sym-6040", "acct-a")["name"] == "Sixty Forty"
        assert queries.latest_session(ro, "acct-b") == D3
        assert list(queries.account_usage(ro, "acct-a")["active"]) == [1]
