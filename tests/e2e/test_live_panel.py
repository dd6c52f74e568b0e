"""The Train page's live panel in a real browser: it polls the live feed and updates its charts in
place; without the feed (the router script served on its own) its numbers still update, by reruns,
and it says how to start the app for charts."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.conftest import AppServer, serve_app, wait_for_app
from tests.e2e.train_page import button, loss_points, progress, wait_for_loss_points

# 200 epochs of 16 steps on the tiny images, a loss point every 2 steps: long enough to watch a few
# polls, short enough to leave when the test is done (the server stops it).
LINK = "/train?batch_size=32&log_every=2&eval_every=0&epochs=200&hidden_size=16"
MARK_LOSS_CHART = """() => { const chart = [...document.querySelectorAll('.rnnlab-live .js-plotly-plot')]
  .find((p) => p.layout?.title?.text === 'Training loss'); chart.dataset.seen = 'yes'; }"""
SAME_LOSS_CHART = """() => [...document.querySelectorAll('.rnnlab-live .js-plotly-plot')]
  .filter((p) => p.layout?.title?.text === 'Training loss').map((p) => p.dataset.seen ?? 'new')"""


def start_and_watch(page: Page, url: str) -> int:
    """Start the linked run; returns the loss points shown once the chart has some while running."""
    page.goto(url + LINK)
    wait_for_app(page)
    button(page, "Start training").click()
    expect(progress(page)).to_contain_text("running", timeout=60_000)
    wait_for_loss_points(page, "> 0", while_running=True)
    return loss_points(page)


def test_the_panel_polls_the_feed_and_redraws_its_charts_in_place(app_server: AppServer, page: Page) -> None:
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/rnnlab/live/" in r.url else None)
    shown = start_and_watch(page, app_server.url)
    page.evaluate(MARK_LOSS_CHART)
    wait_for_loss_points(page, f"> {shown}", while_running=True)
    assert page.evaluate(SAME_LOSS_CHART) == ["yes"], "the loss chart was replaced, not updated in place"
    assert polls and all("smoothing=0.6" in url for url in polls)

    slider = page.locator(".rnnlab-live input[type=range]")
    slider.fill("0.9")  # a person drags it; the next answer brings the loss smoothed anew
    expect(page.locator(".rnnlab-live output")).to_have_text("0.90")
    for _ in range(60):  # the change asks at once; polls keep it after
        if any("smoothing=0.9" in url for url in polls):
            break
        page.wait_for_timeout(500)
    assert any("smoothing=0.9" in url for url in polls), polls[-3:]
    button(page, "Stop").click()
    expect(progress(page)).to_contain_text("stopped", timeout=30_000)  # a new state redraws the page


def test_without_the_feed_the_panel_updates_by_reruns_and_says_how_to_get_charts(
    tmp_path: Path, tiny_data_dir: Path, page: Page
) -> None:
    (runs := tmp_path / "runs").mkdir()
    with serve_app(runs, tiny_data_dir, tmp_path / "streamlit.log", script="router.py") as server:
        page.goto(server.url + LINK)
        wait_for_app(page)
        button(page, "Start training").click()
        expect(progress(page)).to_contain_text("running", timeout=60_000)
        step = re.search(r"step ([\d,]+)", progress(page).inner_text()).group(1)
        expect(progress(page)).not_to_contain_text(f"step {step} ", timeout=30_000)  # it moved on
        expect(page.locator(".rnnlab-live [role=alert]")).to_contain_text("streamlit run app.py")
        button(page, "Stop").click()
        expect(progress(page)).to_contain_text("stopped", timeout=30_000)
