"""Oragami Composer dashboard: the entry point and router (``streamlit run dashboards/streamlit_app.py``).

Pages live in ``dashboards/app_pages/`` and are registered with ``st.navigation`` (style guide §3.1); the sidebar
drawn here (which warehouse is read, its latest session, a refresh button) appears on every page. Reads go
through :mod:`dashboards.data` (cached, read-only, short-lived warehouse connections).
"""
from __future__ import annotations

import streamlit as st

from dashboards import data, queries

st.set_page_config(page_title="Oragami Composer", page_icon=":material/insights:", layout="wide")

PAGES = [
    st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
]


def _sidebar() -> None:
    url = data.warehouse_url()
    with st.sidebar:
        st.markdown("**Warehouse**")
        st.code(queries.safe_url(url), language=None, wrap_lines=True)
        try:
            state = data.warehouse_state(url)
            session = data.latest_session(url) if state == "ok" else None
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
                  on_click=data.clear)
        st.caption(f"Cached reads refresh every {data.CACHE_TTL_S} s. Set `ORAGAMI_WAREHOUSE_URL` or "
                   "`ORAGAMI_DUCKDB_PATH` to read another warehouse.")


page = st.navigation(PAGES)
_sidebar()
page.run()
