"""Oragami Composer dashboard: the entry point and router (``streamlit run dashboards/streamlit_app.py``).

Pages live in ``dashboards/app_pages/`` and are registered with ``st.navigation`` (style guide §3.1); the sidebar
drawn here (who is signed in, the account in view, which warehouse is read, its latest session, a refresh button)
appears on every page. Reads go through :mod:`dashboards.data` (cached, read-only, short-lived warehouse
connections).

Sign-in (:mod:`dashboards.auth`): a login form runs before the navigation and keeps the :class:`~dashboards.auth.User`
in ``st.session_state["user"]``. An analyst sees only their account; an operator sees every account and picks one
(or all) in the sidebar (``st.session_state["account_scope"]``). ``ORAGAMI_DASHBOARD_AUTH=off`` skips the login
(local demo: everyone is an operator). Create users with ``python -m dashboards.auth add-user``.
"""
from __future__ import annotations

import sqlalchemy as sa
import streamlit as st

from dashboards import auth, data, queries
from warehouse import WarehouseLockedError

st.set_page_config(page_title="Oragami Composer", page_icon=":material/insights:", layout="wide")

def _refresh_all() -> None:
    """Drop every cached warehouse read (the overview/library/detail caches and the performance pages')."""
    from dashboards import data_perf

    data.clear()
    data_perf.clear()


PAGES = [
    st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("app_pages/library.py", title="Symphony library", icon=":material/library_books:",
            url_path="library"),
    st.Page("app_pages/symphony_detail.py", title="Symphony detail", icon=":material/account_tree:",
            url_path="symphony"),
    st.Page("app_pages/performance.py", title="Performance", icon=":material/trending_up:", url_path="performance"),
    st.Page("app_pages/backtests.py", title="Backtests", icon=":material/history:", url_path="backtests"),
    st.Page("app_pages/orders.py", title="Orders & positions", icon=":material/receipt_long:", url_path="orders"),
]

NO_USERS_HINT = ("No dashboard user yet. Create one with `python -m dashboards.auth add-user NAME --role operator` "
                 "(or `--role analyst --account ACCOUNT_ID`), or set `ORAGAMI_DASHBOARD_AUTH=off` to skip the login "
                 "on a local demo.")


def _login(url: str) -> auth.User | None:
    """The signed-in user, drawing the login form when there is none (``None`` then: stop the run)."""
    user = data.current_user()
    if user is not None:
        return user
    if not auth.auth_enabled():
        st.session_state[data.USER_KEY] = auth.ANONYMOUS_OPERATOR
        return auth.ANONYMOUS_OPERATOR
    st.title("Oragami Composer")
    try:
        ready = data.warehouse_state(url) == "ok" and data.users_exist(url)
    except WarehouseLockedError:
        st.warning("The warehouse is busy (Dagster is writing). Wait a moment and reload.",
                   icon=":material/hourglass_top:")
        return None
    except sa.exc.OperationalError:
        st.error(f"Cannot read the warehouse at `{queries.safe_url(url)}`.", icon=":material/error:")
        return None
    if not ready:
        st.info(NO_USERS_HINT, icon=":material/person_add:")
        return None
    with st.form("login"):
        st.subheader("Sign in")
        username = st.text_input("Username", key="login_username")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in", icon=":material/login:")
    if submitted:
        found = data.authenticate(url, username, password)
        if found is None:
            st.error("Wrong username or password.", icon=":material/error:")
            return None
        st.session_state[data.USER_KEY] = found
        st.session_state.pop(data.SCOPE_KEY, None)
        st.rerun()
    return None


def _account_picker(url: str, user: auth.User) -> None:
    """Operators choose the account in view (``None``: all); analysts see theirs, named."""
    with st.sidebar:
        st.markdown(f"**Signed in** as `{user.username}` ({user.role})")
        if user.is_operator:
            try:
                accts = data.accounts(url, None) if data.warehouse_state(url) == "ok" else None
            except Exception:  # noqa: BLE001 - the page itself reports an unreadable warehouse
                accts = None
            if accts is not None and len(accts):
                names = dict(zip(accts["account_id"], accts["name"]))
                options = [None, *accts["account_id"]]
                if st.session_state.get(data.SCOPE_KEY) not in options:
                    st.session_state[data.SCOPE_KEY] = None
                st.selectbox("Account", options, key=data.SCOPE_KEY,
                             format_func=lambda a: "All accounts" if a is None else f"{names.get(a) or a} ({a})")
        else:
            st.caption(f"Account `{user.account_id}`")
        if auth.auth_enabled():
            if st.button("Sign out", icon=":material/logout:"):
                for key in (data.USER_KEY, data.SCOPE_KEY):
                    st.session_state.pop(key, None)
                st.rerun()


def _sidebar(url: str, scope: str | None) -> None:
    with st.sidebar:
        st.markdown("**Warehouse**")
        st.code(queries.safe_url(url), language=None, wrap_lines=True)
        try:
            state = data.warehouse_state(url)
            session = data.latest_session(url, scope) if state == "ok" else None
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
                  on_click=_refresh_all)
        st.caption(f"Cached reads refresh every {data.CACHE_TTL_S} s. Set `ORAGAMI_WAREHOUSE_URL` or "
                   "`ORAGAMI_DUCKDB_PATH` to read another warehouse.")


URL = data.warehouse_url()
USER = _login(URL)
if USER is None:
    st.stop()
page = st.navigation(PAGES)
_account_picker(URL, USER)
_sidebar(URL, data.account_scope())
page.run()
