"""Runs page (AppTest): the table, selection and overlays, and every action on one run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from rnnlab.config import RunConfig
from rnnlab.lab import Lab
from rnnlab.store import RunStore
from rnnlab.ui.state import get_lab

APP = str(Path(__file__).resolve().parents[1] / "router.py")
BROKEN = "20000101-000000-mnist-lstm-dead"


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory, tiny_data_dir) -> SimpleNamespace:
    """Two tiny trained runs and one run folder with a garbage config.json, trained once per module."""
    root = tmp_path_factory.mktemp("trained-runs")
    lab = Lab(root, tiny_data_dir, max_concurrent=1)
    config = RunConfig(hidden_size=16, lr=1e-2, batch_size=64, epochs=1, log_every=2, eval_every=0)
    ids = []
    for cell, name in (("lstm", "lstm run"), ("gru", "gru run")):
        run = lab.start(config.replace(cell=cell), name)
        assert run.join(120) and run.status().state == "finished", run.status().message
        ids.append(run.run_id)
    (root / BROKEN).mkdir()
    (root / BROKEN / "config.json").write_text("{garbage")
    return SimpleNamespace(root=root, lstm=ids[0], gru=ids[1])


@pytest.fixture
def runs(app_runs_dir, trained_runs) -> SimpleNamespace:
    """The trained runs copied into this test's runs dir, so a test may rename or delete them."""
    shutil.copytree(trained_runs.root, app_runs_dir, dirs_exist_ok=True)
    return SimpleNamespace(
        dir=app_runs_dir, store=RunStore(app_runs_dir), lstm=trained_runs.lstm, gru=trained_runs.gru
    )


def open_runs(*run_ids: str, rows: list[int] | None = None) -> AppTest:
    """The Runs page, with runs named in ?run= or table rows ticked, after its first full run."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("app_pages/runs.py")
    if run_ids:
        at.query_params["run"] = list(run_ids)
    if rows is not None:
        at.session_state["runs_table"] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    at.run()
    assert not at.exception, at.exception
    return at


def figures(at: AppTest) -> dict[str, dict]:
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    return {spec["layout"]["title"]["text"]: spec for spec in specs}


def frame(at: AppTest, key: str) -> pd.DataFrame:
    return next(d for d in at.dataframe if d.key == key).value


def settings_table(at: AppTest) -> pd.DataFrame:
    """The configs side by side: the page's other table (a non-widget table carries no key here)."""
    return next(d for d in at.dataframe if d.key != "runs_table").value


def texts(elements) -> str:
    return " ".join(str(e.value) for e in elements)


def test_empty_runs_dir_says_what_to_do(app_runs_dir):
    at = open_runs()
    assert "No runs yet" in texts(at.info)
    assert [link.proto.page for link in at.page_link if "Train" in link.value]
    assert not at.dataframe


def test_table_lists_every_run_and_the_broken_one_with_its_reason(runs):
    at = open_runs()
    table = frame(at, "runs_table").set_index("run id")
    assert set(table.index) == {runs.lstm, runs.gru, BROKEN}
    assert "broken" in table.loc[BROKEN, "state"]
    assert "config.json" in table.loc[BROKEN, "note"]
    assert table.loc[runs.lstm, "name"] == "lstm run"
    assert table.loc[runs.lstm, "best test acc"] > 0
    assert "Select one or more runs" in texts(at.info)


def test_every_widget_has_help(runs):
    at = open_runs(runs.lstm)
    widgets = [
        *at.text_input,
        *at.multiselect,
        *at.radio,
        *at.slider,
        *at.toggle,
        *at.number_input,
        *at.button,
        *at.download_button,
    ]
    assert len(widgets) >= 10
    assert all(w.help for w in widgets), [w.key for w in widgets if not w.help]


