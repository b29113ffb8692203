"""``sign_in_attempts`` keeps 30 days (warehouse.repos.users.ATTEMPT_RETENTION): guesses cannot grow the table
without bound, the lock-out still counts the recent ones, and the audit trail keeps every sign-in."""
from __future__ import annotations

import datetime as dt

from dashboards import auth
from tests.dashboards.door import USERS, click, open_app, signed_in_as
from warehouse import AccountScope, Warehouse
from warehouse.repos import audit
from warehouse.repos.users import ATTEMPT_RETENTION

T0 = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)).replace(microsecond=0)


def _submit(at, username: str, password: str):
    at.text_input(key="login_username").set_value(username)
    at.text_input(key="login_password").set_value(password)
    return click(at, "Sign in")


def _attempts(db) -> list[tuple[str, str]]:
    with Warehouse(f"duckdb:///{db}") as wh:
        rows = wh.read("sign_in_attempts", order_by="attempted_at")
    return [(r.username, r.outcome) for r in rows.itertuples()]


def test_attempts_older_than_30_days_are_pruned_on_the_next_sign_in(roles_db, monkeypatch):
    now = {"t": T0}
    monkeypatch.setattr(auth, "_now", lambda: now["t"])
    at = open_app().run()
    _submit(at, "alice", "wrong-guess-1")
    _submit(at, "mallory", "who-knows")
    assert _attempts(roles_db) == [("alice", "failed"), ("mallory", "failed")]

    # 29 days later both are still kept (inside the retention)
    now["t"] = T0 + ATTEMPT_RETENTION - dt.timedelta(days=1)
    _submit(at, "bob", "wrong-guess-2")
    assert [u for u, _ in _attempts(roles_db)] == ["alice", "mallory", "bob"]

    # 30 days and a second after the first two: the next attempt (anyone's) removes them, not bob's
    now["t"] = T0 + ATTEMPT_RETENTION + dt.timedelta(seconds=1)
    at = _submit(at, "alice", USERS["alice"][0])
    assert signed_in_as(at) == "alice"
    assert _attempts(roles_db) == [("bob", "failed"), ("alice", "ok")]

    # the audit trail still has every attempt
    with Warehouse(f"duckdb:///{roles_db}") as wh:
        actions = audit.read(wh, AccountScope.all(), actor="alice")["action"].tolist()
    assert sorted(actions) == ["sign_in_failed", "sign_in_ok"]


def test_the_lock_out_still_counts_recent_failures_after_a_prune(roles_db, monkeypatch):
    now = {"t": T0}
    monkeypatch.setattr(auth, "_now", lambda: now["t"])
    at = open_app().run()
    _submit(at, "alice", "old-guess")            # pruned later
    now["t"] = T0 + ATTEMPT_RETENTION + dt.timedelta(minutes=1)
    answers = []
    for i in range(6):
        now["t"] += dt.timedelta(seconds=1)
        at = _submit(at, "alice", f"wrong-{i}")
        answers.append(at.error[0].value if at.error else "")
    # the five recent failures lock (the pruned one is not among them: a sixth old failure changes nothing)
    assert answers == [auth.WRONG] * 5 + ["Too many failed sign-ins. Try again in 15 minutes."]
    assert _attempts(roles_db) == [("alice", "failed")] * 5 + [("alice", "locked")]
