"""Roles through the door a user uses (the router's sign-in form, then the navigation): what an analyst, an
operator and an admin can and cannot do on the pages — the Admin page's user, account and risk-gate management,
the library's upload/activate, the account picker — and an old two-role warehouse upgrading to the three roles."""
from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from dashboards import auth
from tests.dashboards.door import USERS, click, nav_pages, open_page, sign_in, signed_in_as, texts
from warehouse import Warehouse
from warehouse.repos import audit
from warehouse.repos import users as user_repo

ADMIN_PAGE = "app_pages/admin.py"
LIBRARY = "app_pages/library.py"


def _wh(path) -> Warehouse:
    return Warehouse(f"duckdb:///{path}")


def _events(path, action: str) -> pd.DataFrame:
    from warehouse import AccountScope

    with _wh(path) as wh:
        return audit.read(wh, AccountScope.all(), actions=[action])


# -- navigation -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, sees_admin", [("alice", False), ("root", False), ("ada", True)])
def test_the_admin_page_is_in_the_navigation_of_admins_only(roles_db, name, sees_admin):
    at = sign_in(name)
    assert signed_in_as(at) == name and not at.exception
    pages = nav_pages(at)
    assert "app_pages/overview.py" in pages and "app_pages/audit.py" in pages and LIBRARY in pages
    assert (ADMIN_PAGE in pages) is sees_admin
    if not sees_admin:
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            open_page(at, ADMIN_PAGE)


def test_the_account_picker_lists_each_roles_accounts(roles_db):
    """Operators and admins pick among every account; a one-account analyst gets no picker; an analyst of two
    accounts picks between their two, never a third."""
    with _wh(roles_db) as wh:
        user_repo.create_account(wh, "acct-c", "Carol", by=None)
        auth.create_user(wh, "duo", "duo-pass-word-1", "analyst", accounts=["acct-a", "acct-c"])
    for name, expected in (("root", [None, "acct-a", "acct-b", "acct-c"]), ("ada", [None, "acct-a", "acct-b", "acct-c"]),
                           ("duo", [None, "acct-a", "acct-c"])):
        at = sign_in(name, "duo-pass-word-1" if name == "duo" else None)
        assert at.sidebar.selectbox(key="account_pick").options == \
            [("All accounts" if name != "duo" else "All my accounts")] + \
            [f"{n} ({a})" for a, n in (("acct-a", "Alice"), ("acct-b", "Bob"), ("acct-c", "Carol")) if a in expected]
    at = sign_in("alice")
    assert not [s for s in at.sidebar.selectbox if s.key == "account_pick"]
    at = open_page(sign_in("duo", "duo-pass-word-1"), LIBRARY)
    assert set(at.dataframe[0].value["account_id"]) == {"acct-a"}   # acct-c has no symphony, acct-b is not hers
    at.sidebar.selectbox(key="account_pick").set_value("acct-c").run()
    assert "0 of 0 symphonies" in texts(at)


# -- the library: upload and activate -----------------------------------------------------------------------------

def test_an_analyst_activates_her_own_symphony_and_sees_no_other(roles_db):
    at = open_page(sign_in("alice"), LIBRARY)
    assert set(at.dataframe[0].value["account_id"]) == {"acct-a"}
    assert "sym-qqq" not in at.selectbox(key="library_pick").options
    at.selectbox(key="library_pick").set_value("sym-old").run()
    at.button(key="library_activate").click().run()
    assert "`sym-old` is now active." in texts(at)
    with _wh(roles_db) as wh:
        assert wh.read("symphonies", where={"symphony_id": "sym-old"})["status"].iloc[0] == "active"
    events = _events(roles_db, "symphony_activated")
    assert list(zip(events["actor"], events["role"], events["account_id"], events["target"])) == \
        [("alice", "analyst", "acct-a", "sym-old")]
    assert events["origin"].iloc[0] == "dashboard unknown"


@pytest.mark.parametrize("name", ["root", "ada"])
def test_operators_and_admins_deactivate_any_accounts_symphony(roles_db, name):
    at = open_page(sign_in(name), LIBRARY)
    assert set(at.dataframe[0].value["account_id"]) == {"acct-a", "acct-b"}
    at.selectbox(key="library_pick").set_value("sym-qqq").run()
    at.button(key="library_deactivate").click().run()
    assert "`sym-qqq` is now inactive." in texts(at)
    events = _events(roles_db, "symphony_deactivated")
    assert list(zip(events["actor"], events["role"], events["account_id"])) == [(name, USERS[name][1], "acct-b")]


# -- the admin page -------------------------------------------------------------------------------------------------

