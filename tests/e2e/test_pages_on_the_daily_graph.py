"""Every page, through the router and the sign-in form (AppTest), on a warehouse the real daily graph wrote —
the end-to-end check that runs without a browser (``test_browser.py`` drives Chromium where it is installed).

Asserts each page renders without an exception and shows the analyst's symphonies, and that the Symphony detail
page and the decision replay evaluate on the warehouse's bars (the closes the daily graph traded on), agreeing
with the target weights the daily graph stored for that session.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import streamlit as st

from dashboards import auth
from dashboards.navigation import PAGES
from dashboards.reads.prices import WAREHOUSE_SOURCE
from tests.dashboards.door import frames, open_page, sign_in
from tests.e2e.conftest import PASSWORD, SESSIONS, USER
from warehouse import Warehouse

pytestmark = pytest.mark.slow
LAST = dt.date.fromisoformat(SESSIONS[-1])


@pytest.fixture
def signed_in(seeded_db, monkeypatch):
    """The dashboards read ``seeded_db`` with the login on; Streamlit's data cache is empty before and after."""
    monkeypatch.delenv("ORAGAMI_WAREHOUSE_URL", raising=False)
    monkeypatch.setenv("ORAGAMI_DUCKDB_PATH", str(seeded_db))
    monkeypatch.setenv(auth.ENV_AUTH, "on")
    st.cache_data.clear()
    yield seeded_db
    st.cache_data.clear()


@pytest.mark.parametrize("page", [p.path for p in PAGES if p.path != "app_pages/admin.py"])  # admins only
def test_every_page_renders_for_the_analyst(page, signed_in):
    at = open_page(sign_in(USER, PASSWORD), page)
    assert not at.exception, at.exception
    text = "\n".join(str(n.proto) for n in at.get("markdown") + at.get("selectbox") + at.get("multiselect")
                     + at.get("expander") + at.get("caption") if getattr(n, "proto", None) is not None)
    text += "\n".join(str(df.value.to_dict()) for df in at.dataframe)
    if page == "app_pages/audit.py":   # the account's events: the graph's order batches
        assert "sent (" in text and "order_batch_submitted" in text
    else:
        assert "Sector Surfing" in text


def _stored_weights(path, symphony_id: str) -> dict[str, float]:
    with Warehouse(f"duckdb:///{path}", read_only=True) as wh:
        rows = wh.read("target_allocations", where={"symphony_id": symphony_id, "session_date": LAST})
    return {t: w for t, w in zip(rows["ticker"], rows["target_weight"]) if w > 1e-9 and t != "$USD"}


def test_detail_page_explains_the_session_on_the_prices_traded(signed_in):
    at = open_page(sign_in(USER, PASSWORD), "app_pages/symphony_detail.py")
    box = at.selectbox(key="detail_symphony")
    with Warehouse(f"duckdb:///{signed_in}", read_only=True) as wh:
        sid = wh.read("symphonies", where={"name": "Sector Surfing"})["symphony_id"].iloc[0]
    box.set_value(sid)
    at.date_input(key="detail_day").set_value(LAST).run()
    assert not at.exception
    assert f"Prices: {WAREHOUSE_SOURCE}." in [c.value for c in at.caption]
    held = next(m.value for m in at.markdown if m.value.startswith(f"**Path taken on {LAST}:**"))
    for ticker in _stored_weights(signed_in, sid):
        assert ticker in held  # the path drawn holds what the daily graph targeted that session


def test_replay_reads_the_warehouse_bars(signed_in):
    at = open_page(sign_in(USER, PASSWORD), "app_pages/backtests.py")
    assert not at.exception
    assert f"Prices: {WAREHOUSE_SOURCE}." in [c.value for c in at.caption]
    weights = frames(at, "weight")[0]
    shown = weights["weight"]
    if not pd.api.types.is_numeric_dtype(shown):   # formatted for reading ("53.5 %"): back to fractions
        shown = pd.to_numeric(shown.astype(str).str.replace("%", "").str.replace("\u2212", "-").str.strip()) / 100
    assert len(weights) and abs(shown.sum() - 1.0) < 5e-3
