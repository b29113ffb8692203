"""The page context: who is signed in and which accounts every read of this run may return — the only reader of
the scope.

The router (:mod:`dashboards.streamlit_app`) calls :func:`establish` once per run, before the page runs; the page
calls :func:`current` and passes ``ctx.scope`` to every read (:mod:`dashboards.cache`). No other module reads the
user, the account pick or the scope from ``st.session_state``.

* An **analyst** sees their accounts: ``AccountScope.only(*user.accounts)``, or the one of them picked in the
  sidebar (with several); a pick outside them is ignored.
* An **operator** or **admin** sees every account, said explicitly (``AccountScope.all()``), or the one account
  picked in the sidebar (:func:`account_picker`).
* ``ORAGAMI_DASHBOARD_AUTH=off`` (local demo): the anonymous operator, every account.

Every run re-checks the session against the stored user (:func:`dashboards.auth.session_problem`): an expired
session, a moved session epoch (signed out everywhere, password changed or reset) or a disabled user signs the
browser out, with the reason shown on the sign-in form (:func:`take_notice`); a role or membership change applies
at once.

A page opened without the router (no context this run) shows nothing but a message and stops: the safe default
is no data, never "all accounts".
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pandas as pd
import streamlit as st

from dashboards import auth
from warehouse import AccountScope, WarehouseLockedError

#: ``st.session_state`` key of the signed-in :class:`~dashboards.auth.User` (kept across reruns).
USER_KEY = "user"
#: Widget key of the account pick in the sidebar (``None``: every account in reach).
PICK_KEY = "account_pick"
_CONTEXT_KEY = "_page_context"
_NOTICE_KEY = "_sign_in_notice"

#: What the sign-in form says after the router ended a session (:func:`auth.session_problem` reasons).
SESSION_NOTICES = {
    "expired": "Your session expired. Sign in again.",
    "signed_out": "You were signed out (signed out everywhere, or the password changed). Sign in again.",
    "disabled": "This user was disabled by an admin.",
    "unknown": "This user no longer exists.",
}


@dataclass(frozen=True)
class PageContext:
    """What a page needs to know about this run, built once by the router.

    Attributes:
        user: the signed-in user.
        scope: the accounts every read of this run may return.
        url: the warehouse URL (contains the password if any: display :func:`dashboards.reads.store.safe_url`).
        client: the browser's address (:func:`client_address`), for the audit trail's "from where".
    """

    user: auth.User
    scope: AccountScope
    url: str
    client: str = auth.UNKNOWN_CLIENT

    @property
    def role(self) -> str:
        """``"analyst"``, ``"operator"`` or ``"admin"``."""
        return self.user.role

    @property
    def origin(self) -> str:
        """The audit trail's "from where": ``"dashboard <client address>"``."""
        return f"dashboard {self.client}"

    @property
    def home_account(self) -> str | None:
        """The one account in scope (an analyst's, or the pick), or ``None`` for several or all."""
        accounts = self.scope.accounts
        return next(iter(accounts)) if accounts is not None and len(accounts) == 1 else None


def scope_for(user: auth.User, picked_account: str | None = None) -> AccountScope:
    """The scope of ``user``: an analyst's accounts (or the one of them picked); an operator's or admin's pick, or
    every account.

    Raises:
        ValueError: an analyst without an account.
    """
    if user.is_operator:
        return AccountScope.all() if picked_account is None else AccountScope.only(picked_account)
    if not user.accounts:
        raise ValueError(f"analyst '{user.username}' has no account")
    if picked_account is not None and picked_account in user.accounts:
        return AccountScope.only(picked_account)
    return AccountScope.only(*user.accounts)


def client_address() -> str:
    """The browser's address as Streamlit sees it (``st.context.ip_address``), or
    :data:`dashboards.auth.UNKNOWN_CLIENT` when there is none (AppTest, some proxies)."""
    try:
        ip = st.context.ip_address
    except Exception:  # noqa: BLE001 - no browser connection (bare mode)
        return auth.UNKNOWN_CLIENT
    return ip if isinstance(ip, str) and ip else auth.UNKNOWN_CLIENT


def server_address() -> str | None:
    """The address the app listens on (Streamlit option ``server.address``; ``None`` when unset = every
    interface)."""
    value = st.get_option("server.address")
    return str(value) if value else None


def signed_in_user() -> auth.User | None:
    """The signed-in user (the anonymous operator when the login is off), or ``None``."""
    if not auth.auth_enabled():
        return auth.ANONYMOUS_OPERATOR
    user = st.session_state.get(USER_KEY)
    return user if isinstance(user, auth.User) else None


def sign_in(user: auth.User) -> None:
    """Remember ``user`` for the following runs (the account pick starts again at every account)."""
    st.session_state[USER_KEY] = user
    st.session_state.pop(PICK_KEY, None)


