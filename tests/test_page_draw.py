"""The Draw page under AppTest: with and without a digit model, a drawing read, the switch, clear, Inside."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from rnnlab.config import RunConfig
from rnnlab.data import CLASSES
from rnnlab.drawing import render_strokes
from rnnlab.lab import Lab
from rnnlab.presets import QUICK_DIGITS, QUICK_DIGITS_NAME
from rnnlab.store import RunStore
from rnnlab.ui.pages import DRAW
from rnnlab.ui.state import get_lab

ROOT = Path(__file__).resolve().parents[1]
TINY = RunConfig(hidden_size=16, lr=1e-2, batch_size=64, epochs=1, log_every=2, eval_every=0)
VERTICAL = render_strokes([np.array([[140, 40], [140, 240]])])  # RGBA (280, 280, 4)


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path) -> dict[str, str]:
    """A finished MNIST run and a newer finished Fashion-MNIST run (ids by dataset), trained once."""
    runs = tmp_path_factory.mktemp("draw-page-runs")
    lab = Lab(runs_dir=runs, data_dir=tiny_data_dir, max_concurrent=1)
    ids = {}
    try:
        for dataset in ("mnist", "fashion-mnist"):
            run = lab.start(TINY.replace(dataset=dataset), name=f"tiny {dataset}")
            assert run.join(120) and run.status().state == "finished"
            ids[dataset] = run.run_id
    finally:
        lab.shutdown(30)
    return {"runs_dir": str(runs), **ids}


@pytest.fixture
def app_for(monkeypatch: pytest.MonkeyPatch, tiny_data_dir: Path) -> Iterator:
    """Build an AppTest on the Draw page over a given runs folder; the app's Lab is stopped afterwards."""

    def make(runs_dir: Path | str) -> AppTest:
        monkeypatch.setenv("RNNLAB_RUNS_DIR", str(runs_dir))
        monkeypatch.setenv("RNNLAB_DATA_DIR", str(tiny_data_dir))
        get_lab.clear()
        at = AppTest.from_file(str(ROOT / "router.py"), default_timeout=60)
        at.switch_page(DRAW)
        return at

    yield make
    get_lab().shutdown(30)  # the one-click training may still run
    get_lab.clear()


def draw(at: AppTest, canvas: np.ndarray) -> None:
    """What the canvas sends on mouse-up (or after its toolbar's reset): its JSON and a PNG of the picture."""
    buffer = io.BytesIO()
    Image.fromarray(canvas, "RGBA").save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    objects = [{"type": "path"}] if canvas.any() else []
    drawing = {"raw": {"objects": objects, "background": "#000000"}, "data": url}
    at.session_state["draw_canvas"] = {"drawing": drawing, "backgroundFit": None}
    at.run()


def texts(at: AppTest) -> str:
    return " ".join(str(e.value) for e in [*at.info, *at.caption, *at.markdown, *at.subheader])


def test_without_a_digit_run_the_page_offers_one_click_training(app_for, tmp_path: Path):
    at = app_for(tmp_path / "runs")
    at.run()
    assert not at.exception
    assert "No digit model yet" in texts(at)
    at.button(key="draw_train_quick").click().run()
    assert not at.exception
    live = get_lab().live_runs()
    assert len(live) == 1 and live[0].config.dataset == "mnist"
    assert "is training on mnist" in texts(at)
    link = next(e for e in at.main if type(e).__name__ == "PageLink")
    assert link.proto.page == "train" and live[0].run_id in link.proto.query_string


def test_without_mnist_offline_it_says_what_to_do_and_shows_a_failed_quick_run(
    app_for, tmp_path, monkeypatch
):
    at = app_for(tmp_path / "runs")
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(tmp_path / "no-data"))  # offline (conftest) and no MNIST
    store = RunStore(tmp_path / "runs")
    failed = store.create(QUICK_DIGITS.config, QUICK_DIGITS_NAME)
    store.write_status(
        failed, {"state": "failed", "message": "mnist is not on disk: put the four files in X"}
    )
    at.run()
    assert not at.exception
    assert "The last quick digit run failed: mnist is not on disk" in " ".join(e.value for e in at.error)
    assert "It cannot train here yet" in " ".join(e.value for e in at.warning)
    assert not [b for b in at.button if b.key == "draw_train_quick"]


