"""A real browser test: Debian's headless Chromium, driven by Selenium through chromedriver, against
``streamlit run dashboards/streamlit_app.py`` on 127.0.0.1 over a warehouse seeded by the real daily graph.

It signs in, clicks through every page from the sidebar, uploads a symphony and sees it listed, and saves a
screenshot of each page under ``var/screenshots/`` (``ORAGAMI_SCREENSHOTS=docs/screenshots`` refreshes the ones the
README shows). Skips, saying why, where Chromium or chromedriver is absent
(``.ci/run`` installs both).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# var/screenshots by default (ignored by git); ORAGAMI_SCREENSHOTS=docs/screenshots refreshes the README's pictures
SHOTS = Path(os.environ.get("ORAGAMI_SCREENSHOTS") or ROOT / "var" / "screenshots")
if not SHOTS.is_absolute():
    SHOTS = ROOT / SHOTS
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (CHROMIUM and DRIVER),
                       reason="Debian chromium and chromium-driver are not installed (.ci/run installs them)"),
]

from tests.e2e.conftest import PASSWORD, USER  # noqa: E402 - the warehouse the daily graph wrote (conftest)
PAGES = [  # (sidebar link url path, text the page must show, screenshot)
    ("library", "active", "library"),
    ("symphony", "Sector Surfing", "symphony_detail"),
    ("performance", "Performance", "performance"),
    ("backtests", "Backtests", "backtests"),
    ("orders", "Orders", "orders"),
]


@pytest.fixture(scope="module")
def app(seeded_db):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("ORAGAMI_WAREHOUSE_URL", "ORAGAMI_DASHBOARD_AUTH")}
    env["ORAGAMI_DUCKDB_PATH"] = str(seeded_db)
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "dashboards/streamlit_app.py",
                             "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
                             "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not start within 60 s")
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1440,1100",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def wait_for_text(driver, text: str, timeout: float = 60.0) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def ready(d):
        # Streamlit re-renders while it runs: an element read mid-render is stale — that means "not yet"
        try:
            body = d.find_element(By.TAG_NAME, "body").text
            running = d.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]')
            return text in body and not any("Running" in e.text for e in running)
        except StaleElementReferenceException:
            return False

    from selenium.common.exceptions import TimeoutException

    try:
        WebDriverWait(driver, timeout, poll_frequency=0.5).until(ready)
    except TimeoutException:
        failed = ROOT / "var" / "browser-failure.png"
        failed.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(failed))
        body = driver.find_element(By.TAG_NAME, "body").text
        raise AssertionError(f"{text!r} not shown within {timeout:.0f} s (screenshot {failed}); page text:\n"
                             f"{body[:1500]}") from None


def no_exception(driver) -> None:
    """No exception box, and none of the dashboard's banned forms in the page text (metrics, captions, messages;
    table cells are drawn on a canvas and are checked by tests/dashboards/test_formatting.py): no ``$-`` or
    ``-$`` (money is ``−$0.99``), no ``None`` / ``nan`` figure, no key figure cut short with an ellipsis."""
    import re

    from selenium.webdriver.common.by import By

    errors = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
    assert not errors, retry(lambda: errors[0].text[:2000])
    body = retry(lambda: driver.find_element(By.TAG_NAME, "body").text)
    assert not re.search(r"\$-|-\$|\bNone\b|\bnan\b", body), body[:1500]
    shown, cut = driver.execute_script(  # a metric whose text is wider than its box is cut short ("2026-07…")
        "const all = [...document.querySelectorAll('[data-testid=\"stMetricValue\"]')];"
        "return [all.length, all.filter(e => [e, ...e.querySelectorAll('*')]"
        ".some(x => x.scrollWidth > x.clientWidth + 1)).map(e => e.innerText)];")
    assert shown >= 1 and not cut, f"{shown} metric values, cut short: {cut}"


def retry(action, attempts: int = 5):
    """Run ``action`` again when the element it touched was re-rendered under it (stale), a few times."""
    from selenium.common.exceptions import StaleElementReferenceException

    for i in range(attempts):
        try:
            return action()
        except StaleElementReferenceException:
            if i == attempts - 1:
                raise
            time.sleep(0.5)


def click(driver, css: str = None, button_text: str = None) -> None:
    """Click a link (CSS selector) or the button whose text ends with ``button_text``, tolerating re-renders."""
    from selenium.webdriver.common.by import By

    def act():
        if css:
            driver.find_element(By.CSS_SELECTOR, css).click()
        else:
            next(b for b in driver.find_elements(By.TAG_NAME, "button")
                 if b.text.strip().endswith(button_text)).click()

    retry(act)


def test_sign_in_click_through_every_page_and_upload(app, browser):
    from selenium.webdriver.common.by import By

    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.get(app)
    wait_for_text(browser, "Sign in")
    retry(lambda: browser.find_element(By.CSS_SELECTOR, 'input[aria-label="Username"]').send_keys(USER))
    retry(lambda: browser.find_element(By.CSS_SELECTOR, 'input[aria-label="Password"]').send_keys(PASSWORD))
    click(browser, button_text="Sign in")
    wait_for_text(browser, "Sector Surfing")
    time.sleep(2)
    no_exception(browser)
    browser.save_screenshot(str(SHOTS / "overview.png"))

    for url_path, expected, shot in PAGES:
        click(browser, css=f'[data-testid="stSidebarNav"] a[href$="/{url_path}"]')
        wait_for_text(browser, expected)
        time.sleep(2)
        wait_for_text(browser, expected)
        no_exception(browser)
        browser.save_screenshot(str(SHOTS / f"{shot}.png"))

    # upload a symphony on the library page and see it listed
    click(browser, css='[data-testid="stSidebarNav"] a[href$="/library"]')
    wait_for_text(browser, "Upload a symphony")
    retry(lambda: browser.find_element(By.CSS_SELECTOR, 'input[type="file"]').send_keys(
        str(ROOT / "symphonies" / "tqqq_ftlt_v2_226.clj")))
    wait_for_text(browser, "Register")
    click(browser, button_text="Register")
    wait_for_text(browser, "TQQQ For The Long Term")
    time.sleep(2)
    no_exception(browser)
    wait_for_text(browser, "3/40")
    browser.save_screenshot(str(SHOTS / "library_after_upload.png"))
