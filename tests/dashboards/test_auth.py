"""Dashboard sign-in (dashboards.auth), the page scope (dashboards.context.scope_for) and tenant scoping of
every read of the one data layer (dashboards.reads) and its cache (dashboards.cache)."""
from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import dashboards.reads
from dashboards import auth, cache, context
from dashboards.reads import backtests, common, library, orders, overview
from tests.dashboards.seed_data import D3
from warehouse import AccountScope, Warehouse, open_read_only


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
    (("bob", "bob-pass-123", "superuser", None), "unknown role"),
    (("bob", "bob-pass-123", "admin", "acct-a"), "every account"),  # admins, like operators, see every account
    (("bob", "password1234", "analyst", "acct-a"), "too common"),
])
def test_create_user_refuses_bad_input(wh, args, message):
    with pytest.raises(ValueError, match=message):
        auth.create_user(wh, *args)


def test_scope_for():
    analyst = auth.User("alice", "analyst", "acct-a")
    operator = auth.User("root", "operator", None)
    assert context.scope_for(analyst, "acct-b") == AccountScope.only("acct-a")  # an analyst cannot pick another
    assert context.scope_for(operator, "acct-b") == AccountScope.only("acct-b")
    assert context.scope_for(operator) == AccountScope.all()  # "every account", said explicitly
    with pytest.raises(ValueError, match="no account"):
        context.scope_for(auth.User("eve", "analyst", None))


def test_auth_env(monkeypatch):
    monkeypatch.setenv(auth.ENV_AUTH, "off")
    assert not auth.auth_enabled()
    monkeypatch.delenv(auth.ENV_AUTH)
    assert auth.auth_enabled()


#: Reads of market data (no account) or pure helpers that take a warehouse but no tenant rows.
NOT_TENANT = {"dashboards.reads.performance.benchmark_closes", "dashboards.reads.prices.symphony_closes",
              "dashboards.reads.store.has_users_table"}


def _read_functions():
    for info in pkgutil.iter_modules(dashboards.reads.__path__):
        module = importlib.import_module(f"dashboards.reads.{info.name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            params = list(inspect.signature(fn).parameters)
            if fn.__module__ == module.__name__ and params[:1] == ["wh"] and not name.startswith("_"):
                yield f"{module.__name__}.{name}", fn


def test_every_read_requires_a_scope_and_refuses_none(seeded_duckdb_shared):
    found = dict(_read_functions())
    assert {"dashboards.reads.common.symphonies", "dashboards.reads.orders.orders_on",
            "dashboards.reads.backtests.backtest_runs", "dashboards.reads.overview.decision_traces"} <= set(found)
    with open_read_only(seeded_duckdb_shared) as ro:
        for qualname, fn in found.items():
            if qualname in NOT_TENANT:
                continue
            params = inspect.signature(fn).parameters
            names = list(params)
            assert names[1] == "scope", qualname
            assert params["scope"].default is inspect.Parameter.empty, f"{qualname}: scope has a default"
            required = [p for p in names[2:] if params[p].default is inspect.Parameter.empty]
            extra = [D3 if p == "session_date" else "sym-6040" if p == "symphony_id" else "bt-new"
                     if p == "run_id" else ["bt-new"] for p in required
                     if params[p].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
            keywords = {p: "x" for p in required if params[p].kind is inspect.Parameter.KEYWORD_ONLY}
            for bad in (None, "acct-a"):
                with pytest.raises(TypeError, match="AccountScope is required"):
                    fn(ro, bad, *extra, **keywords)


def test_every_cached_tenant_read_requires_a_scope():
    tenant = [fn for name, fn in inspect.getmembers(cache, callable)
              if getattr(fn, "__module__", None) == cache.__name__ and not name.startswith("_")
              and list(inspect.signature(fn).parameters)[:2] == ["url", "scope"]]
    assert len(tenant) >= 15
    for fn in tenant:
        assert inspect.signature(fn).parameters["scope"].default is inspect.Parameter.empty, fn.__name__


A, B = AccountScope.only("acct-a"), AccountScope.only("acct-b")


def test_analyst_queries_return_only_their_account(seeded_duckdb_shared):
    with open_read_only(seeded_duckdb_shared) as ro:
        assert set(common.symphonies(ro, B)["symphony_id"]) == {"sym-qqq"}
        assert set(common.symphonies(ro, A)["symphony_id"]) == {"sym-6040", "sym-old"}
        assert set(common.symphonies(ro, AccountScope.all())["symphony_id"]) == {"sym-6040", "sym-old", "sym-qqq"}
        assert list(common.accounts(ro, B)["account_id"]) == ["acct-b"]
        assert set(overview.latest_allocations(ro, B)["symphony_id"]) == {"sym-qqq"}
        assert set(common.paper_nav(ro, B)["symphony_id"]) == {"sym-qqq"}
        assert overview.latest_backtest_runs(ro, B).empty
        assert overview.backtest_nav(ro, B).empty
        assert set(overview.symphony_runs(ro, B)["symphony_id"]) == {"sym-qqq"}
        assert overview.decision_traces(ro, B, D3).empty
        assert set(overview.decision_traces(ro, A, D3)["symphony_id"]) == {"sym-6040"}
        assert set(library.library(ro, B)["symphony_id"]) == {"sym-qqq"}
        assert common.symphony_record(ro, B, "sym-6040") is None
        assert common.symphony_record(ro, A, "sym-6040")["name"] == "Sixty Forty"
        assert common.latest_session(ro, B) == D3
        assert list(library.account_usage(ro, A)["active"]) == [1]
        assert orders.activity_sessions(ro, B) == [D3]  # sym-qqq's run; acct-a's sessions are not listed
        assert backtests.backtest_runs(ro, B).empty and len(backtests.backtest_runs(ro, A)) == 2
        assert common.symphony_model_json(ro, B, "sym-6040") is None
        assert common.symphonies(ro, AccountScope.only()).empty  # a scope of no account sees nothing


def test_cached_reads_are_keyed_on_the_scope(seeded_duckdb_shared, clean_cache):
    url = f"duckdb:///{seeded_duckdb_shared}"
    assert set(cache.symphonies(url, A)["symphony_id"]) == {"sym-6040", "sym-old"}
    assert set(cache.symphonies(url, B)["symphony_id"]) == {"sym-qqq"}  # not A's cached answer
    assert len(cache.symphonies(url, AccountScope.all())) == 3
    assert set(cache.symphonies(url, AccountScope.only("acct-a"))["symphony_id"]) == {"sym-6040", "sym-old"}
    with pytest.raises(TypeError, match="AccountScope is required"):
        cache.symphonies(url, None)
    with pytest.raises(TypeError, match="AccountScope is required"):
        cache.overview_frames(url, "acct-a")


def test_only_the_context_reads_the_user_or_the_scope_from_session_state():
    """Pages and reads get the scope from the page context alone (dashboards/context.py)."""
    import re
    from pathlib import Path

    root = Path(context.__file__).parent
    wrong = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "context.py":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if "session_state" in line and re.search(r"user|account|scope|USER_KEY|PICK_KEY|_CONTEXT_KEY", line):
                wrong.append(f"{path.relative_to(root)}:{n}: {line.strip()}")
    assert not wrong, "\n".join(wrong)
