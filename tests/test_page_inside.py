"""The Inside page under Streamlit's AppTest: tiny trained runs of every cell, replayed step by step."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import streamlit as st
import torch
from streamlit.testing.v1 import AppTest

from rnnlab.config import CELLS, RunConfig
from rnnlab.lab import Lab
from rnnlab.ui import inside_play
from rnnlab.ui.pages import INSIDE
from rnnlab.ui.state import get_lab

APP = str(Path(__file__).resolve().parents[1] / "router.py")
TINY = RunConfig(hidden_size=12, lr=1e-2, batch_size=64, epochs=1, log_every=4, eval_every=0)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path) -> dict[str, str]:
    """A runs folder with one finished tiny run per cell (cell -> run id), trained once for the module."""
    root = tmp_path_factory.mktemp("inside-runs")
    lab = Lab(runs_dir=root, data_dir=tiny_data_dir, max_concurrent=1)
    ids = {}
    try:
        for cell in CELLS:
            run = lab.start(TINY.replace(cell=cell), name=f"tiny {cell}")
            assert run.join(120), f"the tiny {cell} run did not finish"
            assert run.status().state == "finished", run.status().message
            ids[cell] = run.run_id
    finally:
        lab.shutdown(30)
    ids["root"] = str(root)
    return ids


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, runs: dict[str, str], tiny_data_dir: Path):
    """A fresh AppTest of the page over the module's runs (a new Lab: caches are cleared)."""

    def make(runs_dir: str | Path = runs["root"], data_dir: Path = tiny_data_dir, run: str | None = None):
        monkeypatch.setenv("RNNLAB_RUNS_DIR", str(runs_dir))
        monkeypatch.setenv("RNNLAB_DATA_DIR", str(data_dir))
        st.cache_resource.clear()
        st.cache_data.clear()
        at = AppTest.from_file(APP, default_timeout=120)
        at.switch_page(INSIDE)
        if run is not None:
            at.query_params["run"] = run
        return at

    yield make
    st.cache_resource.clear()
    st.cache_data.clear()


