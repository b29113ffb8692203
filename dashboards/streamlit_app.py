"""Oragami Composer dashboard: the entry point and router (``streamlit run dashboards/streamlit_app.py``).

Every run, in this order:

1. **Sign in** (:mod:`dashboards.auth`): a login form before any navigation; the user is kept by
   :func:`dashboards.context.sign_in`. ``ORAGAMI_DASHBOARD_AUTH=off`` skips it (local demo: the anonymous
   operator). Create users with ``python -m dashboards.auth add-user``.
2. **One page context** (:func:`dashboards.context.establish`): user, role, account scope (an analyst's account;
   an operator's pick, or every account said explicitly) and the warehouse URL. Pages read the scope only from
   it (:func:`dashboards.context.current`).
3. **Navigation** (``st.navigation`` over :data:`dashboards.navigation.PAGES`) and the sidebar drawn on every
   page: who is signed in, the account in view, which warehouse is read, its latest session, a refresh button.
4. The chosen page runs.
"""
from __future__ import annotations

import sqlalchemy as sa
import streamlit as st

from dashboards import actions, auth, cache, context
from dashboards.navigation import PAGES
from dashboards.reads import store
from warehouse import WarehouseLockedError

st.set_page_config(page_title="Oragami Composer", page_icon=":material/insights:", layout="wide")

NO_USERS_HINT = ("No dashboard user yet. Create one with `python -m dashboards.auth add-user NAME --role operator` "
                 "(or `--role analyst --account ACCOUNT_ID`), or set `ORAGAMI_DASHBOARD_AUTH=off` to skip the login "
                 "on a local demo.")


def _sign_in_form(url: str) -> None:
    """Draw the login form (or why it cannot be used yet); a successful sign-in reruns the app."""
    st.title("Oragami Composer")
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
    with st.form("login"):
        st.subheader("Sign in")
        username = st.text_input("Username", key="login_username")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in", icon=":material/login:")
    if submitted:
        found = actions.authenticate(url, username, password)
        if found is None:
            st.error("Wrong username or password.", icon=":material/error:")
            return
        context.sign_in(found)
        st.rerun()


def _who(ctx: context.PageContext) -> None:
    """Who is signed in, the operator's account picker (or the analyst's account), sign out."""
    with st.sidebar:
        st.markdown(f"**Signed in** as `{ctx.user.username}` ({ctx.role})")
        if ctx.user.is_operator:
            try:
                accts = cache.accounts(ctx.url, context.scope_for(ctx.user)) \
                    if cache.warehouse_state(ctx.url) == "ok" else None
            except Exception:  # noqa: BLE001 - the page itself reports an unreadable warehouse
                accts = None
            context.account_picker(accts)
        else:
            st.caption(f"Account `{ctx.user.account_id}`")
        if auth.auth_enabled() and st.button("Sign out", icon=":material/logout:"):
            context.sign_out()
            st.rerun()


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
CTX = context.establish(URL)
if CTX is None:
    _sign_in_form(URL)
    st.stop()
page = st.navigation([st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path, default=i == 0)
                      for i, p in enumerate(PAGES)])
_who(CTX)
_warehouse(CTX)
page.run()