def test_two_selected_runs_overlay_in_both_figures(runs):
    at = open_runs(rows=[0, 1])
    chosen = at.session_state["runs_chosen"]
    assert len(chosen) == 2 and BROKEN not in chosen
    figs = figures(at)
    assert set(figs) == {"Loss", "Test accuracy"}
    names = {t["name"] for t in figs["Loss"]["data"]}
    assert names == {"lstm run", "gru run"}
    assert [t["line"]["color"] for t in figs["Loss"]["data"]] == [
        t["line"]["color"] for t in figs["Test accuracy"]["data"]
    ]
    assert at.query_params["run"] == chosen  # the URL names the comparison
    settings = settings_table(at)
    assert "cell" in settings.index and "hidden_size" not in settings.index  # only the differences


def test_x_axis_and_train_accuracy_controls(runs):
    at = open_runs(runs.lstm, runs.gru)
    at.radio(key="runs_x").set_value("wall time")
    at.toggle(key="runs_train_acc").set_value(True)
    at.toggle(key="runs_only_differences").set_value(False)
    at.run()
    assert not at.exception
    figs = figures(at)
    assert figs["Loss"]["layout"]["xaxis"]["title"]["text"] == "training time (s)"
    assert len(figs["Test accuracy"]["data"]) == 4
    settings = settings_table(at)
    assert "hidden_size" in settings.index


def test_filters_narrow_the_table_and_keep_hidden_selections(runs):
    at = open_runs(runs.lstm)
    at.multiselect(key="runs_states").set_value(["broken"])
    at.run()
    table = frame(at, "runs_table")
    assert list(table["run id"]) == [BROKEN]
    assert at.session_state["runs_chosen"] == [runs.lstm]
    assert "hidden by the filters" in texts(at.caption)
    at.multiselect(key="runs_states").set_value([])
    at.text_input(key="runs_search").input("GRU").run()
    assert list(frame(at, "runs_table")["run id"]) == [runs.gru]


def test_bad_run_in_url_shows_a_message(runs):
    at = open_runs("../../etc", runs.gru)
    assert "There is no run `../../etc` here" in texts(at.warning)
    assert at.session_state["runs_chosen"] == [runs.gru]


def test_broken_run_shows_its_reason_and_can_be_deleted(runs):
    at = open_runs(BROKEN)
    assert "config.json" in texts(at.error).replace("\\", "")  # shown as plain text: escaped markdown
    assert not at.get("plotly_chart")
    at.button(key="runs_delete").click().run()
    at.button(key="runs_delete_confirm").click().run()
    assert not at.exception
    assert not (runs.dir / BROKEN).exists()


def test_rename(runs):
    at = open_runs(runs.lstm)
    at.text_input(key=f"runs_rename_{runs.lstm}").input("  my best  ")  # a form: sent with its button
    at.button(key="runs_rename_button").click().run()
    assert not at.exception
    assert runs.store.summary(runs.lstm).name == "my best"
    assert "Renamed to **my best**" in texts(at.success)


def test_empty_rename_is_refused_with_a_message(runs):
    at = open_runs(runs.lstm)
    at.text_input(key=f"runs_rename_{runs.lstm}").input("   ")
    at.button(key="runs_rename_button").click().run()
    assert not at.exception
    assert "Not renamed" in texts(at.warning)
    assert runs.store.summary(runs.lstm).name == "lstm run"


def test_delete_asks_first_and_cancel_keeps_the_run(runs):
    at = open_runs(runs.gru)
    at.button(key="runs_delete").click().run()
    assert "cannot be undone" in texts(at.warning)
    at.button(key="runs_delete_cancel").click().run()
    assert (runs.dir / runs.gru).is_dir()
    at.button(key="runs_delete").click().run()
    at.button(key="runs_delete_confirm").click().run()
    assert not at.exception
    assert not (runs.dir / runs.gru).exists()
    assert "Deleted" in texts(at.success)
    assert runs.gru not in at.session_state["runs_chosen"]


def test_exports_offer_the_bundle_and_the_csv(runs):
    at = open_runs(runs.lstm)
    buttons = {b.key: b for b in at.download_button}
    assert not buttons["runs_download_bundle"].disabled
    assert not buttons["runs_download_csv"].disabled