def wait_for(condition, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the run did not get there in time"
        time.sleep(0.05)


def charts(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def titles(at: AppTest) -> list[str]:
    return [(c["layout"].get("title") or {}).get("text", "") for c in charts(at)]


@pytest.mark.parametrize("cell", CELLS)
def test_page_replays_a_run_of_every_cell(app, runs, cell):
    """Verdict, step view, heatmap, gates (LSTM/GRU), and the four sections render without an error."""
    at = app(run=runs[cell]).run()
    assert not at.exception, at.exception
    assert at.selectbox(key="inside_run").value == runs[cell]
    assert [m.label for m in at.metric] == ["The network says", "True class", "Made up its mind at"]
    assert at.slider(key="inside_step").value == 28  # it opens on the whole image read
    shown = titles(at)
    for title in ("After 28 rows", "Probabilities at this step", "Probabilities over time"):
        assert title in shown
    assert any(t.startswith("Hidden state over time") for t in shown)
    assert ("Gates at this step" in shown) == (cell != "rnn")
    assert [t.label for t in at.tabs][:3] == ["Gradients through time", "Gate statistics", "Unit explorer"]
    gates_note = [i.value for i in at.info if "has no gates" in i.value]
    assert bool(gates_note) == (cell == "rnn")
    assert any("On average the gradient at step 1" in m.value for m in at.markdown)
    assert not at.error


def step_shown(at: AppTest) -> int:
    (line,) = [m.value for m in at.markdown if m.value.startswith("**Step ")]
    return int(line.split()[1])


class FakeClock:
    """The playback clock, moved by hand: the test says how much time passes between redraws."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_play_at_a_chosen_speed_with_the_slider_in_view_and_single_steps(app, runs, monkeypatch):
    """Play moves the step by the chosen speed x the time passed; the slider stays, disabled; Back and
    Next move one step and pause."""
    clock = FakeClock()
    monkeypatch.setattr(inside_play, "clock", clock)
    at = app(run=runs["lstm"]).run()
    assert at.selectbox(key="inside_speed_28").value == 1  # 28 rows at 1 step/s: a play-through of ~20 s
    at.slider(key="inside_step").set_value(5).run()
    assert step_shown(at) == 5 and "After 5 rows" in titles(at)
    at.selectbox(key="inside_speed_28").set_value(5).run()
    at.button(key="inside_play").click().run()
    assert at.session_state["inside_playing"]
    assert at.slider(key="inside_step").disabled and step_shown(at) == 5
    clock.now += 2.0  # two seconds at 5 steps a second
    at.run()  # a tick of the animation
    assert step_shown(at) == 15 == at.slider(key="inside_step").value
    at.button(key="inside_play").click().run()  # Pause
    assert not at.session_state["inside_playing"] and not at.slider(key="inside_step").disabled
    at.button(key="inside_step_forward").click().run()
    assert step_shown(at) == 16
    at.button(key="inside_step_back").click().run()
    at.button(key="inside_step_back").click().run()
    assert step_shown(at) == 14 and "After 14 rows" in titles(at)
    at.button(key="inside_play").click().run()
    clock.now += 60.0  # long past the end: it stops at the last step
    at.run()
    assert step_shown(at) == 28 and not at.session_state["inside_playing"]
    assert at.button(key="inside_step_forward").disabled
    assert not at.exception


def test_a_link_with_an_index_opens_that_test_image(app, runs):
    """Evaluate's "See inside" links carry ?index=: the page shows that image and keeps it in the URL."""
    at = app(run=runs["gru"])
    at.query_params["index"] = "123"
    at.run()
    assert at.number_input(key="inside_index").value == 123 and "test image 123" in at.metric[1].proto.help
    at.number_input(key="inside_index").set_value(7).run()
    assert at.query_params["index"] == "7"  # a reload shows the image on screen
    at = app(run=runs["gru"])
    at.query_params["index"] = "99999"
    at.run()
    assert "no test image `99999`" in at.warning[0].value and not at.exception


def test_unknown_or_unusable_runs_in_the_url_are_said(app, runs, tmp_path):
    at = app(run="nonexistent").run()
    assert "There is no run `nonexistent` here" in at.warning[0].value
    assert "Showing" in at.warning[0].value and not at.exception
    lab = Lab(runs_dir=runs["root"], data_dir=tmp_path)
    waiting = lab.store.create(TINY, "never trained")  # a run without weights
    try:
        at = app(run=waiting).run()
        assert "**never trained**" in at.warning[0].value and "no saved weights yet" in at.warning[0].value
    finally:
        lab.store.delete(waiting)


def test_sample_buttons_and_the_drawing_option(app, runs):
    at = app(run=runs["gru"]).run()
    assert not at.get("button_group")  # no drawing yet: no choice of image
    at.number_input(key="inside_index").set_value(7).run()
    assert "test image 7" in at.metric[1].proto.help
    at.button(key="inside_next_mistake").click().run()  # one epoch on tiny data leaves mistakes
    assert at.number_input(key="inside_index").value != 7 and at.metric[1].proto.delta == "wrong"
    at.button(key="inside_random").click().run()
    assert not at.exception

    drawing = torch.zeros(28, 28, dtype=torch.uint8)
    drawing[4:24, 13:15] = 255  # a "1"
    at.session_state["drawing"] = drawing
    at.run()
    assert at.get("button_group"), "the drawing should be offered once the Draw page left one"
    assert at.metric[1].value == "your drawing"  # a fresh drawing is shown first
    assert not at.exception


def test_no_runs_broken_runs_and_missing_data_say_what_to_do(app, runs, tmp_path):
    at = app(runs_dir=tmp_path / "empty").run()
    assert not at.exception and "No run has weights" in at.info[0].value

    broken = tmp_path / "broken"
    shutil.copytree(Path(runs["root"]) / runs["lstm"], broken / runs["lstm"])
    (broken / runs["lstm"] / "model.pt").write_bytes(b"not a checkpoint")
    at = app(runs_dir=broken).run()
    assert not at.exception and "cannot be used" in at.error[0].value

    at = app(data_dir=tmp_path / "no-data").run()
    assert not at.exception and "not available" in at.error[0].value


def test_a_live_run_shows_the_weights_it_had_until_asked_for_newer_ones(app, tmp_path):
    at = app(runs_dir=tmp_path)
    lab = get_lab()  # the page's own Lab: a run it trains is live for the page
    try:
        run = lab.start(TINY.replace(cell="gru", epochs=500), name="live gru")
        wait_for(lambda: run.status().step > 0)
        at.query_params["run"] = run.run_id
        at.run()
        assert not at.exception
        assert any("Still training" in c.value for c in at.caption)
        pinned = at.session_state["inside_pinned"][run.run_id].live_step
        wait_for(lambda: run.status().step > pinned)
        at.run()  # an ordinary rerun keeps the weights it showed
        assert at.session_state["inside_pinned"][run.run_id].live_step == pinned
        at.button(key="inside_reload").click().run()
        assert at.session_state["inside_pinned"][run.run_id].live_step > pinned
        assert not at.exception
    finally:
        lab.shutdown(30)


def test_other_runs_overlay_the_gradient_chart(app, runs):
    at = app(run=runs["rnn"]).run()
    at.multiselect(key="inside_compare").set_value([runs["lstm"]]).run()
    (gradient,) = [c for c in charts(at) if c["layout"]["title"]["text"].startswith("Gradients through time")]
    assert [t["name"] for t in gradient["data"]] == [
        "tiny rnn · batch mean",
        "tiny rnn · this sample",
        "tiny lstm · batch mean",
    ]
    assert not at.exception
