"""Comparing runs: table filters, configs side by side, overlay curves, and the export bundle."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch

from rnnlab.bundle import export_bundle, metrics_csv
from rnnlab.compare import (
    X_AXES,
    accuracy_curves,
    base_state,
    compare_configs,
    filter_runs,
    loss_curves,
    run_labels,
)
from rnnlab.config import RunConfig
from rnnlab.curves import smooth
from rnnlab.metrics import COLUMNS
from rnnlab.models import SequenceClassifier
from rnnlab.runs_table import runs_table
from rnnlab.store import BrokenRun, RunNotFound, RunStore, RunSummary


def summary(run_id: str, name: str, state: str = "finished", **changes) -> RunSummary:
    return RunSummary(
        run_id, name, state, RunConfig(hidden_size=8).replace(**changes), {"best_test_acc": 0.5}
    )


@pytest.fixture
def table() -> pd.DataFrame:
    broken = RunSummary("r4", "r4", "broken", None, {}, "config.json of run r4 is unreadable: bad JSON")
    return runs_table(
        [
            summary("r1", "Baseline LSTM"),
            summary("r2", "gru a.b", cell="gru", dataset="kmnist"),
            summary("r3", "rnn relu", state="running", cell="rnn", nonlinearity="relu"),
            broken,
        ]
    )


def metrics_frame(steps: int = 10, epochs: int = 2, time_scale: float = 0.5) -> pd.DataFrame:
    """Step rows with a falling loss, then one epoch row per epoch, as a run writes them."""
    rows = [
        {"kind": "step", "step": s, "epoch": s / steps, "time": s * time_scale, "loss": 2.0 / s}
        for s in range(1, steps * epochs + 1)
    ]
    rows += [
        {"kind": "epoch", "step": e * steps, "epoch": e, "time": e * steps * time_scale, "test_acc": 0.4 * e,
         "train_acc": 0.45 * e}
        for e in range(1, epochs + 1)
    ]  # fmt: skip
    return pd.DataFrame(rows).reindex(columns=COLUMNS)


# -- table ---------------------------------------------------------------------------------------
def test_base_state_strips_the_broken_reason(table):
    assert list(base_state(table)) == ["finished", "finished", "running", "broken"]


def test_no_filter_keeps_every_run_including_broken(table):
    assert list(filter_runs(table)["run id"]) == ["r1", "r2", "r3", "r4"]


def test_filters_combine(table):
    assert list(filter_runs(table, states=["broken"])["run id"]) == ["r4"]
    assert list(filter_runs(table, states=["finished", "running"], cells=["gru"])["run id"]) == ["r2"]
    assert list(filter_runs(table, datasets=["mnist"])["run id"]) == ["r1", "r3"]
    assert list(filter_runs(table, cells=["rnn-relu"])["run id"]) == ["r3"]


def test_text_search_is_literal_and_case_insensitive(table):
    assert list(filter_runs(table, text="  baseline ")["run id"]) == ["r1"]
    assert list(filter_runs(table, text="a.b")["run id"]) == ["r2"]  # "." is not a regex wildcard
    assert list(filter_runs(table, text="R4")["run id"]) == ["r4"]  # the id matches too
    assert filter_runs(table, text="(").empty


def test_labels_are_names_made_unique_with_the_id():
    assert run_labels([("a", "x"), ("b", "y"), ("c", "x")]) == {"a": "x · a", "b": "y", "c": "x · c"}


# -- configs -------------------------------------------------------------------------------------
def test_compare_configs_marks_exactly_the_differing_fields():
    base = RunConfig(hidden_size=8, lr=1e-3)
    comparison = compare_configs(
        {"one": base, "two": base.replace(lr=1e-2, cell="gru")}, {"one": 100, "two": 90}
    )
    assert set(comparison.differs[comparison.differs].index) == {"lr", "cell", "parameters"}
    assert list(comparison.only_differences().index) == ["cell", "lr", "parameters"]
    assert comparison.table.loc["lr"].tolist() == ["0.001", "0.01"]
    assert comparison.table.loc["bidirectional", "one"] == "no"
    assert list(comparison.table.columns) == ["one", "two"]


def test_equal_values_written_differently_do_not_differ():
    a, b = RunConfig(lr=0.001), RunConfig(lr=1e-3)
    assert not compare_configs({"a": a, "b": b}, {"a": 1, "b": 1}).differs.any()


def test_a_single_config_differs_nowhere():
    comparison = compare_configs({"only": RunConfig()}, {"only": 5})
    assert comparison.only_differences().empty
    assert comparison.table.loc["parameters", "only"] == "5"


# -- curves --------------------------------------------------------------------------------------
@pytest.mark.parametrize("x", list(X_AXES))
def test_loss_curves_follow_the_chosen_x_axis(x):
    frame = metrics_frame()
    (curve,) = loss_curves({"r1": frame}, {"r1": "run one"}, x=x)
    steps = frame[frame["kind"] == "step"]
    np.testing.assert_allclose(curve.x, steps[X_AXES[x][0]])
    np.testing.assert_allclose(curve.y, steps["loss"])
    assert curve.label == "run one" and curve.run_id == "r1"


def test_loss_curves_smooth_every_point_then_thin():
    frame = metrics_frame(steps=500, epochs=4)
    (curve,) = loss_curves({"r": frame}, {"r": "r"}, smoothing=0.9, max_points=100)
    assert len(curve.x) <= 100 and curve.x[-1] == 2000
    full = smooth(frame[frame["kind"] == "step"]["loss"].to_numpy(float), 0.9)
    assert curve.y[-1] == pytest.approx(full[-1])


@pytest.mark.parametrize("frame", [pd.DataFrame(), pd.DataFrame(columns=COLUMNS)], ids=["bare", "columns"])
def test_curves_of_runs_without_metrics_are_empty_not_errors(frame):
    (loss,) = loss_curves({"r": frame}, {"r": "r"})
    (acc,) = accuracy_curves({"r": frame}, {"r": "r"}, x="wall time")
    assert len(loss.x) == len(acc.x) == 0


def test_accuracy_curves_use_epoch_rows():
    frame = metrics_frame(epochs=3)
    (test,) = accuracy_curves({"r": frame}, {"r": "r"}, x="epoch")
    (train,) = accuracy_curves({"r": frame}, {"r": "r"}, x="step", split="train")
    np.testing.assert_allclose(test.x, [1, 2, 3])
    np.testing.assert_allclose(test.y, [0.4, 0.8, 1.2])
    np.testing.assert_allclose(train.x, [10, 20, 30])
    np.testing.assert_allclose(train.y, [0.45, 0.9, 1.35])


def test_unknown_axis_or_split_is_refused():
    with pytest.raises(ValueError, match="x="):
        loss_curves({"r": metrics_frame()}, {"r": "r"}, x="minutes")
    with pytest.raises(ValueError, match="split="):
        accuracy_curves({"r": metrics_frame()}, {"r": "r"}, split="valid")


# -- export --------------------------------------------------------------------------------------
@pytest.fixture
def store_with_run(tmp_path):
    """A run written the way the trainer writes one: config, status, weights, metrics."""
    store = RunStore(tmp_path / "runs")
    config = RunConfig(hidden_size=8, epochs=1)
    run_id = store.create(config, "exported")
    model = SequenceClassifier.from_config(config, 10)
    store.save_checkpoint(run_id, {"model": model.state_dict(), "epoch": 1, "num_classes": 10})
    store.append_metrics(run_id, metrics_frame(steps=3, epochs=1).to_dict("records"), COLUMNS)
    store.write_status(run_id, {"state": "finished"})
    return store, run_id, model


def test_bundle_holds_weights_config_status_and_metrics(store_with_run):
    store, run_id, model = store_with_run
    archive = zipfile.ZipFile(io.BytesIO(export_bundle(store, run_id)))
    names = {f"{run_id}/{n}" for n in ("model.pt", "config.json", "status.json", "metrics.csv")}
    assert set(archive.namelist()) == names
    checkpoint = torch.load(io.BytesIO(archive.read(f"{run_id}/model.pt")), weights_only=True)
    for key, tensor in model.state_dict().items():
        torch.testing.assert_close(checkpoint["model"][key], tensor)
    assert RunConfig.from_json(archive.read(f"{run_id}/config.json").decode()) == store.load_config(run_id)
    assert json.loads(archive.read(f"{run_id}/status.json"))["name"] == "exported"
    exported = pd.read_csv(io.BytesIO(archive.read(f"{run_id}/metrics.csv")))
    pd.testing.assert_frame_equal(exported, store.load_metrics(run_id))


def test_bundle_of_a_run_without_weights_leaves_them_out(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.create(RunConfig())
    names = zipfile.ZipFile(io.BytesIO(export_bundle(store, run_id))).namelist()
    assert f"{run_id}/model.pt" not in names and f"{run_id}/config.json" in names


def test_bundle_never_follows_a_symlink_out_of_the_run(store_with_run, tmp_path):
    store, run_id, _ = store_with_run
    secret = tmp_path / "secret.txt"
    secret.write_text("do not export")
    (store.path(run_id) / "status.json").unlink()
    (store.path(run_id) / "status.json").symlink_to(secret)
    with pytest.raises(BrokenRun, match="outside the runs folder"):
        export_bundle(store, run_id)


@pytest.mark.parametrize("run_id", ["../runs", "/etc", "missing-run"])
def test_export_refuses_ids_that_are_not_runs_here(tmp_path, run_id):
    store = RunStore(tmp_path)
    with pytest.raises(RunNotFound):
        export_bundle(store, run_id)
    with pytest.raises(RunNotFound):
        metrics_csv(store, run_id)


def test_metrics_csv_keeps_complete_lines_only(store_with_run):
    store, run_id, _ = store_with_run
    whole = metrics_csv(store, run_id)
    with open(store.path(run_id) / "metrics.csv", "a") as f:
        f.write("step,99,0.5,1.0,2.")  # a writer caught mid-line
    assert metrics_csv(store, run_id) == whole
    assert whole.decode().splitlines()[0] == ",".join(COLUMNS)


def test_metrics_csv_of_a_run_with_no_metrics_is_just_the_header(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.create(RunConfig())
    assert metrics_csv(store, run_id).decode() == ",".join(COLUMNS) + "\n"
