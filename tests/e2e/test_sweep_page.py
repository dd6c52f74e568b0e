"""The Sweep page in a real browser: a small sweep started from a link fills its parallel coordinates."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, AppServer, wait_for_app

QUERY = "vary=lr,cell&lr=1e-6,2e-2&cell=lstm&trials=2&epochs=1&prune=0&train_subset=128&eval_every=2"


def test_a_started_sweep_draws_its_trials_across_the_settings(page: Page, app_server: AppServer) -> None:
    """After Start the chart appears with an axis per setting and the accuracy, one line per trial."""
    page.goto(f"{app_server.url}/sweep?{QUERY}")
    start = page.get_by_role("button", name="Start sweep")
    expect(start).to_be_visible(timeout=90_000)
    expect(page.get_by_text("2 trials × 1 epochs: about")).to_be_visible()
    wait_for_app(page)
    start.click()
    # Appears once a trial has a score. While a redrawn chart is swapped in, the old copy (hidden) and
    # the new one can both be in the page for a moment: look at the visible one.
    chart = page.locator(".js-plotly-plot g.parcoords").filter(visible=True).first
    expect(chart).to_be_visible(timeout=120_000)
    for axis in ("lr", "cell", "test accuracy"):  # the chart is redrawn as trials report: it may be mid-way
        expect(chart.locator("text.axis-title", has_text=axis).first).to_be_visible(timeout=30_000)
    expect(page.get_by_text("finished: 2 of 2 done")).to_be_visible(timeout=120_000)
    wait_for_app(page)
    expect(page.get_by_role("button", name="Train the best (trial")).to_be_visible(timeout=30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "sweep-finished.png"), full_page=True)
