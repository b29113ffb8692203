"""Sign-in hardening through the router's sign-in form: the lock-out after repeated failures (per username and per
client, the same answer whether the user exists or not, the right password afterwards), session expiry, sign out
everywhere, the password rule and the demo user accepted only on a loopback server address."""
from __future__ import annotations

import datetime as dt

import pytest
from streamlit import config as st_config

from dashboards import auth
from tests.dashboards.door import USERS, click, open_app, sign_in, signed_in_as, texts
from warehouse import AccountScope, Warehouse
from warehouse.repos import audit

#: The fake clock's start: an hour after now (users are created with the real clock; the lock-out ignores failures
#: from before a user's password was set).
T0 = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)).replace(microsecond=0)
LOCKED_15 = "Too many failed sign-ins. Try again in 15 minutes."


class Clock:
    """The clock the sign-in and the session check read (``dashboards.auth._now``): starts at :data:`T0`, moves
    only when told."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def tick(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(auth, "_now", c)
    return c


def _submit(at, username: str, password: str):
    at.text_input(key="login_username").set_value(username)
    at.text_input(key="login_password").set_value(password)
    return click(at, "Sign in")


def _answer(at) -> str:
    return at.error[0].value if at.error else ""


def test_twenty_wrong_passwords_lock_the_user_and_the_right_one_waits_out_the_lock(roles_db, clock):
    at = open_app().run()
    answers = []
    for i in range(20):
        clock.tick(seconds=1)
        answers.append(_answer(_submit(at, "alice", f"wrong-guess-{i:03d}")))
    assert answers[:5] == [auth.WRONG] * 5
    assert answers[5:] == [LOCKED_15] * 15
    clock.tick(seconds=1)
    assert _answer(_submit(at, "alice", USERS["alice"][0])) == LOCKED_15    # right password, still locked
    assert signed_in_as(at) is None
    # an unknown username gets the very same answers: the lock says nothing about who exists
    unknown = [_answer(_submit(at, "mallory", f"guess-{i}")) for i in range(6)]
    assert unknown == [auth.WRONG] * 5 + [LOCKED_15]
    # the lock ends 15 minutes after the 5th failure; the right password then signs in
    clock.now = T0 + dt.timedelta(seconds=5, minutes=15) - dt.timedelta(seconds=1)
    assert _answer(_submit(at, "alice", USERS["alice"][0])) == "Too many failed sign-ins. Try again in 1 minute."
    clock.tick(seconds=1)
    at = _submit(at, "alice", USERS["alice"][0])
    assert signed_in_as(at) == "alice" and at.title[0].value == "Overview"

    with Warehouse(f"duckdb:///{roles_db}") as wh:
        attempts = wh.read("sign_in_attempts", where={"username": "alice"}, order_by="attempted_at")
        events = audit.read(wh, AccountScope.all(), actor="alice")
    assert list(attempts["outcome"]) == ["failed"] * 5 + ["locked"] * 17 + ["ok"]
    assert set(attempts["client"]) == {auth.UNKNOWN_CLIENT}
    counts = events["action"].value_counts().to_dict()
    assert counts == {"sign_in_failed": 5, "sign_in_locked": 17, "sign_in_ok": 1}
    assert set(events["account_id"]) == {"acct-a"}           # alice sees her own sign-ins on the audit page
    assert not any("wrong-guess" in str(d) for d in events["detail"])   # passwords are never recorded
    # a success starts the count again: four more failures do not lock
    at = open_app().run()
    for i in range(4):
        clock.tick(seconds=1)
        assert _answer(_submit(at, "alice", f"again-wrong-{i}")) == auth.WRONG
    assert signed_in_as(_submit(at, "alice", USERS["alice"][0])) == "alice"


def test_one_client_guessing_many_usernames_is_locked_out(roles_db, clock):
    """20 failures from one address, each for another username, lock that address (even for a right password),
    not other addresses."""
    with Warehouse(f"duckdb:///{roles_db}") as wh:
        for i in range(20):
            clock.tick(seconds=2)
            r = auth.attempt_sign_in(wh, f"user{i}", "nope-nope-nope", client="203.0.113.9", server_address="127.0.0.1")
            assert r.status == "failed"
        r = auth.attempt_sign_in(wh, "alice", USERS["alice"][0], client="203.0.113.9", server_address="127.0.0.1")
        assert (r.status, r.user, r.message) == ("locked", None, LOCKED_15)
        r = auth.attempt_sign_in(wh, "alice", USERS["alice"][0], client="198.51.100.7", server_address="127.0.0.1")
        assert r.status == "ok" and r.user == auth.User("alice", "analyst", "acct-a")
        assert r.user.signed_in_at == clock.now


def test_a_session_expires_after_its_maximum_age(roles_db, clock, monkeypatch):
    monkeypatch.setenv(auth.ENV_SESSION_HOURS, "2")
    at = sign_in("alice")
    assert signed_in_as(at) == "alice"
    clock.tick(hours=2)
    at.run()
    assert signed_in_as(at) == "alice"             # exactly 2 h: still valid
    clock.tick(seconds=1)
    at.run()
    assert signed_in_as(at) is None and "Your session expired. Sign in again." in texts(at)
    assert at.text_input(key="login_username") is not None
    assert signed_in_as(sign_in("alice", at=at)) == "alice"


def test_sign_out_everywhere_ends_the_users_other_sessions(roles_db):
    laptop, phone = sign_in("alice"), sign_in("alice")
    root = sign_in("root")
    click(phone, "Everywhere")
    assert signed_in_as(phone) is None and "Signed out everywhere." in texts(phone)
    laptop.run()
    assert signed_in_as(laptop) is None and "You were signed out" in texts(laptop)
    root.run()
    assert signed_in_as(root) == "root"            # another user's session is untouched
    with Warehouse(f"duckdb:///{roles_db}") as wh:
        events = audit.read(wh, AccountScope.all(), actions=["sign_out"])
    assert list(zip(events["actor"], events["detail"])) == [("alice", "signed out everywhere")]


@pytest.mark.parametrize("password, problem", [
    ("short-pass1", "shorter than 12 characters"),
    ("aaaaaaaaaaaaaaaa", "fewer than 5 different characters"),
    ("abcdefghijklmn", "keyboard or alphabet sequence"),
    ("123456789012", "keyboard or alphabet sequence"),
    ("qwertyuiopas", "keyboard or alphabet sequence"),
    ("Password2024!", "too common"),
    ("9081726354651", "too common"),     # digits only
    ("Letmein!!2026", "too common"),
    ("carol-carol-12", "too close to the username"),
    ("x" * 73, "longer than 72 bytes"),
    ("correct horse battery", None),
    ("alice-pass-1", None),
])
def test_the_password_rule(password, problem):
    found = auth.password_problem(password, "carol")
    assert (found is None) if problem is None else (problem in found), found


@pytest.mark.parametrize("address, accepted", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                               ("0.0.0.0", False), ("192.168.1.20", False), (None, False)])
def test_the_demo_user_signs_in_only_on_a_loopback_address(roles_db, address, accepted):
    with Warehouse(f"duckdb:///{roles_db}") as wh:
        auth.create_user(wh, "demo", "oragami-demo", "analyst", "acct-a", is_demo=True)
    st_config.set_option("server.address", address)
    at = open_app().run()
    note = [c.value for c in at.caption if "demo user is not accepted" in c.value]
    assert bool(note) is (not accepted)
    at = _submit(at, "demo", "oragami-demo")
    if accepted:
        assert signed_in_as(at) == "demo"
    else:
        assert signed_in_as(at) is None
        assert _answer(at).startswith("The demo user signs in only while the dashboard listens on a loopback")
        assert signed_in_as(sign_in("alice")) == "alice"           # real users are not affected
        with Warehouse(f"duckdb:///{roles_db}") as wh:
            failed = audit.read(wh, AccountScope.all(), actions=["sign_in_failed"], actor="demo")
        assert failed["detail"].iloc[0].startswith("demo user refused: server address")


def test_a_real_user_needs_a_strong_password_the_demo_user_is_exempt(roles_db):
    with Warehouse(f"duckdb:///{roles_db}") as wh:
        with pytest.raises(ValueError, match="shorter than 12 characters"):
            auth.create_user(wh, "eve", "demo-pass-1", "analyst", "acct-a")
        demo = auth.create_user(wh, "demo", "demo-pass-1", "analyst", "acct-a", is_demo=True)
        assert demo.is_demo


def test_a_session_that_cannot_be_checked_ends(roles_db):
    """The warehouse file disappears under a signed-in browser: the next run signs out (fail closed) and the sign-in
    page says why, instead of raising."""
    at = sign_in("alice")
    assert signed_in_as(at) == "alice"
    roles_db.rename(roles_db.with_suffix(".moved"))
    at.run()
    assert not at.exception and signed_in_as(at) is None
    assert "Your session could not be checked against the warehouse. Sign in again." in texts(at)
