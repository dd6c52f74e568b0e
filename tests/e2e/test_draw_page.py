"""The Draw page in a real browser: mouse strokes on the canvas, read by a model trained on real digits."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from rnnlab.config import RunConfig
from rnnlab.lab import Lab
from tests.e2e.conftest import ARTIFACTS, AppServer, serve_app, wait_for_app

# Small enough to train in well under a minute on two busy cores, good enough to read a clear "1".
DIGITS_CONFIG = RunConfig(hidden_size=64, lr=5e-3, batch_size=64, epochs=3, log_every=10, eval_every=0)
WAIT_MS = 60_000  # Streamlit on two busy cores: reruns take seconds, and stale elements go last
RESET_RETRY_MS = 15_000  # how long one press of the canvas's bin may take to reach the page
CANVAS = "canvas.upper-canvas"  # Fabric.js's event layer, inside the component's shadow root


@pytest.fixture(scope="session")
def digit_runs_dir(tmp_path_factory: pytest.TempPathFactory, real_mnist_dir: Path) -> Path:
    """A runs folder holding one LSTM trained on 2,000 real digits, trained once per session."""
    runs = tmp_path_factory.mktemp("draw-runs")
    lab = Lab(runs_dir=runs, data_dir=real_mnist_dir, max_concurrent=1)
    try:
        run = lab.start(DIGITS_CONFIG, name="real digits")
        assert run.join(300), "training on 2,000 real digits did not finish within 5 minutes"
        status = run.status()
        assert status.state == "finished", f"{status.state}: {status.message}"
    finally:
        lab.shutdown(30)
    return runs


@pytest.fixture(scope="module")
def draw_app(
    digit_runs_dir: Path, real_mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppServer]:
    log = tmp_path_factory.mktemp("draw-app") / "streamlit.log"
    with serve_app(digit_runs_dir, real_mnist_dir, log) as server:
        yield server


def open_draw(page: Page, app: AppServer) -> None:
    """Through the navigation, as a person does."""
    page.goto(app.url)
    wait_for_app(page)
    draw = page.get_by_test_id("stSidebarNav").get_by_role("link", name="Draw", exact=True)
    draw.click(timeout=90_000)
    expect(page.locator(CANVAS)).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text("Draw a digit in the black square")).to_be_visible(timeout=WAIT_MS)


def reset_until_blank(page: Page) -> None:
    """Press the canvas's bin until the page says the canvas is blank. The canvas sends its emptied
    drawing once, when the bin is pressed; a press that lands while the component is redrawn after a
    rerun can go unsent (seen once in CI), and a person would press again, so the test does too."""
    blank = page.get_by_text("Draw a digit in the black square")
    for _ in range(WAIT_MS // RESET_RETRY_MS):
        page.locator(CANVAS).hover(force=True)  # its toolbar shows on hover
        page.get_by_role("button", name="Reset canvas & history").click()
        try:
            expect(blank).to_be_visible(timeout=RESET_RETRY_MS)
            return
        except AssertionError:
            continue
    expect(blank).to_be_visible()  # fails with the page's own snapshot


def stroke(page: Page, points: list[tuple[float, float]]) -> None:
    """Drag the mouse through `points`, given as fractions (x, y) of the canvas's width and height."""
    box = page.locator(CANVAS).bounding_box()
    assert box is not None

    def at(x: float, y: float) -> tuple[float, float]:
        return box["x"] + x * box["width"], box["y"] + y * box["height"]

    page.mouse.move(*at(*points[0]))
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*at(*point), steps=12)
    page.mouse.up()


def test_a_vertical_stroke_is_read_as_1(page: Page, draw_app: AppServer):
    """One straight stroke down the middle: the 28x28 preview, the probabilities and the answer 1 appear."""
    open_draw(page, draw_app)
    stroke(page, [(0.5, 0.15), (0.5, 0.85)])
    expect(page.get_by_test_id("stMetricValue")).to_have_text("1", timeout=WAIT_MS)
    expect(page.get_by_text("What the network sees")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text(re.compile(r"with probability \d+\.\d%"))).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text("How the prediction formed, step by step")).to_be_visible(timeout=WAIT_MS)
    charts = page.get_by_test_id("stPlotlyChart")
    expect(charts).to_have_count(5, timeout=WAIT_MS)  # preview, bars; reading, lines, states step by step
    wait_for_app(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "draw-vertical-stroke.png"))
    page.get_by_role("button", name="Open in Inside").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "draw-vertical-stroke-steps.png"))


def test_naive_resize_then_clear(page: Page, draw_app: AppServer):
    """A small doodle in a corner switches to the naive view; the canvas's own bin empties it again."""
    open_draw(page, draw_app)
    stroke(page, [(0.1, 0.1), (0.25, 0.1), (0.15, 0.35)])
    expect(page.get_by_text("What the network sees · MNIST-style")).to_be_visible(timeout=WAIT_MS)
    page.get_by_test_id("stButtonGroup").get_by_text("Naive resize").click()
    expect(page.get_by_text("What the network sees · Naive resize")).to_be_visible(timeout=WAIT_MS)
    wait_for_app(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "draw-naive-resize.png"))
    reset_until_blank(page)
    expect(page.get_by_test_id("stMetricValue")).to_have_count(0, timeout=WAIT_MS)


def test_open_in_inside_carries_the_run(page: Page, draw_app: AppServer):
    """The drawing goes to the Inside page, which opens on the same run."""
    open_draw(page, draw_app)
    run_id = re.search(r"[?&]run=([^&]+)", page.url).group(1)
    stroke(page, [(0.5, 0.2), (0.5, 0.8)])
    page.get_by_role("button", name="Open in Inside").click(timeout=WAIT_MS)
    expect(page).to_have_url(re.compile(rf"/inside\?.*run={run_id}"), timeout=WAIT_MS)