def _admin(page: str = ADMIN_PAGE):
    at = open_page(sign_in("ada"), page)
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def test_admin_creates_a_user_who_sets_a_password_at_first_sign_in(roles_db):
    at = _admin()
    at.text_input(key="admin_new_name").set_value("carol")
    at.selectbox(key="admin_new_role").set_value("analyst")
    at.multiselect(key="admin_new_accounts").set_value(["acct-b"])
    at.text_input(key="admin_new_password").set_value("first-temp-pass-9")
    click(at, "Create user")
    assert "User `carol` created (analyst)." in texts(at)
    users = at.dataframe[0].value.set_index("username")
    assert users.loc["carol", "accounts"] == "acct-b" and bool(users.loc["carol", "must_change_password"])
    created = _events(roles_db, "user_created")
    assert set(created["target"]) == {"alice", "bob", "root", "ada", "carol"}   # the fixture's users too
    created = created[created["target"] == "carol"]
    assert list(zip(created["actor"], created["role"], created["origin"])) == [("ada", "admin", "dashboard unknown")]
    # carol's first sign-in asks for a new password before any page
    at = sign_in("carol", "first-temp-pass-9")
    assert at.title[0].value == "Set a new password" and signed_in_as(at) is None
    at.text_input(key="pw_current").set_value("first-temp-pass-9")
    at.text_input(key="pw_new").set_value("carols-own-secret-7")
    at.text_input(key="pw_again").set_value("carols-own-secret-7")
    click(at, "Set password")
    assert signed_in_as(at) == "carol" and at.title[0].value == "Overview"
    with _wh(roles_db) as wh:
        assert auth.authenticate(wh, "carol", "carols-own-secret-7") == auth.User("carol", "analyst", "acct-b")
        assert auth.authenticate(wh, "carol", "first-temp-pass-9") is None


def test_admin_refuses_a_weak_password_and_an_operator_with_accounts(roles_db):
    at = _admin()
    at.text_input(key="admin_new_name").set_value("weak")
    at.multiselect(key="admin_new_accounts").set_value(["acct-a"])
    at.text_input(key="admin_new_password").set_value("Password2024!")
    click(at, "Create user")
    assert "User not created: password is too common" in at.error[0].value
    at.text_input(key="admin_new_name").set_value("opx")
    at.selectbox(key="admin_new_role").set_value("operator")
    at.multiselect(key="admin_new_accounts").set_value(["acct-a"])
    at.text_input(key="admin_new_password").set_value("a-fine-long-pass-3")
    click(at, "Create user")
    assert "an operator sees every account" in at.error[0].value
    with _wh(roles_db) as wh:
        assert user_repo.get(wh, "weak") is None and user_repo.get(wh, "opx") is None


def test_admin_resets_a_password_and_the_user_must_change_it(roles_db):
    alice_session = sign_in("alice")
    at = _admin()
    at.selectbox(key="admin_pick_name").set_value("alice").run()
    click(at, "Reset password")
    shown = at.warning[0].value
    assert shown.startswith("Password of `alice` reset. Temporary password (shown once")
    temp = shown.rsplit("`", 2)[-2]
    assert len(temp) == 16 and auth.password_problem(temp) is None
    # the reset ended alice's open session and her old password
    alice_session.run()
    assert signed_in_as(alice_session) is None and "You were signed out" in texts(alice_session)
    assert sign_in("alice").error[0].value == auth.WRONG
    at = sign_in("alice", temp)
    assert at.title[0].value == "Set a new password"
    at.text_input(key="pw_current").set_value(temp)
    at.text_input(key="pw_new").set_value("short")
    at.text_input(key="pw_again").set_value("short")
    click(at, "Set password")
    assert at.error[0].value == "Not changed: password shorter than 12 characters."
    at.text_input(key="pw_new").set_value("alices-new-passphrase")
    at.text_input(key="pw_again").set_value("alices-new-passphrase")
    click(at, "Set password")
    assert signed_in_as(at) == "alice"
    events = pd.concat([_events(roles_db, "password_reset"), _events(roles_db, "password_changed")])
    assert list(zip(events["action"], events["actor"], events["target"])) == \
        [("password_reset", "ada", "alice"), ("password_changed", "alice", "alice")]
    assert not any(temp in str(d) or "alices-new-passphrase" in str(d) for d in events["detail"])


def test_admin_disables_a_user_whose_session_ends(roles_db):
    bob = open_page(sign_in("bob"), LIBRARY)
    assert signed_in_as(bob) == "bob"
    at = _admin()
    at.selectbox(key="admin_pick_name").set_value("bob").run()
    click(at, "Disable")
    assert "User `bob` disabled." in texts(at)
    bob.run()
    assert signed_in_as(bob) is None and "This user was disabled by an admin." in texts(bob)
    assert sign_in("bob").error[0].value == auth.WRONG     # refused, without saying why
    at.selectbox(key="admin_pick_name").set_value("bob").run()
    click(at, "Enable")
    assert signed_in_as(sign_in("bob")) == "bob"


