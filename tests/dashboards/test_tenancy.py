"""Tenancy through the door a user uses: an analyst of account A, signed in through the app's form, opens every
page file (discovered from ``dashboards/app_pages/`` and checked against the router's list), works every selector
on it, and nothing rendered — Markdown, captions, messages, metrics, selectbox and multiselect options,
dataframes, chart specs, expander and tab labels, the sidebar — carries account B's ids, names, order ids, run ids,
reasons, tickers, its only session, or its NAV / cash / fill / position values.

The warehouse holds account A (``acct-a``: symphonies, allocations, runs, traces, NAV, backtests, orders, intents,
fills, positions), account B (:data:`tests.dashboards.seed_data.BRAVO`, the same kinds of rows, every string and
number recognisable) and a third account ``acct-b`` whose markers are forbidden too.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from streamlit.runtime.state.common import TESTING_KEY
from streamlit.testing.v1 import AppTest

from dashboards import auth
from dashboards.navigation import PAGES
from tests.dashboards.door import ROOT, add_users, as_user
from tests.dashboards.seed_data import BRAVO, BRAVO_NUMBERS, BRAVO_TEXTS, seed_bravo, seed_perf
from warehouse import Warehouse

APP_PAGES = ROOT / "dashboards" / "app_pages"
PAGE_FILES = sorted(f"app_pages/{p.name}" for p in APP_PAGES.glob("*.py") if not p.name.startswith("_"))
#: The third account's markers (``acct-b`` "Bob": ``sym-qqq`` "Nasdaq Tilt", NAV 4,950).
OTHER_TEXTS = ("acct-b", "Bob", "sym-qqq", "Nasdaq Tilt")
FORBIDDEN_TEXTS = (*BRAVO_TEXTS, *OTHER_TEXTS)
FORBIDDEN_NUMBERS = (*BRAVO_NUMBERS, 4950.0, 5000.0)


@pytest.fixture(scope="module")
def tenants_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tenancy") / "tenants.duckdb"
    with Warehouse(f"duckdb:///{path}") as wh:
        wh.create_schema()
        seed_perf(wh)
        seed_bravo(wh)
        add_users(wh, ("alice",))
        _seed_audit(wh)
    return path


def _seed_audit(wh: Warehouse) -> None:
    """Audit events of account A (shown to alice), of account B and platform-wide ones (never shown to her)."""
    from warehouse.repos import audit

    audit.record(wh, action="symphony_activated", actor="alice", role="analyst", account_id="acct-a",
                 target="sym-6040", origin="dashboard", detail="Sixty Forty activated")
    audit.record(wh, action="symphony_uploaded", actor="zed", role="analyst", account_id=BRAVO,
                 target="sym-bravo-zulu", origin="dashboard", detail="Zulu Leak Momentum uploaded")
    audit.record(wh, action="user_created", actor="ada", role="admin", account_id=None, target="Bob",
                 origin="cli", detail="role analyst, acct-b")


@pytest.fixture
def signed_in(tenants_db, use_duckdb, monkeypatch):
    use_duckdb(tenants_db)
    monkeypatch.setenv(auth.ENV_AUTH, "on")
    return tenants_db


# -- what a page shows ---------------------------------------------------------------------------------------------

def _nodes(node) -> Iterator:
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _nodes(child)


def _rendered(at: AppTest) -> tuple[list[str], list[pd.DataFrame]]:
    """Every rendered element as text (its protobuf, which holds labels, bodies, options, help, chart specs and
    the Arrow bytes of tables) and every dataframe's value."""
    texts, frames = [], []
    for node in _nodes(at._tree):
        proto = getattr(node, "proto", None)
        if proto is not None:
            texts.append(str(proto))
        if getattr(node, "type", None) in ("arrow_data_frame", "dataframe", "table"):
            value = node.value
            frames.append(value if isinstance(value, pd.DataFrame) else pd.DataFrame(value))
    for kind in ("selectbox", "multiselect"):
        for widget in at.get(kind):
            texts.extend(str(o) for o in widget.options)
    return texts, frames


def _number_forms(x: float) -> tuple[str, ...]:
    return (f"{x:,.2f}", f"{x:.2f}", repr(x))