def sign_out(notice: str | None = None) -> None:
    """Forget the user, the pick and this run's context (``notice``: shown once on the sign-in form)."""
    for key in (USER_KEY, PICK_KEY, _CONTEXT_KEY):
        st.session_state.pop(key, None)
    if notice:
        st.session_state[_NOTICE_KEY] = notice


def take_notice() -> str | None:
    """The message left by the last :func:`sign_out` (shown once), or ``None``."""
    return st.session_state.pop(_NOTICE_KEY, None)


def account_picker(accounts: pd.DataFrame | None, user: auth.User | None = None) -> None:
    """Draw the sidebar's account selectbox (``accounts``: ``account_id, name``; ``None`` when unreadable): every
    account for an operator/admin, the analyst's own accounts (only drawn when they have several)."""
    if accounts is None or accounts.empty:
        return
    if user is not None and not user.is_operator:
        accounts = accounts[accounts["account_id"].isin(user.accounts)]
        if len(accounts) < 2:
            return
    names = dict(zip(accounts["account_id"], accounts["name"]))
    options = [None, *accounts["account_id"]]
    if st.session_state.get(PICK_KEY) not in options:
        st.session_state[PICK_KEY] = None
    every = "All accounts" if user is None or user.is_operator else "All my accounts"
    st.selectbox("Account", options, key=PICK_KEY,
                 format_func=lambda a: every if a is None else f"{names.get(a) or a} ({a})")


def _checked(user: auth.User, url: str, reading: Callable) -> auth.User | None:
    """``user`` as stored now, or ``None`` after signing the browser out (reason kept for the sign-in form)."""
    try:
        with reading(url) as wh:
            problem, fresh = auth.session_problem(wh, user)
    except WarehouseLockedError:
        return user       # Dagster holds the file: the pages say "busy"; the check runs again next time
    except Exception:  # noqa: BLE001 - unreadable (file removed, server down): the session cannot be checked
        sign_out("Your session could not be checked against the warehouse. Sign in again.")
        return None
    if problem is not None:
        sign_out(SESSION_NOTICES.get(problem, "Sign in again."))
        return None
    if fresh != user or fresh.accounts != user.accounts or fresh.must_change_password != user.must_change_password:
        st.session_state[USER_KEY] = fresh
    return fresh


def establish(url: str, reading: Callable | None = None) -> PageContext | None:
    """This run's context (stored for :func:`current`), or ``None`` when nobody is signed in.

    Called by the router once per run, before any page code. The account pick is the one drawn by
    :func:`account_picker` in the previous run (a widget's value is known at the start of a run).

    Args:
        url: the warehouse URL.
        reading: ``reading(url)`` -> a read-only warehouse context manager (:func:`dashboards.cache.reading`),
            used to re-check the session; ``None`` skips the check (the login is off).
    """
    st.session_state.pop(_CONTEXT_KEY, None)
    user = signed_in_user()
    if user is None:
        return None
    if auth.auth_enabled() and reading is not None:
        user = _checked(user, url, reading)
        if user is None:
            return None
    picked = st.session_state.get(PICK_KEY)
    try:
        scope = scope_for(user, picked)
    except ValueError:   # an analyst left without an (enabled) account sees nothing
        scope = AccountScope.only()
    ctx = PageContext(user=user, scope=scope, url=url, client=client_address())
    st.session_state[_CONTEXT_KEY] = ctx
    return ctx


def replace_user(user: auth.User) -> None:
    """Keep ``user`` (e.g. after a password change: new epoch, flag cleared) for this and the next runs."""
    st.session_state[USER_KEY] = user
    ctx = st.session_state.get(_CONTEXT_KEY)
    if isinstance(ctx, PageContext):
        st.session_state[_CONTEXT_KEY] = replace(ctx, user=user)


def current_or_none() -> PageContext | None:
    """The context the router established for this run, or ``None`` (no message, no stop) — for the actions that
    record who did what."""
    try:
        ctx = st.session_state.get(_CONTEXT_KEY)
    except Exception:  # noqa: BLE001 - no Streamlit session (a script or test calling the actions directly)
        return None
    return ctx if isinstance(ctx, PageContext) else None


def current() -> PageContext:
    """The context the router established for this run; without one, say so and stop the page."""
    ctx = st.session_state.get(_CONTEXT_KEY)
    if not isinstance(ctx, PageContext):
        st.warning("Open the dashboard through `streamlit run dashboards/streamlit_app.py` and sign in.",
                   icon=":material/lock:")
        st.stop()
    return ctx


__all__ = ["USER_KEY", "PICK_KEY", "SESSION_NOTICES", "PageContext", "scope_for", "client_address",
           "server_address", "signed_in_user", "sign_in", "sign_out", "take_notice", "account_picker", "establish",
           "replace_user", "current_or_none", "current"]
