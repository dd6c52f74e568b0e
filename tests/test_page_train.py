"""Train page (AppTest): the settings form, URL settings, starting a run and steering it."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from rnnlab.config import HELP, RunConfig
from rnnlab.lab import Lab
from rnnlab.metrics import COLUMNS
from rnnlab.presets import PRESETS
from rnnlab.query import CONFIG_KEYS
from rnnlab.ui.state import get_lab
from tests.conftest import write_tiny_dataset
from tests.fabricate import UNDER_TRAINED, under_trained_run

# Fast on the tiny data, yet long enough (batch 1, many epochs) to still run while a test steers it.
SMALL = {"hidden_size": 8, "batch_size": 64, "epochs": 1, "log_every": 2, "eval_every": 4, "eval_subset": 32}
SLOW = {**SMALL, "batch_size": 1, "epochs": 200}


@pytest.fixture
def runs_dir(tmp_path: Path, tiny_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The app's Lab over a fresh runs dir and the tiny data; its runs are stopped afterwards."""
    runs = tmp_path / "runs"
    monkeypatch.setenv("RNNLAB_RUNS_DIR", str(runs))
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(tiny_data_dir))
    get_lab.clear()
    yield runs
    get_lab().shutdown(timeout=30)
    get_lab.clear()


def open_train(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file("../router.py", default_timeout=60)
    at.run()
    at.switch_page("app_pages/train.py")
    at.query_params.update(query or {})
    at.run()
    assert not at.exception
    return at


def widget(at: AppTest, field: str):
    key = f"train_cfg_{field}"
    for kind in (at.selectbox, at.number_input, at.segmented_control, at.toggle):
        found = [w for w in kind if w.key == key]
        if found:
            return found[0]
    raise AssertionError(f"no widget for {field}")


def fill(at: AppTest, **values) -> AppTest:
    for field, value in values.items():
        widget(at, field).set_value(value)
    return at.run()


def start(at: AppTest, **values) -> str:
    fill(at, **values)
    at.button(key="train_start").click().run()
    assert not at.exception
    run_id = at.query_params["run"]
    return run_id if isinstance(run_id, str) else run_id[-1]


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the run"
        time.sleep(0.05)


def points(array) -> list:
    """Plotly sends numeric arrays as base64 typed arrays; lists stay lists."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)


def live_panel(at: AppTest) -> dict:
    """What the live panel was handed to draw: the feed's payload (state, progress, charts)."""
    (element,) = at.get("bidi_component")
    news = json.loads(json.loads(element.proto.json)["payload"])
    news["figures"] = {c["figure"]["layout"]["title"]["text"]: c["figure"] for c in news["charts"].values()}
    return news


def texts(elements) -> str:
    return " ".join(str(e.value) for e in elements)


def test_every_setting_has_a_widget_with_help_and_the_page_invites_a_start(runs_dir):
    at = open_train()
    for field in CONFIG_KEYS:
        w = widget(at, field)
        assert w.help and w.help.startswith(HELP[field][:40]), field
    assert at.button(key="train_start").label == "Start training"
    assert not at.button(key="train_start").disabled
    assert "No runs yet" in texts(at.info)
    assert widget(at, "nonlinearity").disabled  # the default LSTM has no nonlinearity to choose
    assert not fill(at, cell="rnn").segmented_control(key="train_cfg_nonlinearity").disabled
    assert "trainable parameters" in texts(at.caption)


def test_an_invalid_combination_is_explained_and_start_waits(runs_dir):
    at = fill(open_train(), dropout=0.3)
    assert not at.exception
    assert "dropout" in texts(at.error) and "2+ layers" in texts(at.error)
    assert at.button(key="train_start").disabled
    at = fill(at, num_layers=2)
    assert not at.error and not at.button(key="train_start").disabled
    assert at.query_params["dropout"] == "0.3" and at.query_params["num_layers"] == "2"


def test_bad_and_hostile_url_values_fall_back_with_one_note(runs_dir):
    hostile = {
        "lr": "banana",
        "hidden_size": "9" * 3000,
        "dataset": "../../etc/passwd",
        "epochs": "nan",
        "cell": "gru",
        "nonlinearity": "relu",
        "run": "../../nope",
        "unknown": "x",
        "order": "[click](https://example.com)",
    }
    at = open_train(hostile)
    assert not at.exception and not at.error
    (note,) = at.warning.values[:1]
    assert "lr=banana is not a number; using 0\\.003" in note and "hidden\\_size=" in note
    assert "\\[click\\]\\(https\\:" in note  # shown literally, never as a link
    assert widget(at, "lr").value == 0.003 and widget(at, "cell").value == "gru"
    assert widget(at, "nonlinearity").value == "tanh" and widget(at, "dataset").value == "mnist"


def test_url_settings_fill_the_form_and_edits_go_back_to_the_url(runs_dir):
    at = open_train({"cell": "rnn", "nonlinearity": "relu", "hidden_size": "100", "lr": "0.1"})
    assert (widget(at, "cell").value, widget(at, "nonlinearity").value) == ("rnn", "relu")
    assert (widget(at, "hidden_size").value, widget(at, "lr").value) == (100, 0.1)
    at = fill(at, hidden_size=64)
    assert at.query_params["hidden_size"] == "64" and at.query_params["cell"] == "rnn"


def test_a_preset_fills_the_form_and_can_then_be_changed(runs_dir):
    at = open_train()
    at.selectbox(key="train_preset").set_value("tutorial-rnn").run()
    config = PRESETS["tutorial-rnn"].config
    for field in ("cell", "nonlinearity", "hidden_size", "optimizer", "lr", "batch_size"):
        assert widget(at, field).value == getattr(config, field)
    assert "exactly the" in texts(at.caption)
    at = fill(at, hidden_size=50)
    assert widget(at, "hidden_size").value == 50 and "exactly the" not in texts(at.caption)


def test_a_missing_dataset_says_what_to_do(tmp_path, monkeypatch):
    data_dir = write_tiny_dataset(tmp_path / "data", "MNIST")  # no KMNIST here
    monkeypatch.setenv("RNNLAB_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(data_dir))
    get_lab.clear()
    try:
        at = fill(open_train(), dataset="kmnist")
        message = texts(at.warning)
        assert "not on this machine" in message and "KMNIST" in message and "raw" in message
    finally:
        get_lab.clear()


def test_an_unwritable_runs_folder_is_reported_not_raised(runs_dir):
    runs_dir.write_text("a file where the runs folder should be")
    at = open_train()
    at.button(key="train_start").click().run()
    assert not at.exception and "Could not start the run" in texts(at.error)


def test_start_shows_the_live_run_and_pause_resume_stop_steer_it(runs_dir):
    at = open_train()
    run_id = start(at, **SLOW)
    lab = get_lab()
    run = lab.get(run_id)
    assert run is not None and at.selectbox(key="train_run_pick").value == run_id
    wait_for(lambda: run.status().state == "running" and run.status().step > 0)
    at.run()
    assert not at.button(key="train_pause").disabled and at.button(key="train_resume").disabled
    assert {b.label for b in at.button} >= {"Pause", "Resume", "Stop"}

    at.button(key="train_pause").click().run()
    wait_for(lambda: run.status().state == "paused")
    at.run()
    assert at.button(key="train_pause").disabled and not at.button(key="train_resume").disabled

    at.number_input(key=f"train_live_lr_{run_id}").set_value(0.0002)
    at.button(key="train_set_lr").click().run()
    at.button(key="train_resume").click().run()
    wait_for(lambda: run.status().state == "running" and run.status().lr == 0.0002)

    at.button(key="train_stop").click().run()
    assert run.join(30) and run.status().state == "stopped"
    at.run()
    assert not at.exception
    labels = {b.label for b in at.button}
    assert "Train again with these settings" in labels and any(x.startswith("Continue for") for x in labels)


def test_a_second_run_waits_for_a_free_slot(runs_dir, monkeypatch):
    monkeypatch.setenv("RNNLAB_MAX_CONCURRENT", "1")
    at = open_train()
    first = start(at, **SLOW)
    second = start(at, **SLOW, seed=1)
    assert first != second and get_lab().status(second).state == "queued"
    assert "free training slot" in texts(at.info)
    at.button(key="train_stop").click().run()  # a queued run can be stopped before it starts
    assert get_lab().get(second).join(30) and get_lab().status(second).state == "stopped"


def test_live_charts_and_progress_come_from_the_run(runs_dir):
    at = open_train()
    run_id = start(at, **{**SMALL, "epochs": 2})
    run = get_lab().get(run_id)
    assert run.join(60) and run.status().state == "finished"
    at.run()  # AppTest runs no JavaScript, so the panel does not poll: a rerun hands it the news
    news = live_panel(at)
    assert set(news["figures"]) == {"Training loss", "Accuracy", "Learning rate"}
    raw = news["figures"]["Training loss"]["data"][0]
    assert points(raw["x"]) == run.metrics().query("kind == 'step'")["step"].tolist()
    assert news["state"] == "finished" and news["line"].startswith("epoch 2 of 2")


def test_train_again_fills_the_form_and_continue_trains_more(runs_dir):
    at = open_train()
    run_id = start(at, **SMALL, seed=7)
    run = get_lab().get(run_id)
    assert run.join(60)
    at = fill(at, hidden_size=16, seed=0)
    at.run()
    at.button(key="train_again").click().run()
    assert widget(at, "hidden_size").value == 8 and widget(at, "seed").value == 7
    assert "Settings copied from" in texts(at.success)

    at.number_input(key=f"train_more_{run_id}").set_value(1)
    at.button(key="train_continue").click().run()
    assert not at.exception
    continued = get_lab().get(run_id)
    assert continued.join(60) and continued.status().epoch == 2


def test_runs_on_disk_show_their_state_and_a_diverged_one_its_fix(runs_dir, tiny_data_dir):
    lab = Lab(runs_dir=runs_dir, data_dir=tiny_data_dir, max_concurrent=1)
    finished = lab.start(RunConfig(**SMALL))
    assert finished.join(60)
    diverged = lab.store.create(RunConfig(**SMALL, lr=5.0), "too fast")
    lab.store.write_status(
        diverged,
        {"state": "diverged", "message": "The loss became nan at step 3. Try a lower learning rate."},
    )
    at = open_train({"run": diverged})
    assert "lower learning rate" in texts(at.error) and "diverged" in texts(at.error)
    assert at.button(key="train_again") and not [b for b in at.button if b.key == "train_continue"]

    at = open_train({"run": finished.run_id})
    assert at.selectbox(key="train_run_pick").value == finished.run_id
    assert len(live_panel(at)["figures"]) == 3 and not at.error

    at = open_train({"run": "20990101-000000-mnist-lstm-0000"})
    assert "There is no run `20990101-000000-mnist-lstm-0000` here" in texts(at.warning)
    assert not at.exception


def test_the_doctor_tells_an_under_trained_run_to_train_longer_and_one_click_tries_it(
    runs_dir, tiny_data_dir
):
    """The issue's case: 16 steps at Adam's default rate, near chance. The fix is a linked run, overlaid."""
    lab = Lab(runs_dir=runs_dir, data_dir=tiny_data_dir, max_concurrent=1)
    config = UNDER_TRAINED
    original = under_trained_run(lab.store)
    at = open_train({"run": original})
    panel = texts(at.markdown)
    assert "Still learning when it stopped" in panel and "16 steps" in panel
    assert "lower learning rate" not in " ".join(b.label for b in at.button)
    fix = at.button(key="train_fix_0_0")
    assert fix.label == "Try: train 4x longer (1 to 4 epochs)"
    fix.click().run()
    assert not at.exception
    child = at.query_params["run"]
    child = child if isinstance(child, str) else child[-1]
    assert child != original and lab.store.load_config(child) == config.replace(epochs=4)
    status = lab.store.read_status_or_empty(child)
    assert status["fix_of"] == original and status["name"] == "short run · train 4x longer (1 to 4 epochs)"
    run = get_lab().get(child)
    assert run.join(60) and run.status().state == "finished"

    at = open_train({"run": original})
    assert "Fixes tried" in texts(at.markdown) and "short run · train 4x longer" in texts(at.markdown)
    assert len(live_panel(at)["figures"]) == 3 and len(at.get("plotly_chart")) == 2, (
        "the three training charts in the live panel, then the original and its fix overlaid"
    )


def fabricated_run(lab: Lab, rows: list[dict], status: dict, config: RunConfig | None = None) -> str:
    """A run folder written directly: its config, a status and metrics rows (columns with `event`)."""
    run_id = lab.store.create(config or RunConfig(**{**SMALL, "epochs": 5}), "")
    lab.store.write_status(run_id, status)
    lab.store.append_metrics(run_id, rows, COLUMNS)
    return run_id


def step_rows(first: int, last: int, lr: float, every: int = 10) -> list[dict]:
    return [
        {"kind": "step", "step": s, "epoch": s / 100, "time": s / 10, "loss": 2.3 - s / 1000, "lr": lr}
        for s in range(first, last + 1, every)
    ]


def test_a_value_the_form_cannot_accept_stops_start_and_is_named(runs_dir):
    """Hidden units 0 or batch size 0 used to leave the old value in place, and Start trained with it."""
    at = fill(open_train(), hidden_size=0)
    assert not at.exception
    error = texts(at.error)
    assert "**Hidden units**: hidden_size=0 is out of range; allowed: 1 to 1024" in error
    assert at.button(key="train_start").disabled  # a click that brings the value: see tests/e2e
    assert not get_lab().list_runs()
    at = fill(at, hidden_size=16, batch_size=0)
    assert "**Batch size**: batch_size=0" in texts(at.error) and at.button(key="train_start").disabled
    at = fill(at, batch_size=16, lr=-1.0)
    assert "**Learning rate**: lr=-1.0 is out of range" in texts(at.error)


def test_the_live_learning_rate_refuses_what_it_cannot_set(runs_dir):
    at = open_train()
    run_id = start(at, **SLOW)
    run = get_lab().get(run_id)
    wait_for(lambda: run.status().state == "running")
    at.run()
    for bad in (-1.0, 50.0):
        at.number_input(key=f"train_live_lr_{run_id}").set_value(bad)
        at.button(key="train_set_lr").click().run()
        assert not at.exception
        assert f"Not set: a learning rate of {bad:g} is out of range" in texts(at.error)
        assert "keeps 0.003" in texts(at.error)
    assert run.status().lr == 0.003
    run.stop()
    assert run.join(30)


def test_train_again_copies_the_start_lr_and_offers_the_one_set_by_hand(runs_dir, tiny_data_dir):
    lab = Lab(runs_dir=runs_dir, data_dir=tiny_data_dir)
    hand = {"kind": "event", "step": 120, "epoch": 1.2, "time": 12, "lr": 0.0003, "event": "lr"}
    rows = [*step_rows(10, 110, 0.001), hand, *step_rows(130, 200, 0.0003)]
    config = RunConfig(**{**SMALL, "epochs": 5, "lr": 0.001})
    run_id = fabricated_run(lab, rows, {"state": "finished", "lr": 0.0003, "epoch": 2, "step": 200}, config)
    at = open_train({"run": run_id})
    assert "lr 0.001 at the start, 0.0003 at the end" in texts(at.caption)
    at.button(key="train_again").click().run()
    assert widget(at, "lr").value == 0.001
    notice = texts(at.success)
    assert "with the learning rate it started with (0.001)" in notice
    assert "set by hand: 0.001, then 0.0003 from step 120" in notice
    at.button(key="train_use_hand_lr").click().run()
    assert widget(at, "lr").value == 0.0003 and not [b for b in at.button if b.key == "train_use_hand_lr"]


def test_the_charts_mark_events_and_a_diverged_run_names_one_epoch(runs_dir, tiny_data_dir):
    """Event rows become markers; a run that diverged in its third epoch says epoch 3 everywhere."""
    lab = Lab(runs_dir=runs_dir, data_dir=tiny_data_dir)
    events = [
        {"kind": "event", "step": 60, "epoch": 0.6, "time": 6, "lr": 0.0003, "event": "lr"},
        {"kind": "event", "step": 90, "epoch": 0.9, "time": 9, "event": "paused"},
        {"kind": "event", "step": 90, "epoch": 0.9, "time": 9, "event": "resumed"},
        {"kind": "event", "step": 250, "epoch": 2.5, "time": 25, "event": "diverged"},
    ]
    message = "The loss became nan at step 250 (epoch 3): training diverged."
    run_id = fabricated_run(
        lab,
        [*step_rows(10, 240, 0.001), *events],
        {"state": "diverged", "message": message, "epoch": 2, "step": 250, "total_steps": 500, "lr": 0.0003},
    )
    at = open_train({"run": run_id})
    news = live_panel(at)
    assert "epoch 3 of 5" in news["line"] and "diverged" in texts(at.error)
    assert news["state"] == "diverged" and news["icon"] == ["error", "red"]
    charts = news["figures"]
    (marks,) = [t for t in charts["Training loss"]["data"] if t.get("name") == "events"]
    assert points(marks["x"]) == [60, 90, 250]
    assert list(marks["text"]) == ["lr set to 0.0003", "", "diverged"]
    assert "paused<br>resumed" in marks["hovertext"][1]
    assert len(charts["Learning rate"]["layout"]["shapes"]) == 3


def test_the_cost_is_shown_before_start_and_a_huge_link_is_refused(runs_dir, monkeypatch):
    monkeypatch.setenv("RNNLAB_MAX_RUN_GB", "4")  # this server's limit, whatever the machine has
    at = open_train()
    caption = texts(at.caption)
    assert "trainable parameters" in caption and "per epoch" in caption and "in all on this CPU" in caption
    assert "Training images (0 = all 512)" in [n.label for n in at.number_input]  # the tiny data's count
    huge = {
        "order": "pixels",
        "hidden_size": "1024",
        "num_layers": "4",
        "bidirectional": "true",
        "batch_size": "128",
    }
    at = open_train({**huge, "readout": "all"})
    assert "100,016,138" in texts(at.caption)
    # Past the server's limits (tests/test_guard.py): refused before Start, saying which limit.
    refusal = texts(at.error).replace("\\", "")  # escaped markdown: shown as plain text
    assert "This server will not start it" in refusal and "this server allows one run 4 GB;" in refusal


def test_start_shows_the_run_in_the_sidebar_at_once_and_empties_the_name(runs_dir):
    at = open_train()
    assert "No run is training" in texts(at.sidebar.caption)
    at.text_input(key="train_name").input("first")
    run_id = start(at, **SLOW)
    assert at.text_input(key="train_name").value == ""  # the next run gets its own name
    sidebar = [link.label for link in at.sidebar.get("page_link")]
    assert "first" in sidebar and "No run is training" not in texts(at.sidebar.caption)
    get_lab().get(run_id).stop()
    second = start(at, **SMALL)
    third = start(at, **SMALL)
    names = [get_lab().status(i).name for i in (second, third)]
    assert names[1] == names[0] + " #2"  # made-up names stay apart
    for run in get_lab().live_runs():
        run.stop()


def test_a_tab_showing_a_finished_run_follows_a_run_started_elsewhere(runs_dir, tiny_data_dir):
    lab = Lab(runs_dir=runs_dir, data_dir=tiny_data_dir)
    done = fabricated_run(lab, step_rows(10, 50, 0.001), {"state": "finished", "epoch": 5, "step": 50})
    at = open_train({"run": done})
    assert at.selectbox(key="train_run_pick").value == done
    elsewhere = get_lab().start(RunConfig(**SLOW), "from another tab")  # another session's Start
    at.run()  # what the page's watcher does a moment later
    assert at.selectbox(key="train_run_pick").value == elsewhere.run_id
    assert "Now showing **from another tab**, started in another tab or page" in texts(at.info)
    at.run()
    assert at.selectbox(key="train_run_pick").value == elsewhere.run_id  # and it stays
    elsewhere.stop()
    assert elsewhere.join(30)


def test_schedule_settings_come_from_the_url_grey_out_what_they_ignore_and_show_the_plan(runs_dir):
    at = open_train({"schedule": "one-cycle", "warmup": "0.25", "lr": "0.01"})
    assert widget(at, "schedule").value == "one-cycle" and widget(at, "warmup").value == 0.25
    assert not widget(at, "warmup").disabled and widget(at, "decay_every").disabled
    preview = [c for c in at.get("plotly_chart") if c.proto.id and "train_schedule_preview" in c.proto.id]
    assert preview, "the planned schedule is drawn before Start"
    at = fill(fill(at, schedule="step"), epochs=4, decay_every=2)
    assert widget(at, "warmup").disabled and not widget(at, "decay_factor").disabled
    assert at.query_params["schedule"] in ("step", ["step"]) and not at.error
    at = fill(at, decay_every=4)
    assert "**Decay every**: decay_every=4 epochs is not shorter than the run" in texts(at.error)
    assert at.button(key="train_start").disabled
