"""The Evaluate page in a real browser: a tiny trained run, its confusion matrix, and a click on a cell."""

from __future__ import annotations

import re

import torch
from playwright.sync_api import Page, expect

from rnnlab.config import RunConfig
from rnnlab.evaluation import confusion_matrix, evaluate
from rnnlab.lab import Lab
from tests.e2e.conftest import AppServer, wait_for_app

FAST = RunConfig(hidden_size=32, lr=1e-2, batch_size=32, epochs=2, log_every=2, eval_every=8, eval_subset=64)


def train_tiny_run(app: AppServer) -> tuple[str, torch.Tensor]:
    """Train a run into the app's folder; returns its id and its confusion matrix, computed by the core."""
    lab = Lab(runs_dir=app.runs_dir, data_dir=app.data_dir, max_concurrent=1)
    try:
        run = lab.start(FAST, name="tiny bars")
        assert run.join(120), "the tiny run did not finish within 2 minutes"
        assert run.status().state == "finished", run.status().message
    finally:
        lab.shutdown(30)
    model, config, dataset = lab.load_for_evaluation(run.run_id)
    result = evaluate(model, dataset.test_images, dataset.test_labels, config.order)
    return run.run_id, confusion_matrix(result.labels, result.predictions, result.num_classes)


def test_evaluate_shows_the_confusion_matrix_and_a_clicked_cell(app_server: AppServer, page: Page) -> None:
    """Open Evaluate through the navigation, see the matrix, click its fullest cell and see those images."""
    run_id, confusion = train_tiny_run(app_server)
    page.goto(app_server.url)
    wait_for_app(page)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Evaluate", exact=True).click(timeout=90_000)
    expect(page.get_by_role("heading", name="Evaluate")).to_be_visible(timeout=60_000)

    matrix = page.get_by_test_id("stPlotlyChart").filter(has_text="Confusion matrix")
    expect(matrix).to_be_visible(timeout=120_000)
    expect(matrix.locator(".hm")).to_have_count(1)  # the heatmap layer is drawn
    expect(matrix.get_by_text("predicted class")).to_be_visible()
    expect(page.get_by_text(re.compile(r"Mistakes: \d+ of 256 test images"))).to_be_visible()
    assert f"run={run_id}" in page.url

    # Click the fullest cell. The plot area spans the 10 x 10 cells, row 0 at the top.
    true, predicted = divmod(int(confusion.argmax()), 10)
    area = matrix.locator(".nsewdrag").first.bounding_box()
    assert area is not None
    x = area["x"] + (predicted + 0.5) * area["width"] / 10
    y = area["y"] + (true + 0.5) * area["height"] / 10
    count = int(confusion[true, predicted])
    heading = page.get_by_text(f"true {true} · predicted {predicted}: {count} images")
    for _ in range(3):  # a click that lands while Plotly is still wiring its events is lost; click again
        page.mouse.click(x, y)
        try:
            expect(heading).to_be_visible(timeout=30_000)
            break
        except AssertionError:
            continue
    expect(heading).to_be_visible()
    inside = page.get_by_test_id("stMain").get_by_role("link", name="See inside")
    expect(inside).to_have_count(min(count, 24), timeout=60_000)
    expect(inside.first).to_have_attribute("href", re.compile(rf"inside\?run={run_id}&index=\d+"))
