"""RunConfig validation and JSON round-trip; RunStore's files, atomic writes and safe loading."""

from __future__ import annotations

import json
import math
import os
import pickle
import subprocess
import sys

import pandas as pd
import pytest
import torch

from rnnlab.config import ORDER_WORDS, ORDERS, RunConfig
from rnnlab.run_setup import build_model
from rnnlab.store import BrokenRun, RunNotFound, RunStore, clean_name


def test_defaults_are_valid_and_round_trip() -> None:
    config = RunConfig()
    assert RunConfig.from_json(config.to_json()) == config
    changed = config.replace(cell="gru", hidden_size=64, bidirectional=True, lr=0.01)
    assert RunConfig.from_dict(json.loads(changed.to_json())) == changed


def test_every_order_is_worded_once() -> None:
    """Pages and charts take an order's words from ORDER_WORDS: each order has them, and the form's
    choice starts with the name a run's line uses."""
    assert tuple(ORDER_WORDS) == ORDERS
    for words in ORDER_WORDS.values():
        assert words.choice.startswith(f"{words.name}: ") and words.steps.startswith(words.step)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"hidden_size": 0}, ["hidden_size", "0", "1 to 1024"]),
        ({"hidden_size": 2048}, ["hidden_size", "2048"]),
        ({"num_layers": 5}, ["num_layers", "1 to 4"]),
        ({"dropout": 0.95, "num_layers": 2}, ["dropout", "0 to 0.9"]),
        ({"lr": 0.0}, ["lr", "out of range"]),
        ({"lr": float("nan")}, ["lr"]),
        ({"lr": float("inf")}, ["lr"]),
        ({"cell": "transformer"}, ["cell", "rnn, lstm, gru"]),
        ({"order": "diagonal"}, ["order", "rows"]),
        ({"dataset": "cifar"}, ["dataset", "mnist"]),
        ({"optimizer": "lbfgs"}, ["optimizer", "adam"]),
        ({"nonlinearity": "relu", "cell": "lstm"}, ["nonlinearity", "rnn"]),
        ({"dropout": 0.3}, ["dropout", "num_layers"]),
        ({"hidden_size": "128"}, ["hidden_size", "int"]),
        ({"bidirectional": 1}, ["bidirectional", "bool"]),
        ({"epochs": True}, ["epochs", "int"]),
    ],
)
def test_invalid_values_name_the_field_and_the_range(changes, words) -> None:
    with pytest.raises(ValueError) as error:
        RunConfig(**changes)
    for word in words:
        assert word in str(error.value)


def test_unknown_and_malformed_json_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown config field"):
        RunConfig.from_dict({"hidden": 3})
    with pytest.raises(ValueError, match="not valid JSON"):
        RunConfig.from_json("{nope")
    with pytest.raises(ValueError, match="JSON object"):
        RunConfig.from_json("[1, 2]")


def test_integers_for_floats_are_the_same_config() -> None:
    assert RunConfig(lr=1) == RunConfig(lr=1.0)
    assert isinstance(RunConfig(lr=1).lr, float)


def test_store_round_trip(tmp_path) -> None:
    store = RunStore(tmp_path)
    config = RunConfig(cell="gru", hidden_size=16)
    run_id = store.create(config, name="my  first\nrun")
    assert store.load_config(run_id) == config
    summary = store.list_runs()[0]
    assert (summary.run_id, summary.name, summary.state) == (run_id, "my first run", "queued")
    store.append_metrics(run_id, [{"kind": "step", "step": 1, "loss": 2.5}], ["kind", "step", "loss"])
    store.append_metrics(run_id, [{"kind": "step", "step": 2, "loss": 2.0}], ["kind", "step", "loss"])
    metrics = store.load_metrics(run_id)
    assert list(metrics.step) == [1, 2] and list(metrics.loss) == [2.5, 2.0]
    weights = build_model(config, 10).state_dict()
    store.save_checkpoint(run_id, {"model": weights, "step": 2})
    loaded = store.load_checkpoint(run_id)
    assert all(torch.equal(loaded["model"][k], w) for k, w in weights.items()) and loaded["step"] == 2
    assert not [p for p in store.path(run_id).iterdir() if p.name.endswith(".tmp")], "no temp files left"
    assert store.rename(run_id, "  better name ") == "better name"
    assert store.summary(run_id).name == "better name"
    with pytest.raises(ValueError):
        store.rename(run_id, "\n\t ")
    store.delete(run_id)
    assert store.list_runs() == []