def test_with_a_digit_run_it_is_the_default_and_reads_a_drawing(app_for, trained_runs):
    at = app_for(trained_runs["runs_dir"])
    at.run()
    assert not at.exception
    assert at.selectbox(key="draw_run").value == trained_runs["mnist"]  # not the newer Fashion run
    assert at.query_params["run"] == trained_runs["mnist"]  # the URL names the model shown
    assert "Draw a digit in the black square" in texts(at)
    assert not at.metric
    draw(at, VERTICAL)
    assert not at.exception
    assert at.metric[0].value in CLASSES["mnist"]
    assert "with probability" in texts(at)
    assert "How the prediction formed, step by step" in texts(at)
    assert at.slider(key="draw_step_28").value == 28


def test_the_switch_changes_the_preprocessing_and_the_canvas_has_one_clear(app_for, trained_runs):
    """No Clear button of ours beside the canvas's own bin: one way to wipe it, and the page follows it."""
    at = app_for(trained_runs["runs_dir"])
    at.run()
    draw(at, VERTICAL)
    assert "What the network sees** · MNIST-style" in texts(at)
    at.button_group(key="draw_method").set_value("naive").run()
    assert not at.exception
    assert "What the network sees** · Naive resize" in texts(at)
    assert not [b for b in at.button if "clear" in (b.key or "") or b.label == "Clear"]
    assert "the bin that clears it" in texts(at)
    draw(at, np.zeros_like(VERTICAL))  # what the canvas sends after its toolbar's reset
    assert not at.exception
    assert not at.metric and "Draw a digit in the black square" in texts(at)


def test_a_fashion_run_reads_drawings_as_clothing(app_for, trained_runs):
    at = app_for(trained_runs["runs_dir"])
    at.query_params["run"] = trained_runs["fashion-mnist"]
    at.run()
    assert not at.exception
    assert "reads your drawing as a piece of clothing" in texts(at)
    draw(at, VERTICAL)
    assert at.metric[0].value in CLASSES["fashion-mnist"]


@pytest.mark.parametrize("order", ["columns", "permuted"])
def test_runs_trained_in_other_orders_read_drawings_too(app_for, tmp_path: Path, tiny_data_dir: Path, order):
    """The input is just to_sequences(image, order): 28 columns, or 784 pixels in a fixed shuffle."""
    lab = Lab(runs_dir=tmp_path / "runs", data_dir=tiny_data_dir, max_concurrent=1)
    run = lab.start(TINY.replace(order=order, train_subset=64, hidden_size=8))
    assert run.join(120) and run.status().state == "finished"
    at = app_for(tmp_path / "runs")
    at.run()
    draw(at, VERTICAL)
    assert not at.exception
    assert at.metric[0].value in CLASSES["mnist"]
    steps = 28 if order == "columns" else 784
    assert at.slider(key=f"draw_step_{steps}").value == steps


def test_open_in_inside_hands_over_the_drawing(app_for, trained_runs):
    at = app_for(trained_runs["runs_dir"])
    at.run()
    draw(at, VERTICAL)
    at.button(key="draw_open_inside").click().run()
    assert not at.exception
    drawing = at.session_state["drawing"]
    assert isinstance(drawing, np.ndarray) and drawing.dtype == np.uint8 and drawing.shape == (28, 28)
    assert drawing.max() == 255
    assert at.query_params["run"] == trained_runs["mnist"]  # Inside opens on the same run
    assert "Draw" not in [title.value for title in at.title]  # and it is the page now shown


def test_an_unknown_run_in_the_url_is_said_and_the_best_model_shown(app_for, trained_runs):
    """/draw?run=zzz used to show another model without a word; it says so, as every page does."""
    at = app_for(trained_runs["runs_dir"])
    at.query_params["run"] = "zzz"
    at.run()
    assert not at.exception
    (warning,) = [w.value for w in at.warning if "zzz" in w.value]
    assert "There is no run `zzz` here" in warning and "Showing **tiny mnist** instead" in warning
    assert at.selectbox(key="draw_run").value == trained_runs["mnist"]
