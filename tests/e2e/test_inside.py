"""The Inside page in a real browser: the step slider and Play move the heatmap cursor and the answer."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from playwright.sync_api import Locator, Page, expect

from rnnlab.config import RunConfig
from rnnlab.lab import Lab
from tests.e2e.conftest import ARTIFACTS, AppServer, wait_for_app

TINY_LSTM = RunConfig(cell="lstm", hidden_size=16, lr=1e-2, batch_size=64, epochs=1, eval_every=0)


def chart(page: Page, key: str) -> Locator:
    """The plotly graph div of the chart the page draws with st.plotly_chart(key=key)."""
    return page.locator(f".st-key-{key} .js-plotly-plot")


def drawn(page: Page, key: str, expression: str):
    """`expression` evaluated on the newest drawn copy of a chart (None: not drawn yet).

    While Streamlit swaps a redrawn chart in, the old and the new copy can both be in the page.
    """
    return chart(page, key).evaluate_all(
        f"els => {{ const ready = els.filter(el => el.layout && el.data); "
        f"const el = ready[ready.length - 1]; return el ? ({expression}) : null; }}"
    )


def cursor(page: Page) -> list[float] | None:
    """Where the heatmap's cursor line stands, read from the figure the browser drew."""
    return drawn(page, "inside_heatmap", "el.layout.shapes.filter(s => s.type === 'line').map(s => s.x0)")


def bars(page: Page) -> list[str] | None:
    """The percentages written on the probability bars."""
    return drawn(page, "inside_bars", "Array.from(el.data[0].text)")


def wait_until(
    page: Page, condition: Callable[[], bool], timeout_s: float = 30.0, seen: Callable[[], object] = str
) -> None:
    """Poll `condition` (a redrawn chart is not a DOM change `expect` can wait for) until it holds.

    On a timeout the message says what `seen` returns: what the page showed instead.
    """
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not so after {timeout_s:.0f} s; the page had {seen()}"
        page.wait_for_timeout(200)


def heatmap_copies(page: Page) -> str:
    """Where the cursor stands on each drawn copy of the heatmap (a failed wait says what it saw)."""
    lines = chart(page, "inside_heatmap").evaluate_all(
        "els => els.map(el => el.layout ? "
        "el.layout.shapes.filter(s => s.type === 'line').map(s => s.x0) : null)"
    )
    return f"{len(lines)} heatmap copies, cursors {lines}"


def test_slider_and_play_move_the_cursor_and_the_probabilities(page: Page, app_server: AppServer):
    """Home on the slider jumps to step 1: the cursor moves and the bars change; Play walks on."""
    lab = Lab(runs_dir=app_server.runs_dir, data_dir=app_server.data_dir, max_concurrent=1)
    try:
        run = lab.start(TINY_LSTM, name="tiny lstm")
        assert run.join(120) and run.status().state == "finished", run.status().message
    finally:
        lab.shutdown(30)

    page.goto(app_server.url)
    expect(page.get_by_text("Where to go")).to_be_visible(timeout=90_000)  # the router has run
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Inside", exact=True).click(timeout=60_000)
    expect(page.get_by_text("Step 28 of 28", exact=True)).to_be_visible(timeout=90_000)
    expect(chart(page, "inside_heatmap").last).to_be_visible(timeout=60_000)
    wait_until(page, lambda: cursor(page) == [28] and bool(bars(page)), seen=lambda: heatmap_copies(page))
    at_the_end = bars(page)

    page.get_by_role("slider").focus()
    page.keyboard.press("Home")
    expect(page.get_by_text("Step 1 of 28", exact=True)).to_be_visible(timeout=60_000)
    wait_until(page, lambda: cursor(page) == [1], seen=lambda: heatmap_copies(page))
    wait_until(page, lambda: bars(page) not in (None, at_the_end))

    page.get_by_role("button", name="Play").click()
    later = re.compile(r"^Step ([3-9]|\d\d) of 28$")  # ticks may outpace the check on a busy machine
    expect(page.get_by_text(later)).to_be_visible(timeout=60_000)
    expect(page.get_by_role("slider")).to_be_disabled()  # in view while playing, moving with it
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Play")).to_be_visible(timeout=60_000)
    wait_for_app(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "inside-lstm.png"), full_page=True)