def test_metrics_rows_are_written_as_pandas_wrote_them_and_read_back_whole(tmp_path) -> None:
    """append_metrics writes with the csv module (a worker imports no pandas): the same text as
    pandas' to_csv(float_format="%.6g") for numbers, NaN, None, text with commas, and the same frame back."""
    store = RunStore(tmp_path)
    run_id = store.create(RunConfig(), name="")
    columns = ["kind", "step", "loss", "lr", "event"]
    rows = [
        {"kind": "step", "step": 10, "loss": 2.302585093, "lr": 0.001},
        {"kind": "event", "step": 12, "lr": 3e-4, "event": "lr set to 0.0003, by hand"},
        {"kind": "epoch", "step": 20, "loss": math.nan, "lr": None, "event": 'say "hi"'},
        {"kind": "step", "step": 30, "loss": math.inf, "lr": 1.0},
    ]
    store.append_metrics(run_id, rows[:2], columns)
    store.append_metrics(run_id, rows[2:], columns)
    expected = pd.DataFrame(rows, columns=columns).to_csv(index=False, float_format="%.6g")
    assert (store.path(run_id) / "metrics.csv").read_text() == expected
    back = store.load_metrics(run_id)
    assert back.step.tolist() == [10, 12, 20, 30] and back.event.iloc[1] == "lr set to 0.0003, by hand"
    assert back.loss.iloc[0] == pytest.approx(2.30259) and math.isnan(back.loss.iloc[2])


def test_a_worker_imports_no_pandas() -> None:
    """A quarter of a second of a worker's start-up, on the cores the app and the CLI start on too."""
    probe = "import sys, rnnlab.worker; print('pandas' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_corrupt_run_is_listed_as_broken_and_others_still_load(tmp_path) -> None:
    store = RunStore(tmp_path)
    good = store.create(RunConfig())
    bad = store.create(RunConfig(seed=1))
    (store.path(bad) / "config.json").write_text("{ this is not json")
    summaries = {s.run_id: s for s in store.list_runs()}
    assert summaries[good].state == "queued" and not summaries[good].broken
    assert summaries[bad].broken and "config.json" in summaries[bad].error
    (tmp_path / "stray-file.txt").write_text("not a run")
    assert len(store.list_runs()) == 2


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_hostile_checkpoints_are_refused_without_running_code(tmp_path) -> None:
    store = RunStore(tmp_path)
    run_id = store.create(RunConfig())
    path = store.path(run_id) / "model.pt"
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path.write_bytes(pickle.dumps({"model": Exploit()}))
    with pytest.raises(BrokenRun, match="not a loadable"):
        store.load_checkpoint(run_id)
    assert not marker.exists(), "unpickling must never run code"

    torch.save({"model": {"w": torch.ones(2)}}, path)
    path.write_bytes(path.read_bytes()[:40])  # truncated
    with pytest.raises(BrokenRun):
        store.load_checkpoint(run_id)
    path.write_bytes(b"")
    with pytest.raises(BrokenRun):
        store.load_checkpoint(run_id)
    torch.save({"weights": [1, 2]}, path)  # loadable, but not ours
    with pytest.raises(BrokenRun, match="no model weights"):
        store.load_checkpoint(run_id)


@pytest.mark.parametrize("run_id", ["../etc", "a/b", "..", "", ".hidden", "x" * 200, "名前", "a\x00b", None])
def test_run_ids_cannot_escape_the_runs_dir(tmp_path, run_id) -> None:
    store = RunStore(tmp_path / "runs")
    with pytest.raises(RunNotFound):
        store.path(run_id)
    assert not store.exists(run_id)


def test_active_run_of_a_dead_process_reads_as_interrupted(tmp_path) -> None:
    """A run left 'running' by a process that no longer exists (killed app) shows as interrupted."""
    store = RunStore(tmp_path)
    run_id = store.create(RunConfig())
    store.write_status(run_id, {"state": "running"})
    assert store.summary(run_id).state == "running", "this process owns it and is alive"
    status_file = store.path(run_id) / "status.json"
    status = json.loads(status_file.read_text())
    status_file.write_text(json.dumps({**status, "pid": 2**22 + 4321}))  # above Linux's pid_max default
    assert store.summary(run_id).state == "interrupted"


def test_clean_name_bounds_and_flattens() -> None:
    assert clean_name("a\u202eb\nc") == "a b c"
    assert len(clean_name("x" * 500)) == 80


def test_a_torn_last_metrics_line_is_left_out(tmp_path) -> None:
    """A writer killed mid-line leaves a partial row; readers see only whole rows."""
    store = RunStore(tmp_path)
    run_id = store.create(RunConfig())
    store.append_metrics(run_id, [{"kind": "step", "step": 1, "loss": 2.5}], ["kind", "step", "loss"])
    with open(store.path(run_id) / "metrics.csv", "a") as f:
        f.write("step,2,1.2")  # no newline: the process died here
    metrics = store.load_metrics(run_id)
    assert list(metrics.step) == [1]
