"""Home page (AppTest) and its dataset advice: short status lines, exact steps for what is missing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import streamlit as st
import torch
from streamlit.testing.v1 import AppTest

from rnnlab.availability import availability
from rnnlab.config import RunConfig
from rnnlab.data import FILES, SYSTEM_DIRS, write_idx
from rnnlab.lab import Lab
from rnnlab.store import RunStore
from rnnlab.ui.state import get_lab

APP = str(Path(__file__).resolve().parents[1] / "router.py")


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    """Point the app at fresh runs and data dirs; a fresh Lab per test, stopped after it."""
    runs, data = tmp_path / "runs", tmp_path / "data"
    runs.mkdir()
    data.mkdir()
    monkeypatch.setenv("RNNLAB_RUNS_DIR", str(runs))
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(data))
    st.cache_resource.clear()
    yield runs, data
    get_lab().shutdown(timeout=60)
    st.cache_resource.clear()


def open_home() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def text(at: AppTest) -> str:
    return " ".join(str(e.value) for e in [*at.markdown, *at.caption, *at.info])


def half_a_dataset(data: Path) -> Path:
    """The MNIST test split alone, as this machine has it: two of the four files."""
    raw = data / "MNIST" / "raw"
    write_idx(raw / "t10k-images-idx3-ubyte.gz", torch.zeros(3, 28, 28, dtype=torch.uint8))
    write_idx(raw / "t10k-labels-idx1-ubyte", torch.zeros(3, dtype=torch.uint8))
    return raw


# -- advice (pure) -------------------------------------------------------------------------------
def test_a_present_dataset_is_one_ready_line(tiny_data_dir):
    advice = availability("kmnist", tiny_data_dir)
    assert advice.available and advice.status.startswith("ready") and not advice.steps


def test_missing_dataset_names_the_folder_and_every_file(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_OFFLINE", "1")
    advice = availability("kmnist", tmp_path)
    assert not advice.available and advice.status == "not here yet"
    assert str(tmp_path.resolve() / "KMNIST" / "raw") in advice.steps[0]
    assert all(f"`{name}`" in advice.steps[0] for name in FILES)
    assert "off here" in advice.steps[-1]


def test_partial_dataset_counts_files_and_lists_only_the_missing_ones(tmp_path):
    half_a_dataset(tmp_path)
    advice = availability("mnist", tmp_path)
    assert advice.status == "not here yet · 2 of 4 files"
    assert "`train-images-idx3-ubyte`" in advice.steps[0] and "t10k" not in advice.steps[0]


def test_online_advice_says_it_downloads_by_itself(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_OFFLINE", "0")
    assert "downloads by itself" in availability("mnist", tmp_path).steps[-1]


def test_system_folder_is_offered_where_one_exists(tmp_path, monkeypatch):
    monkeypatch.setitem(SYSTEM_DIRS, "fashion-mnist", (tmp_path / "nowhere",))  # whatever this machine has
    steps = availability("fashion-mnist", tmp_path).steps
    assert any("apt-get install dataset-fashion-mnist" in s and "nowhere" in s for s in steps)


# -- the page ------------------------------------------------------------------------------------
def test_empty_home_renders_and_explains_each_missing_dataset(app_env):
    _, data = app_env
    half_a_dataset(data)
    at = open_home()
    assert "No runs yet" in text(at)
    assert "2 of 4 files" in text(at)
    titles = [e.proto.label for e in at.expander]
    assert "How to get mnist" in titles and "How to get kmnist" in titles
    steps = " ".join(m.value for e in at.expander for m in e.markdown)
    assert str(data.resolve() / "KMNIST" / "raw") in steps
    assert {link.value.split(":")[0] for link in at.page_link} >= {
        "Train",
        "Runs",
        "Sweep",
        "Inside",
        "Evaluate",
        "Draw",
    }  # every page of the navigation but Home itself


def test_home_with_datasets_and_runs(app_env, tiny_data_dir):
    runs, data = app_env
    shutil.copytree(tiny_data_dir, data, dirs_exist_ok=True)
    store = RunStore(runs)
    for i in range(7):
        run_id = store.create(RunConfig(hidden_size=8), f"run {i}")
        store.write_status(run_id, {"state": "finished", "best_test_acc": 0.5})
    broken = runs / "20000101-000000-broken-0000"
    broken.mkdir()
    (broken / "config.json").write_text("{garbage")
    at = open_home()
    assert not at.expander  # every dataset ready: nothing to explain
    assert text(at).count("ready") == 3
    labels = [link.value for link in at.page_link]
    assert sum("finished" in label for label in labels) == 5  # the latest five
    assert "All 8 runs" in labels
    assert all(
        link.proto.query_string.startswith("run=") for link in at.page_link if "finished" in link.value
    )


def test_home_links_a_live_run_to_the_train_page(app_env, tiny_data_dir):
    runs, data = app_env
    shutil.copytree(tiny_data_dir, data, dirs_exist_ok=True)
    lab = Lab(runs, data, max_concurrent=1)
    run = lab.start(RunConfig(hidden_size=8, epochs=50, log_every=1, eval_every=0), "live one")
    try:
        at = open_home()
        links = [link for link in at.page_link if link.value.startswith("live one")]
        assert links and links[0].proto.page.endswith("train")
    finally:
        run.stop()
        run.join(60)
