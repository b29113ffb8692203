"""The Research page in a real browser (headless Chromium through Selenium, as :mod:`tests.e2e.test_browser`):
sign in as an analyst, open Research from the sidebar over a warehouse the Dagster research assets wrote (a
walk-forward over golden-rotation-2x's two volatility windows, a research backtest split at 2018-01-02), check the
figures and save ``research.png`` (and ``research_walk_forward.png``) under the screenshots folder."""
from __future__ import annotations

import time

import pytest

from tests.dashboards.door import USERS
from tests.dashboards.test_research_page import SID, build_research_db
from tests.e2e.test_browser import CHROMIUM, DRIVER, SHOTS, app, browser, click, no_exception, retry, \
    wait_for_text  # noqa: F401 - fixtures reused
from warehouse import AccountScope, Warehouse
from warehouse.repos import research as repo

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (CHROMIUM and DRIVER),
                       reason="Debian chromium and chromium-driver are not installed (.ci/run installs them)"),
]


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory):
    """Overrides the e2e warehouse for this module: the research results (read by the ``app`` fixture)."""
    return build_research_db(tmp_path_factory.mktemp("research-browser") / "w.duckdb")


def test_research_page_in_the_browser(app, browser, seeded_db):
    from selenium.webdriver.common.by import By

    with Warehouse(f"duckdb:///{seeded_db}", read_only=True) as wh:
        study = repo.studies(wh, AccountScope.only("acct-a"), SID).iloc[0]
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.get(app)
    wait_for_text(browser, "Sign in")
    retry(lambda: browser.find_element(By.CSS_SELECTOR, 'input[aria-label="Username"]').send_keys("alice"))
    retry(lambda: browser.find_element(By.CSS_SELECTOR, 'input[aria-label="Password"]').send_keys(USERS["alice"][0]))
    click(browser, button_text="Sign in")
    wait_for_text(browser, "Overview")
    click(browser, css='[data-testid="stSidebarNav"] a[href$="/research"]')
    wait_for_text(browser, "In sample vs out of sample")
    wait_for_text(browser, f"below the median out of sample is {study['pbo']:.0%}")
    wait_for_text(browser, "Parameters chosen per window")
    time.sleep(3)
    no_exception(browser)
    assert len(browser.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")) == 5
    browser.set_window_size(1440, 4200)
    time.sleep(3)
    browser.save_screenshot(str(SHOTS / "research.png"))
    browser.set_window_size(1440, 1100)
    time.sleep(2)
    heading = retry(lambda: next(e for e in browser.find_elements(By.TAG_NAME, "h3")
                                 if e.text.strip() == "Walk-forward"))
    retry(lambda: browser.execute_script("arguments[0].scrollIntoView(true);", heading))
    time.sleep(2)
    browser.save_screenshot(str(SHOTS / "research_walk_forward.png"))
    assert "Heat map of the full-sample objective" in browser.find_element(By.TAG_NAME, "body").text
