"""The Evaluate page in Streamlit's AppTest: it renders a trained run and explains every dead end in words."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from rnnlab.config import RunConfig
from rnnlab.lab import Lab

ROOT = Path(__file__).resolve().parents[1]
PAGE = "app_pages/evaluate.py"
FAST = RunConfig(hidden_size=32, lr=1e-2, batch_size=32, epochs=2, log_every=2, eval_every=8, eval_subset=64)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path) -> tuple[Path, str]:
    """A runs folder holding one finished run on the tiny data, trained once for the whole module."""
    runs = tmp_path_factory.mktemp("evaluate-runs")
    lab = Lab(runs_dir=runs, data_dir=tiny_data_dir, max_concurrent=1)
    run = lab.start(FAST)
    assert run.join(120) and run.status().state == "finished", run.status().message
    return runs, run.run_id


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    """Each test gets its own Lab (folders come from the environment) and no cached evaluation."""
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


def open_page(monkeypatch: pytest.MonkeyPatch, runs: Path, data: Path, run: str | None = None) -> AppTest:
    monkeypatch.setenv("RNNLAB_RUNS_DIR", str(runs))
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(data))
    at = AppTest.from_file(str(ROOT / "router.py"), default_timeout=120)
    at.switch_page(PAGE)
    if run is not None:
        at.query_params["run"] = run
    return at.run()


def has(at: AppTest, key: str) -> bool:
    try:
        at.get_by_key(key)
    except KeyError:
        return False
    return True


def texts(elements) -> str:
    return " ".join(str(e.value) for e in elements)


def test_renders_a_trained_run_with_its_confusion_matrix_and_mistakes(
    monkeypatch: pytest.MonkeyPatch, trained: tuple[Path, str], tiny_data_dir: Path
) -> None:
    runs, run_id = trained
    at = open_page(monkeypatch, runs, tiny_data_dir, run=run_id)
    assert not at.exception
    assert at.selectbox(key="evaluate_run").value == run_id
    labels = ["Accuracy, latest weights", "Mistakes", "Test loss", "Images evaluated"]
    assert [m.label for m in at.metric][:4] == labels
    assert at.metric[3].value == "256"  # the whole tiny test split, under the default limit
    assert has(at, "evaluate_confusion")  # the clickable confusion matrix
    assert not has(at, "evaluate_noise")  # closed tabs do not run (robustness takes several passes)
    headings = texts(at.subheader)
    assert "Mistakes:" in headings and "of 256 test images" in headings
    assert at.query_params["run"] == run_id  # the URL names the run shown


def test_choosing_a_cell_shows_its_examples_with_links_inside(
    monkeypatch: pytest.MonkeyPatch, trained: tuple[Path, str], tiny_data_dir: Path
) -> None:
    runs, run_id = trained
    at = open_page(monkeypatch, runs, tiny_data_dir, run=run_id)
    at.selectbox(key="evaluate_true_class").set_value(3)
    at.selectbox(key="evaluate_predicted_class").set_value(3).run()
    assert not at.exception
    assert "true 3 · predicted 3:" in texts(at.subheader)
    links = [link for link in at.page_link if link.proto.page.endswith("inside")]
    assert links, "each example links to the Inside page"
    assert all(
        f"run={run_id}" in link.proto.query_string and "index=" in link.proto.query_string for link in links
    )
    at.button(key="evaluate_all_mistakes").click().run()
    assert at.selectbox(key="evaluate_true_class").value is None
    assert "Mistakes:" in texts(at.subheader)


@pytest.mark.parametrize(
    ("tab", "chart_keys"),
    [
        ("Per class", ["evaluate_per_class"]),
        ("Reading early", ["evaluate_steps"]),
        ("Hidden-state map", ["evaluate_hidden_map"]),
        ("Robustness", ["evaluate_noise", "evaluate_rotation"]),
    ],
)
def test_every_tab_draws_its_charts(
    monkeypatch: pytest.MonkeyPatch,
    trained: tuple[Path, str],
    tiny_data_dir: Path,
    tab: str,
    chart_keys: list[str],
) -> None:
    runs, run_id = trained
    at = open_page(monkeypatch, runs, tiny_data_dir, run=run_id)
    at.session_state["evaluate_tab"] = tab
    at.run()
    assert not at.exception
    for key in chart_keys:
        assert has(at, key), f"{tab} should draw {key}"
    assert not has(at, "evaluate_confusion")


def test_an_unknown_run_in_the_url_is_explained(
    monkeypatch: pytest.MonkeyPatch, trained: tuple[Path, str], tiny_data_dir: Path
) -> None:
    runs, run_id = trained
    at = open_page(monkeypatch, runs, tiny_data_dir, run="no-such-run")
    assert not at.exception
    assert "no-such-run" in texts(at.warning)
    assert at.selectbox(key="evaluate_run").value == run_id  # the page still offers what there is


def test_no_runs_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_data_dir: Path
) -> None:
    at = open_page(monkeypatch, tmp_path / "empty", tiny_data_dir, run="../../etc")
    assert not at.exception
    assert "Train one first" in texts(at.info)
    assert "../../etc" in texts(at.warning)


def test_a_broken_checkpoint_is_a_message_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_data_dir: Path
) -> None:
    lab = Lab(runs_dir=tmp_path / "runs", data_dir=tiny_data_dir)
    run_id = lab.store.create(FAST)
    (lab.store.path(run_id) / "model.pt").write_bytes(b"\x00 not a checkpoint")
    at = open_page(monkeypatch, tmp_path / "runs", tiny_data_dir, run=run_id)
    assert not at.exception
    shown = texts(at.warning).replace("\\", "")  # file names in messages are escaped markdown
    assert "cannot be used" in shown and "model.pt" in shown


def test_a_missing_dataset_is_a_message_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, trained: tuple[Path, str], tmp_path: Path
) -> None:
    runs, run_id = trained
    at = open_page(monkeypatch, runs, tmp_path / "no-data", run=run_id)
    assert not at.exception
    assert "dataset is not available" in texts(at.warning)


def test_switching_runs_in_the_menu_warns_about_nothing(
    monkeypatch: pytest.MonkeyPatch, trained: tuple[Path, str], tiny_data_dir: Path, tmp_path: Path
) -> None:
    """Picking another run used to raise a false "there is no run <the one just left>" warning."""
    runs, run_id = trained
    local = tmp_path / "runs"
    shutil.copytree(runs, local)
    twin = run_id[:-4] + "beef"  # the same run again under another id: a second run with weights
    shutil.copytree(local / run_id, local / twin)
    at = open_page(monkeypatch, local, tiny_data_dir, run=run_id)
    assert not at.warning
    at.selectbox(key="evaluate_run").set_value(twin).run()
    assert not at.exception and not at.warning
    assert at.query_params["run"] == twin


def test_the_accuracy_says_which_weights_and_how_it_relates_to_the_best_epoch(
    monkeypatch: pytest.MonkeyPatch, trained: tuple[Path, str], tiny_data_dir: Path
) -> None:
    runs, run_id = trained
    at = open_page(monkeypatch, runs, tiny_data_dir, run=run_id)
    assert "Runs table's *best test acc*" in at.metric[0].proto.help
    caption = texts(at.caption)
    assert "Measured here: its saved weights" in caption and "first 256 test images" in caption
    assert "Its best epoch scored" in caption and "best test acc" in caption
