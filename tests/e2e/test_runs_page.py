"""The Runs page in a real browser: a rename shows at once in the "Run to manage" menu the browser draws."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from rnnlab.config import RunConfig
from rnnlab.store import RunStore
from tests.e2e.conftest import ARTIFACTS, AppServer, wait_for_app


def choose(page: Page, menu: Locator, option: str) -> None:
    """Open a select box and pick an option; a click that lands while the page redraws is repeated."""
    for _ in range(3):
        menu.click()
        try:
            page.get_by_role("option", name=option).click(timeout=10_000)
            return
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    raise AssertionError(f"the option {option!r} never showed")


def test_a_rename_shows_in_the_menu_and_beside_the_form(page: Page, app_server: AppServer) -> None:
    """The browser keeps a select box's choice by its label: the menu used to go on showing the old name."""
    store = RunStore(app_server.runs_dir)
    ids = [store.create(RunConfig(hidden_size=h), name) for h, name in ((8, "first run"), (16, "second run"))]
    for run_id in ids:
        store.write_status(run_id, {"state": "finished", "epoch": 2})
    page.goto(f"{app_server.url}/runs?run={ids[0]}&run={ids[1]}")
    menu = page.get_by_role("combobox", name="Run to manage")
    expect(menu).to_have_value("first run", timeout=90_000)
    wait_for_app(page)
    choose(page, menu, "second run")
    expect(page.get_by_role("textbox", name="Name", exact=True)).to_have_value("second run", timeout=30_000)
    wait_for_app(page)
    page.get_by_role("textbox", name="Name", exact=True).fill("renamed run")
    page.get_by_role("button", name="Rename", exact=True).click()
    expect(page.get_by_text("Renamed to renamed run.")).to_be_visible(timeout=30_000)
    expect(menu).to_have_value("renamed run")
    wait_for_app(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "runs-renamed.png"), full_page=True)
