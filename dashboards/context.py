"""The page context: who is signed in and which accounts every read of this run may return — the only reader of
the scope.

The router (:mod:`dashboards.streamlit_app`) calls :func:`establish` once per run, before the page runs; the page
calls :func:`current` and passes ``ctx.scope`` to every read (:mod:`dashboards.cache`). No other module reads the
user, the operator's account pick or the scope from ``st.session_state``.

* An **analyst** sees their account: ``AccountScope.only(user.account_id)``, whatever was picked.
* An **operator** sees every account, said explicitly (``AccountScope.all()``), or the one account picked in the
  sidebar (:func:`account_picker`).
* ``ORAGAMI_DASHBOARD_AUTH=off`` (local demo): the anonymous operator, every account.

A page opened without the router (no context this run) shows nothing but a message and stops: the safe default
is no data, never "all accounts".
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from dashboards import auth
from warehouse import AccountScope

#: ``st.session_state`` key of the signed-in :class:`~dashboards.auth.User` (kept across reruns).
USER_KEY = "user"
#: Widget key of the operator's account pick in the sidebar (``None``: every account).
PICK_KEY = "account_pick"
_CONTEXT_KEY = "_page_context"


@dataclass(frozen=True)
class PageContext:
    """What a page needs to know about this run, built once by the router.

    Attributes:
        user: the signed-in user.
        scope: the accounts every read of this run may return.
        url: the warehouse URL (contains the password if any: display :func:`dashboards.reads.store.safe_url`).
    """

    user: auth.User
    scope: AccountScope
    url: str

    @property
    def role(self) -> str:
        """``"analyst"`` or ``"operator"``."""
        return self.user.role

    @property
    def home_account(self) -> str | None:
        """The one account in scope (an analyst's, or the operator's pick), or ``None`` for several or all."""
        accounts = self.scope.accounts
        return next(iter(accounts)) if accounts is not None and len(accounts) == 1 else None


def scope_for(user: auth.User, picked_account: str | None = None) -> AccountScope:
    """The scope of ``user``: an analyst's own account whatever was picked; an operator's pick, or every account.

    Raises:
        ValueError: an analyst without an account.
    """
    if user.is_operator:
        return AccountScope.all() if picked_account is None else AccountScope.only(picked_account)
    if not user.account_id:
        raise ValueError(f"analyst '{user.username}' has no account")
    return AccountScope.only(user.account_id)


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


def sign_out() -> None:
    """Forget the user, the pick and this run's context."""
    for key in (USER_KEY, PICK_KEY, _CONTEXT_KEY):
        st.session_state.pop(key, None)


def account_picker(accounts: pd.DataFrame | None) -> None:
    """Draw the operator's account selectbox (``accounts``: ``account_id, name``; ``None`` when unreadable)."""
    if accounts is None or accounts.empty:
        return
    names = dict(zip(accounts["account_id"], accounts["name"]))
    options = [None, *accounts["account_id"]]
    if st.session_state.get(PICK_KEY) not in options:
        st.session_state[PICK_KEY] = None
    st.selectbox("Account", options, key=PICK_KEY,
                 format_func=lambda a: "All accounts" if a is None else f"{names.get(a) or a} ({a})")


def establish(url: str) -> PageContext | None:
    """This run's context (stored for :func:`current`), or ``None`` when nobody is signed in.

    Called by the router once per run, before any page code. The operator's pick is the one drawn by
    :func:`account_picker` in the previous run (a widget's value is known at the start of a run).
    """
    st.session_state.pop(_CONTEXT_KEY, None)
    user = signed_in_user()
    if user is None:
        return None
    picked = st.session_state.get(PICK_KEY) if user.is_operator else None
    ctx = PageContext(user=user, scope=scope_for(user, picked), url=url)
    st.session_state[_CONTEXT_KEY] = ctx
    return ctx


def current() -> PageContext:
    """The context the router established for this run; without one, say so and stop the page."""
    ctx = st.session_state.get(_CONTEXT_KEY)
    if not isinstance(ctx, PageContext):
        st.warning("Open the dashboard through `streamlit run dashboards/streamlit_app.py` and sign in.",
                   icon=":material/lock:")
        st.stop()
    return ctx


__all__ = ["USER_KEY", "PICK_KEY", "PageContext", "scope_for", "signed_in_user", "sign_in", "sign_out",
           "account_picker", "establish", "current"]