def leaks(texts: list[str], frames: list[pd.DataFrame]) -> list[str]:
    """What of account B (and the third account) is visible: ``"text 'sym-bravo-zulu'"``, ``"number 31337.13"``."""
    blob = "\n".join(texts)
    found = [f"text {t!r}" for t in FORBIDDEN_TEXTS if t in blob]
    found += [f"number {x}" for x in FORBIDDEN_NUMBERS if any(form in blob for form in _number_forms(x))]
    for frame in frames:
        cells = [frame.columns.astype(str).tolist(), frame.index.astype(str).tolist()]
        for col in frame.columns:
            cells.append(frame[col].tolist())
        for values in cells:
            for v in values:
                if isinstance(v, str) and (any(t in v for t in FORBIDDEN_TEXTS) or any(
                        form in v for x in FORBIDDEN_NUMBERS for form in _number_forms(x)[:2])):
                    found.append(f"cell {v!r}")  # a name, id or a number formatted as text ("$31,400.01")
                elif isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) \
                        and any(abs(v - x) < 1e-6 for x in FORBIDDEN_NUMBERS):
                    found.append(f"cell {v!r}")
                elif isinstance(v, dict) and any(t in str(v) for t in FORBIDDEN_TEXTS):
                    found.append(f"cell {v!r}")
    return sorted(set(found))


def _choose(at: AppTest, widget, index: int) -> None:
    """Pick the ``index``-th option of a selectbox as the browser does: by its displayed label."""
    formats = at.session_state[TESTING_KEY]
    formats[widget.id] = str  # the browser sends the label it showed; the app maps it back to the value
    widget.set_value(widget.options[index])
    at.run()


def _exercise(at: AppTest) -> Iterator[tuple[str, list[str], list[pd.DataFrame]]]:
    """The page as opened, then after each option of each main-area selectbox, then with every option of each
    multiselect chosen."""
    yield "opened", *_rendered(at)
    for key in [w.key for w in at.main.selectbox if w.key]:
        for i in range(len(at.selectbox(key=key).options)):
            _choose(at, at.selectbox(key=key), i)
            assert not at.exception, f"{key}[{i}]: {at.exception}"
            yield f"{key}[{i}]", *_rendered(at)
    for key in [w.key for w in at.main.multiselect if w.key]:
        widget = at.multiselect(key=key)
        at.session_state[TESTING_KEY][widget.id] = str
        widget.set_value(list(widget.options))
        at.run()
        assert not at.exception, f"{key}: {at.exception}"
        yield f"{key}=all", *_rendered(at)


# -- the tests -----------------------------------------------------------------------------------------------------

def test_every_page_file_is_in_the_router():
    """The parametrised test below covers the files in ``app_pages/``; the router registers the same list."""
    assert PAGE_FILES == sorted(p.path for p in PAGES)
    assert {"app_pages/overview.py", "app_pages/orders.py", "app_pages/audit.py", "app_pages/admin.py"} \
        <= set(PAGE_FILES) and len(PAGE_FILES) >= 8


@pytest.mark.parametrize("page", PAGE_FILES)
def test_an_analyst_sees_no_other_account_on_any_page(page, signed_in):
    roles = next(p.roles for p in PAGES if p.path == page)
    if roles is not None and "analyst" not in roles:   # not in an analyst's navigation: it cannot be opened
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            as_user("alice", page)
        return
    at = as_user("alice", page)
    assert not at.exception
    assert not [w.value for w in at.warning if "Open the dashboard through" in w.value]  # the context was built
    states = list(_exercise(at))
    shown = "\n".join("\n".join(texts) for _, texts, _ in states)
    assert "Sixty Forty" in shown  # account A's own symphony is on the page: the check is not vacuous
    found = {state: leaks(texts, frames) for state, texts, frames in states}
    assert not {state: f for state, f in found.items() if f}, f"{page} shows another account's data"


def test_the_leak_check_sees_account_b_when_it_is_shown(signed_in):
    """The detector itself: the same page read by an operator (every account) does show B's data."""
    with Warehouse(f"duckdb:///{signed_in}") as wh:
        add_users(wh, ("root",))
    at = as_user("root", "app_pages/orders.py")
    found = [f for _, texts, frames in _exercise(at) for f in leaks(texts, frames)]
    assert "text 'Zulu Leak Momentum'" in found and "text 'ord-bravo-xle-1'" in found
    assert "text '2024-01-08'" in found
    assert "cell '$31,400.01'" in found  # the dashboard formats money as text (dashboards.present.format)
