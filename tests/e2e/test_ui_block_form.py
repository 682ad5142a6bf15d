"""A person saves a `CensusCredentials` block through the Prefect UI in Chromium."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from _server import REPO_ROOT, token_forms

from prefect_census import CensusCredentials
from prefect_census.emulator import RunPlan

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# The screenshots shown in the docs are rewritten only on request, so a test
# run leaves the checkout clean: CENSUS_UPDATE_SCREENSHOTS=1 make test-fast.
IMAGES = (
    REPO_ROOT / "docs" / "images"
    if os.environ.get("CENSUS_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.mkdtemp(prefix="census-screenshots-"))
)
BLOCK_NAME = "accounts-to-salesforce"
# The UI is a single-page app that loads its bundle and the block schemas after
# the page itself. A first load took several seconds on a busy 2-core machine.
UI_TIMEOUT_SECONDS = 60.0

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
    # The catalog shows block logos from public hosts. Every host name except
    # the loopback server's fails to resolve, so the browser sends nothing out.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)


@pytest.fixture
def browser(monkeypatch) -> Iterator:
    """Yield a Selenium driver for Debian's headless Chromium."""
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip(
            "needs Debian's Chromium and ChromeDriver in /usr/bin; "
            "install them with tests/e2e/install-browser.sh"
        )
    # Selenium Manager must not download a driver or a browser.
    monkeypatch.setenv("SE_OFFLINE", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(
            service=Service(executable_path=str(CHROMEDRIVER)), options=options
        )
        try:
            yield driver
        finally:
            driver.quit()


def _wait(driver):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, UI_TIMEOUT_SECONDS, poll_frequency=0.2)


def _visible(driver, xpath: str):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions

    return _wait(driver).until(
        expected_conditions.visibility_of_element_located((By.XPATH, xpath))
    )


def _field(label: str, control: str) -> str:
    """Return the XPath of the form control under the label with this text."""
    return (
        f"//div[contains(@class, 'p-label')]"
        f"[.//label[normalize-space()='{label}']]//{control}"
    )


def test_ui_saves_masked_block(
    server_api, block_registration, census_emulator, browser
):
    """The UI form saves the trigger URL, shows it masked and Python loads it."""
    from selenium.webdriver.common.by import By

    assert block_registration.returncode == 0, block_registration.stderr
    sync_id = census_emulator.add_sync(RunPlan())
    trigger_url = census_emulator.trigger_url(sync_id)
    IMAGES.mkdir(parents=True, exist_ok=True)

    browser.get(f"{server_api.url}/blocks/catalog")
    search = _visible(browser, "//input[@placeholder='Search blocks']")
    search.send_keys("Census")
    card = (
        "//div[contains(@class, 'block-type-card-preview')]"
        "[.//h4[normalize-space()='Census Credentials']]"
    )
    _visible(browser, f"{card}//a[normalize-space()='Create']").click()
    _wait(browser).until(
        lambda driver: driver.current_url.endswith(
            "/blocks/catalog/census-credentials/create"
        )
    )

    _visible(browser, _field("Block Name", "input")).send_keys(BLOCK_NAME)
    trigger_field = _visible(browser, _field("API trigger URL", "textarea"))
    # The form shows the URL in clear text while it is typed, so the picture
    # of the form is taken before the URL is in it.
    browser.save_screenshot(str(IMAGES / "block-form.png"))
    trigger_field.send_keys(trigger_url)
    browser.find_element(By.XPATH, "//form//button[@type='submit']").click()

    _wait(browser).until(
        lambda driver: re.search(r"/blocks/block/[0-9a-f-]{36}$", driver.current_url)
    )
    _visible(browser, f"//*[normalize-space()='{BLOCK_NAME}']")
    _visible(browser, "//*[normalize-space()='********']")
    page_text = browser.find_element(By.TAG_NAME, "body").text
    assert "API trigger URL\n********\n" in page_text
    for form in token_forms(census_emulator.token):
        assert form not in browser.page_source
        assert form not in page_text
    browser.save_screenshot(str(IMAGES / "block-page.png"))

    loaded = CensusCredentials.load(BLOCK_NAME)
    assert loaded.api_trigger.get_secret_value() == trigger_url
    assert loaded.sync_id == sync_id