def test_a_run_without_weights_cannot_be_downloaded_or_continued(runs):
    run_id = runs.store.create(RunConfig(hidden_size=8), "never trained")
    runs.store.write_status(run_id, {"state": "stopped"})  # stopped before its first epoch ended
    at = open_runs(run_id)
    assert {b.key: b.disabled for b in at.download_button}["runs_download_bundle"]
    assert at.button(key="runs_continue_button").disabled
    assert "no checkpoint" in texts(at.caption)
    assert [link for link in at.page_link if link.value == "Open on Inside" and link.proto.disabled]


def test_continue_training_then_link_to_train(runs):
    at = open_runs(runs.lstm)
    at.number_input(key=f"runs_more_epochs_{runs.lstm}").set_value(1)
    at.button(key="runs_continue_button").click().run()
    assert not at.exception, at.exception
    assert "1 more epoch" in texts(at.success)
    links = [link for link in at.page_link if link.value.startswith("Watch it train")]
    assert links and links[0].proto.query_string == f"run={runs.lstm}"
    run = get_lab().get(runs.lstm)
    assert run is not None and run.join(120)
    assert run.status().state == "finished" and run.status().epoch == 2


def test_deleting_a_training_run_stops_it_first(runs):
    run = get_lab().start(RunConfig(hidden_size=8, epochs=200, log_every=1, eval_every=0), "long one")
    at = open_runs(run.run_id)
    at.button(key="runs_delete").click().run()
    assert "stopped first" in texts(at.warning)
    at.button(key="runs_delete_confirm").click().run()
    assert not at.exception, at.exception
    assert not run.alive and not (runs.dir / run.run_id).exists()


def test_the_table_and_the_settings_say_which_lr_a_run_started_and_ended_with(runs):
    """A learning rate set by hand used to vanish from the record: everything showed the start lr."""
    metrics = runs.store.load_metrics(runs.lstm)
    change = {"kind": "event", "step": 4, "epoch": 0.5, "time": 1.0, "lr": 0.0003, "event": "lr"}
    metrics = pd.concat([metrics.assign(event=None), pd.DataFrame([change])], ignore_index=True)
    runs.store.replace_metrics(runs.lstm, metrics.sort_values("step", kind="stable"))
    runs.store.write_status(runs.lstm, {"lr": 0.0003})
    at = open_runs(runs.lstm, runs.gru)
    table = frame(at, "runs_table").set_index("run id")
    assert (table.loc[runs.lstm, "start lr"], table.loc[runs.lstm, "last lr"]) == (0.01, 0.0003)
    assert table.loc[runs.gru, "start lr"] == table.loc[runs.gru, "last lr"] == 0.01
    settings = settings_table(at)
    assert settings.loc["lr at the last step"].tolist() == ["0.0003", "0.01"]
    assert settings.loc["lr set by hand"].tolist() == ["0.01, then 0.0003 from step 4", "never"]
    assert "lr" not in settings.index and "lr at the start" not in settings.index  # the same start: hidden


def test_log_axes_read_as_the_numbers_they_are(runs):
    """Plotly labelled 0.3 as "3" on a short log axis; every tick label now is its value."""
    at = open_runs(runs.lstm, runs.gru)
    axis = figures(at)["Loss"]["layout"]["yaxis"]
    assert axis["type"] == "log" and len(axis["tickvals"]) >= 2
    for value, label in zip(axis["tickvals"], axis["ticktext"], strict=True):
        assert float(label) == pytest.approx(value)


def test_rename_says_so_beside_the_form_and_the_menu_takes_the_new_name(runs):
    at = open_runs(runs.lstm, runs.gru)
    at.selectbox(key="runs_manage").set_value(runs.lstm).run()
    at.text_input(key=f"runs_rename_{runs.lstm}").input("renamed lstm")
    at.button(key="runs_rename_button").click().run()
    assert not at.exception
    assert "renamed lstm" in at.selectbox(key="runs_manage").options
    order = list(at.main)
    (done,) = [e for e in at.success if "Renamed to **renamed lstm**" in e.value]
    rename_field = at.text_input(key=f"runs_rename_{runs.lstm}")
    assert order.index(done) > order.index(rename_field)  # under the form, not at the top of the page
    assert "renamed lstm" in frame(at, "runs_table")["name"].tolist()