def test_admin_edits_risk_gates_creates_and_disables_accounts(roles_db):
    at = _admin()
    at.selectbox(key="admin_gate_pick").set_value("acct-a").run()
    at.number_input(key="admin_gate_notional").set_value(2500.0)
    at.number_input(key="admin_gate_kill").set_value(5.0)
    at.number_input(key="admin_gate_active").set_value(12)
    at.checkbox(key="admin_gate_dry").check()
    click(at, "Save risk gates")
    assert "Risk gates of `acct-a` saved." in texts(at)
    with _wh(roles_db) as wh:
        row = wh.read("accounts", where={"account_id": "acct-a"}).iloc[0]
    assert (row["max_order_notional_usd"], row["daily_loss_kill_pct"], row["max_active_symphonies"],
            bool(row["dry_run"])) == (2500.0, 0.05, 12, True)
    change = _events(roles_db, "risk_gate_changed")
    assert list(zip(change["actor"], change["account_id"])) == [("ada", "acct-a")]
    assert "max_order_notional_usd None -> 2500.0" in change["detail"].iloc[0]
    assert "daily_loss_kill_pct None -> 0.05" in change["detail"].iloc[0]

    at.text_input(key="admin_new_account_id").set_value("acct-new")
    at.text_input(key="admin_new_account_name").set_value("New desk")
    click(at, "Create account")
    assert "acct-new" in set(at.dataframe[1].value["account_id"])
    at.selectbox(key="admin_gate_pick").set_value("acct-a").run()
    click(at, "Disable account")
    with _wh(roles_db) as wh:
        assert set(wh.read("symphonies", where={"account_id": "acct-a"})["status"]) == {"inactive"}
    assert list(_events(roles_db, "account_disabled")["detail"]) == ["disabled; 1 symphonies deactivated"]
    # alice's only account is disabled: she signs in and sees no account's data
    alice = open_page(sign_in("alice"), LIBRARY)
    assert "No enabled account: ask an admin." in texts(alice)
    assert not alice.dataframe or alice.dataframe[0].value.empty


def test_the_admin_page_refuses_an_operator_even_when_opened(roles_db, monkeypatch):
    """Defence in depth: were the navigation to list the page for an operator, the page itself says no."""
    from dashboards import navigation

    specs = tuple(navigation.PageSpec(p.path, p.title, p.icon, p.url_path) for p in navigation.PAGES)
    monkeypatch.setattr(navigation, "PAGES", specs)
    at = open_page(sign_in("root"), ADMIN_PAGE)
    assert at.error[0].value == "This page is for admins." and not at.dataframe


# -- an old warehouse ------------------------------------------------------------------------------------------------

def test_a_two_role_warehouse_upgrades_to_admins_and_memberships(warehouse_url):
    """A ``users`` table of the previous release (CHECK role IN analyst/operator, ``account_id`` column only) is
    upgraded by ``create_schema``: 'admin' is accepted, the analyst's account becomes a membership, the stored
    hash still signs in, and a second ``create_schema`` changes nothing."""
    old_hash = auth.hash_password("legacy-pass-77")
    engine = sa.create_engine(warehouse_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE accounts (account_id TEXT PRIMARY KEY, name TEXT)")
        conn.exec_driver_sql("INSERT INTO accounts VALUES ('acct-a', 'Alice')")
        conn.exec_driver_sql(
            "CREATE TABLE users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL, "
            "account_id TEXT, created_at TIMESTAMP WITH TIME ZONE, "
            "CONSTRAINT ck_users_role CHECK (role IN ('analyst', 'operator')))")
        conn.execute(sa.text("INSERT INTO users VALUES ('old-alice', :h, 'analyst', 'acct-a', NULL), "
                             "('old-root', :h, 'operator', NULL, NULL)"), {"h": old_hash})
    engine.dispose()
    with Warehouse(warehouse_url) as wh:
        wh.create_schema()
        wh.create_schema()
        assert auth.authenticate(wh, "old-alice", "legacy-pass-77") == auth.User("old-alice", "analyst", "acct-a")
        assert user_repo.get(wh, "old-alice").accounts == ("acct-a",)
        assert list(wh.read("user_accounts")[["username", "account_id"]].itertuples(index=False, name=None)) == \
            [("old-alice", "acct-a")]
        auth.create_user(wh, "new-admin", "admin-pass-word-1", "admin")
        assert auth.authenticate(wh, "new-admin", "admin-pass-word-1").is_admin
        assert auth.authenticate(wh, "old-root", "legacy-pass-77").is_operator
        with pytest.raises(sa.exc.IntegrityError):      # the upgraded CHECK still refuses a made-up role
            with wh.begin() as conn:
                conn.execute(sa.text("UPDATE users SET role = 'superuser' WHERE username = 'old-root'"))
