"""AppTest of the Sweep page: a bad axis, the cost, a small sweep from the URL started and shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from rnnlab.sweep_lab import SweepLab
from rnnlab.ui.state import get_lab, get_sweeps


@pytest.fixture
def page(tmp_path: Path, tiny_data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """The app's Lab and SweepLab over a fresh runs folder and the tiny datasets; stopped afterwards."""
    monkeypatch.setenv("RNNLAB_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(tiny_data_dir))
    get_lab.clear()
    get_sweeps.clear()
    yield get_sweeps()
    get_sweeps().shutdown()
    get_lab().shutdown()
    get_sweeps.clear()
    get_lab.clear()


def open_sweep(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file("../router.py", default_timeout=60)
    at.run()
    at.switch_page("app_pages/sweep.py")
    at.query_params.update(query)
    at.run()
    assert not at.exception, at.exception
    return at


def test_an_invalid_axis_is_one_error_and_offers_no_start(page: SweepLab) -> None:
    at = open_sweep({"vary": "hidden_size", "hidden_size": "8,5000"})
    assert any("axis hidden_size: hidden_size=5000 is out of range" in e.value for e in at.error)
    assert not [b for b in at.button if b.key == "sweep_form_start"]


def test_a_small_sweep_from_the_url_starts_shows_its_trials_and_what_mattered(page: SweepLab) -> None:
    at = open_sweep(
        {"vary": "lr", "lr": "1e-6,2e-2", "trials": "2", "epochs": "1", "prune": "0", "train_subset": "128"}
    )
    assert at.multiselect(key="sweep_form_vary").value == ["lr"]
    assert at.text_input(key="sweep_form_axis_lr").value == "1e-6,2e-2"
    assert any("2 trials × 1 epochs: about" in c.value for c in at.caption)
    at.button(key="sweep_form_start").click().run()
    assert not at.exception
    [sweep_id] = [record.sweep_id for record in page.list_sweeps()]
    assert at.query_params["sweep"] in (sweep_id, [sweep_id])
    assert page.runner(sweep_id).join(60)
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) == 2 and set(table["state"]) == {"finished"}
    assert at.button(key="sweep_view_longer")  # afterwards: train the best for longer
    assert (
        len(at.get("plotly_chart")) == 4
    )  # trials across the axes, best over time, top curves, what mattered
