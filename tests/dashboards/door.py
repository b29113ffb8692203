"""The door a user uses: the Streamlit app started from its router (``dashboards/streamlit_app.py``) with
AppTest, signed in through the sign-in form, pages opened as the router's navigation does (``switch_page``).

No test sets the user, the account pick or the scope in ``st.session_state`` by hand: they go through the form
and the sidebar widgets, like a person would.
"""
from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from dashboards import auth
from warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dashboards" / "streamlit_app.py"

#: (username, password, role, account) of the users :func:`add_users` creates.
USERS: dict[str, tuple[str, str, str | None]] = {
    "alice": ("alice-pass-1", "analyst", "acct-a"),
    "bob": ("bob-pass-123", "analyst", "acct-b"),
    "nobody": ("nobody-pass-1", "analyst", "acct-nobody"),
    "root": ("root-pass-12", "operator", None),
    "ada": ("ada-admin-pass-1", "admin", None),
}


#: :func:`dashboards.auth.hash_password` of a :data:`USERS` password, made once per test session.
_fixture_hash = functools.lru_cache(maxsize=None)(auth.hash_password)


def add_users(wh: Warehouse, names: tuple[str, ...] = tuple(USERS)) -> None:
    """Create the :data:`USERS` named (their accounts must exist), through :func:`dashboards.auth.create_user`.

    Each password's bcrypt hash (the production cost, 12) is made once per test session and reused: only the salt
    is shared between tests, and sign-ins still check it with bcrypt. Hashing four users at cost 12 took ~1 s in
    every test that seeds them.
    """
    real = auth.hash_password
    auth.hash_password = _fixture_hash
    try:
        for name in names:
            password, role, account = USERS[name]
            auth.create_user(wh, name, password, role, account)
    finally:
        auth.hash_password = real


def open_app(timeout: float = 60) -> AppTest:
    """The app at its router, not yet run."""
    return AppTest.from_file(str(APP), default_timeout=timeout)


def sign_in(username: str, password: str | None = None, at: AppTest | None = None) -> AppTest:
    """Run the router, fill the sign-in form and submit it (the login must be on: ``ORAGAMI_DASHBOARD_AUTH``).

    Returns:
        The app after the sign-in (on the default page).
    """
    at = (at or open_app()).run()
    at.text_input(key="login_username").set_value(username)
    at.text_input(key="login_password").set_value(password if password is not None else USERS[username][0])
    at.button[0].click().run()
    return at


def open_page(at: AppTest, page: str) -> AppTest:
    """Switch to ``page`` (``"app_pages/x.py"``, as registered in :data:`dashboards.navigation.PAGES`) and run."""
    at.switch_page(page)
    return at.run()


def as_user(username: str, page: str) -> AppTest:
    """Sign in as ``username`` and open ``page``."""
    return open_page(sign_in(username), page)


def frames(at: AppTest, column: str) -> list[pd.DataFrame]:
    """The page's dataframes that have ``column`` (AppTest exposes no key on dataframes), in page order."""
    return [df.value for df in at.dataframe if column in df.value.columns]


def nav_pages(at: AppTest) -> list[str]:
    """The page files the router's navigation registered in the last run (``"app_pages/x.py"``), in order."""
    root = APP.parent
    return [Path(str(info["script_path"])).resolve().relative_to(root).as_posix()
            for info in at._registered_pages.values() if info.get("script_path")]


def texts(at: AppTest) -> str:
    """Every message, caption and Markdown text of the page, one per line."""
    return "\n".join(str(e.value) for kind in ("info", "warning", "error", "caption", "markdown", "success")
                     for e in at.get(kind))


def click(at: AppTest, label: str) -> AppTest:
    """Click the (form submit or plain) button labelled ``label`` and run."""
    found = [b for b in at.button if b.label == label]
    assert found, f"no button {label!r}; buttons: {[b.label for b in at.button]}"
    return found[0].click().run()


def signed_in_as(at: AppTest) -> str | None:
    """The username the sidebar says is signed in (``None``: the sign-in form is shown)."""
    import re

    for m in at.sidebar.markdown:
        found = re.match(r"\*\*Signed in\*\* as `([^`]+)`", str(m.value))
        if found:
            return found.group(1)
    return None
