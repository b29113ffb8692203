"""Oragami Composer dashboard: the entry point and router (``streamlit run dashboards/streamlit_app.py``).

Every run, in this order:

1. **Sign in** (:mod:`dashboards.auth`): a login form before any navigation, through the lock-out
   (:func:`dashboards.auth.attempt_sign_in`: 5 failures per username or 20 per client within 15 minutes lock for
   15 minutes); the demo user only while the server address is loopback (the form says so otherwise). The user
   is kept by :func:`dashboards.context.sign_in`. ``ORAGAMI_DASHBOARD_AUTH=off`` skips it (local demo: the
   anonymous operator). Create users with ``oragami users add`` or on the Admin page.
2. **One page context** (:func:`dashboards.context.establish`): the session re-checked against the stored user
   (expiry, sign-out everywhere, disabled), user, role, account scope and the warehouse URL. Pages read the scope
   only from it (:func:`dashboards.context.current`). A user whose password was reset sets a new one first.
3. **Navigation** (``st.navigation`` over :func:`dashboards.navigation.pages_for` the user's role: the Admin page
   for admins only) and the sidebar drawn on every page: who is signed in, the account in view, sign out (here /
   everywhere), which warehouse is read, its latest session, a refresh button.
4. The chosen page runs.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa
import streamlit as st

from dashboards import auth, cache, context
from dashboards.navigation import pages_for
from dashboards.reads import store
from warehouse import AccountScope, Warehouse, WarehouseLockedError
from warehouse.repos import users as user_repo

st.set_page_config(page_title="Oragami Composer", page_icon=":material/insights:", layout="wide")

NO_USERS_HINT = ("No dashboard user yet. Create one with `oragami users add NAME --role admin` "
                 "(or `--role analyst --account ACCOUNT_ID`), or set `ORAGAMI_DASHBOARD_AUTH=off` to skip the login "
                 "on a local demo.")
#: Seconds a sign-in waits for Dagster to release the DuckDB file before saying "busy".
SIGN_IN_LOCK_WAIT_S = 10.0


@contextlib.contextmanager
def _writing(url: str) -> Iterator[Warehouse]:
    """A writable warehouse for a sign-in, a sign-out or a password change; the sign-in tables are created on the
    first sign-in after an upgrade."""
    wh = Warehouse(url, lock_wait_s=SIGN_IN_LOCK_WAIT_S)
    try:
        with wh.connect() as conn:
            missing = not {"sign_in_attempts", "user_accounts"} <= set(sa.inspect(conn).get_table_names())
        if missing:
            wh.create_schema()
        yield wh
    finally:
        wh.dispose()


def _sign_in_form(url: str) -> None:
    """Draw the login form (or why it cannot be used yet); a successful sign-in reruns the app."""
    st.title("Oragami Composer")
    notice = context.take_notice()
    if notice:
        st.warning(notice, icon=":material/logout:")
    try:
        ready = cache.warehouse_state(url) == "ok" and cache.users_exist(url)
    except WarehouseLockedError:
        st.warning("The warehouse is busy (Dagster is writing). Wait a moment and reload.",
                   icon=":material/hourglass_top:")
        return
    except sa.exc.OperationalError:
        st.error(f"Cannot read the warehouse at `{store.safe_url(url)}`.", icon=":material/error:")
        return
    if not ready:
        st.info(NO_USERS_HINT, icon=":material/person_add:")
        return
    address = context.server_address()
    if not auth.is_loopback(address):
        st.caption(f"This dashboard listens on `{address or 'every interface (server.address unset)'}`, not a "
                   "loopback address: the demo user is not accepted here.")
    with st.form("login"):
        st.subheader("Sign in")
        username = st.text_input("Username", key="login_username")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in", icon=":material/login:")
    if submitted:
        try:
            with _writing(url) as wh:
                result = auth.attempt_sign_in(wh, username, password, client=context.client_address(),
                                              server_address=address)
        except WarehouseLockedError:
            st.warning("The warehouse is busy (Dagster is writing). Try again in a moment.",
                       icon=":material/hourglass_top:")
            return
        if result.status != "ok":
            st.error(result.message, icon=":material/lock:" if result.status == "locked" else ":material/error:")
            return
        context.sign_in(result.user)
        st.rerun()


def _change_password(ctx: context.PageContext) -> None:
    """The form a user whose password was reset fills before any page opens."""
    st.title("Set a new password")
    st.info("An admin reset your password. Choose a new one (at least "
            f"{auth.MIN_PASSWORD_CHARS} characters, not a common word) to continue.", icon=":material/key:")
    with st.form("change_password"):
        current = st.text_input("Current (temporary) password", type="password", key="pw_current")
        new = st.text_input("New password", type="password", key="pw_new")
        again = st.text_input("New password again", type="password", key="pw_again")
        submitted = st.form_submit_button("Set password", icon=":material/key:")
    if submitted:
        if new != again:
            st.error("The two new passwords differ.", icon=":material/error:")
            return
        try:
            with _writing(ctx.url) as wh:
                user = auth.change_own_password(wh, ctx.user, current, new, origin=ctx.origin)
        except ValueError as exc:
            st.error(f"Not changed: {exc}.", icon=":material/error:")
            return
        except WarehouseLockedError:
            st.warning("The warehouse is busy (Dagster is writing). Try again in a moment.")
            return
        context.replace_user(user)
        st.rerun()
    _sign_out_buttons(ctx)


def _sign_out(ctx: context.PageContext, everywhere: bool) -> None:
    actor = user_repo.Actor(ctx.user.username, ctx.role, ctx.origin)
    try:
        with _writing(ctx.url) as wh:
            if everywhere:
                user_repo.sign_out_everywhere(wh, ctx.user.username, by=actor)
            else:
                from warehouse.repos import audit

                audit.record(wh, action="sign_out", actor=ctx.user.username, role=ctx.role,
                             account_id=ctx.user.account_id, target=ctx.user.username, origin=ctx.origin,
                             detail="signed out")
    except (WarehouseLockedError, LookupError):
        pass      # this browser signs out anyway; "everywhere" needs the warehouse: the user may retry
    context.sign_out("Signed out everywhere." if everywhere else None)


def _sign_out_buttons(ctx: context.PageContext) -> None:
    if not auth.auth_enabled():
        return
    with st.sidebar:
        left, right = st.columns(2)
        if left.button("Sign out", icon=":material/logout:", key="sign_out"):
            _sign_out(ctx, everywhere=False)
            st.rerun()
        if right.button("Everywhere", icon=":material/devices:", key="sign_out_everywhere",
                        help="Sign out every session of this user, in every browser"):
            _sign_out(ctx, everywhere=True)
            st.rerun()


def _who(ctx: context.PageContext) -> None:
    """Who is signed in, the account picker (every account, or an analyst's several), sign out."""
    with st.sidebar:
        st.markdown(f"**Signed in** as `{ctx.user.username}` ({ctx.role})")
        scope = AccountScope.all() if ctx.user.is_operator else AccountScope.only(*ctx.user.accounts)
        try:
            accts = cache.accounts(ctx.url, scope) if cache.warehouse_state(ctx.url) == "ok" else None
        except Exception:  # noqa: BLE001 - the page itself reports an unreadable warehouse
            accts = None
        context.account_picker(accts, ctx.user)
        if not ctx.user.is_operator:
            st.caption("Account " + ", ".join(f"`{a}`" for a in ctx.user.accounts) if ctx.user.accounts
                       else "No enabled account: ask an admin.")
    _sign_out_buttons(ctx)


def _warehouse(ctx: context.PageContext) -> None:
    """Which warehouse is read, its latest session in scope, the refresh button."""
    with st.sidebar:
        st.markdown("**Warehouse**")
        st.code(store.safe_url(ctx.url), language=None, wrap_lines=True)
        try:
            state = cache.warehouse_state(ctx.url)
            session = cache.latest_session(ctx.url, ctx.scope) if state == "ok" else None
        except Exception as exc:  # a locked or unreachable warehouse must not break the chrome of every page
            st.caption(f"Could not read the warehouse ({type(exc).__name__}).")
        else:
            if state == "missing":
                st.caption("No warehouse file yet.")
            elif state == "no_schema":
                st.caption("The warehouse has no tables yet.")
            else:
                st.metric("Latest session", session.isoformat() if session else "none yet")
        st.button("Refresh data", icon=":material/refresh:", help="Read the warehouse again now",
                  on_click=cache.clear)
        st.caption(f"Cached reads refresh every {cache.CACHE_TTL_S} s. Set `ORAGAMI_WAREHOUSE_URL` or "
                   "`ORAGAMI_DUCKDB_PATH` to read another warehouse.")


URL = store.settings_url()
CTX = context.establish(URL, cache.reading)
if CTX is None:
    _sign_in_form(URL)
    st.stop()
if CTX.user.must_change_password:
    _change_password(CTX)
    st.stop()
page = st.navigation([st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path, default=i == 0)
                      for i, p in enumerate(pages_for(CTX.role))])
_who(CTX)
_warehouse(CTX)
page.run()
