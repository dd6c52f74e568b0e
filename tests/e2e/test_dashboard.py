"""The dashboard end to end in a real browser: train live on Train, steer the run, compare two on Runs."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from rnnlab.curves import MAX_POINTS
from tests.e2e.conftest import AppServer, wait_for_app
from tests.e2e.train_page import PLOTS_JS, button, loss_points, progress, set_number, wait_for_loss_points

# Monitoring settings arrive by link (the URL carries a config); the model is then chosen in the form.
# Batch 16 on the 512 tiny images is 32 steps an epoch, a loss point every 2 steps: the chart moves
# at once; 30 epochs of 32 hidden units (960 steps) outlast a few one-second refreshes on a fast machine.
LINK = "/train?batch_size=16&log_every=2&eval_every=16&eval_subset=64&lr=0.01"
EPOCHS = 30
POINTS = min(EPOCHS * 32 // 2, MAX_POINTS)  # loss points drawn once the run has finished
FINISHED = re.compile(r"finished · epoch \d+ of \d+")
CURVES_JS = f"Math.max(-1, ...{PLOTS_JS}('Loss').map((p) => p._fullData.filter((t) => t._length > 0).length))"


def open_from_sidebar(page: Page, name: str) -> None:
    # Case-insensitive: a page opened by a direct link may show the files' names ("runs") in the nav.
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=re.compile(f"^{name}$", re.I)).click()
    expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible(timeout=60_000)
    wait_for_app(page)


def select_table_rows(page: Page, rows: int) -> None:
    """Tick the first `rows` rows of the Runs table (its checkboxes are drawn on a canvas)."""
    table = page.get_by_test_id("stDataFrame")
    expect(table).to_be_visible()
    box = table.bounding_box()
    assert box is not None
    row_height = 35  # Streamlit's default dataframe row height; the header row has the same height
    for row in range(rows):
        page.mouse.click(box["x"] + 18, box["y"] + row_height * (row + 1.5))
        wait_for_app(page)


def test_train_live_steer_reload_and_compare_two_runs(app_server: AppServer, page: Page) -> None:
    """Start a run, watch its loss grow point by point, pause and resume it, see it survive a reload,
    train a second run, and overlay both on the Runs page."""
    page.goto(app_server.url + LINK)
    expect(page.get_by_role("heading", name="Train", exact=True)).to_be_visible(timeout=60_000)
    wait_for_app(page)
    set_number(page, "Hidden units", 32, "hidden_size")
    set_number(page, "Epochs", EPOCHS, "epochs")
    expect(page.get_by_text("No runs yet")).to_be_visible()

    button(page, "Start training").click()
    # Pause as soon as the run trains, so it is caught mid-run however fast this machine is.
    expect(button(page, "Pause")).to_be_enabled(timeout=60_000)
    button(page, "Pause").click()
    expect(progress(page)).to_contain_text("paused", timeout=60_000)
    expect(button(page, "Resume")).to_be_enabled()
    wait_for_loss_points(page, ">= 0")  # the chart is drawn again after the state's rerun
    paused_at = loss_points(page)

    button(page, "Resume").click()
    expect(progress(page)).to_contain_text("running", timeout=30_000)
    wait_for_loss_points(page, f"> {paused_at}", while_running=True)  # it grows as the run trains
    expect(progress(page)).to_contain_text(FINISHED, timeout=120_000)
    wait_for_loss_points(page, f">= {POINTS}")  # every logged step is drawn
    finished_points = loss_points(page)

    page.reload()  # a new session: the run belongs to the server and the URL names it
    wait_for_app(page)
    expect(progress(page)).to_contain_text(FINISHED, timeout=60_000)
    wait_for_loss_points(page, f"=== {finished_points}")

    set_number(page, "Hidden units", 16, "hidden_size")  # train again with one change
    set_number(page, "Epochs", 1, "epochs")
    button(page, "Start training").click()
    expect(progress(page)).to_contain_text("finished · epoch 1 of 1", timeout=120_000)

    open_from_sidebar(page, "Runs")
    select_table_rows(page, 2)
    page.wait_for_function(f"() => {CURVES_JS} === 2", timeout=60_000)  # one loss curve per run
    expect(page.get_by_test_id("stPlotlyChart").filter(has_text="Test accuracy")).to_be_visible()
