"""The Train page as the browser tests drive it: its buttons, its progress line, its number fields."""

from __future__ import annotations

import re

from playwright.sync_api import Page

from tests.e2e.conftest import wait_for_app

# The Plotly graph divs titled `title` (tags stripped), as the browser holds them (Streamlit's charts
# on Runs, the live panel's on Train): Plotly keeps the decoded traces in _fullData. While Streamlit
# swaps a redrawn chart in, two copies may coexist for a moment, so the counts below take the newest
# (largest); -1 means no such chart on the page yet.
PLOTS_JS = """((title) => [...document.querySelectorAll(
    '[data-testid="stPlotlyChart"] .js-plotly-plot, .rnnlab-live .js-plotly-plot')]
  .filter((p) => p._fullData && String(p.layout?.title?.text ?? '').replace(/<[^>]*>/g, '') === title))"""
LOSS_POINTS_JS = f"Math.max(-1, ...{PLOTS_JS}('Training loss').map((p) => p._fullData[0]?._length ?? 0))"
RUNNING_JS = """document.querySelector('[data-testid="stMain"] [data-testid="rnnlabProgress"]')?.innerText
  .includes('running')"""


def loss_points(page: Page) -> int:
    """Training-loss points the Train page's chart shows now (its first trace: the raw loss)."""
    return page.evaluate(f"() => {LOSS_POINTS_JS}")


def wait_for_loss_points(page: Page, condition: str, while_running: bool = False) -> None:
    """Wait until the loss chart's point count meets `condition` (JS, e.g. '> 3'), optionally while
    the panel still says running: a redrawn chart is no DOM change that `expect` could wait for."""
    running = f" && {RUNNING_JS}" if while_running else ""
    page.wait_for_function(f"() => {LOSS_POINTS_JS} {condition}{running}", timeout=60_000)


def button(page: Page, label: str):
    """A button by its words; its accessible name starts with the icon's ligature (e.g. 'pause Pause')."""
    return page.get_by_test_id("stMain").get_by_role("button", name=re.compile(rf"(^|\s){label}$"))


def progress(page: Page):
    """The live panel's progress line, e.g. 'play_circle running · epoch 1 of 6 · step 39 of 192' (the first
    word is a Material icon's name, which its font draws as the icon)."""
    return page.get_by_test_id("stMain").get_by_test_id("rnnlabProgress")


def set_number(page: Page, label: str, value: int, param: str) -> None:
    """Type into a number input and commit it (Enter), as a person does; done when the URL shows it."""
    field = page.get_by_test_id("stMain").get_by_role("spinbutton", name=label, exact=True)
    field.fill(str(value))
    field.press("Enter")
    page.wait_for_url(re.compile(rf"[?&]{param}={value}(&|$)"))  # the rerun ran and synced the URL
    wait_for_app(page)
