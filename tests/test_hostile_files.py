"""One bad file in the runs folder or an imported zip costs that one run, never a page or the CLI."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlab import cli
from rnnlab.bundle import BundleError, export_bundle, import_bundle, max_bundle_bytes
from rnnlab.config import RunConfig
from rnnlab.models import count_parameters
from rnnlab.run_setup import build_model
from rnnlab.runs_table import runs_table
from rnnlab.status_record import MAX_SECONDS, clean_status
from rnnlab.store import BrokenRun, RunStore

ROOT = Path(__file__).resolve().parents[1]
SMALL = RunConfig(hidden_size=8, epochs=1)


def checkpoint_of(config: RunConfig, **changes) -> dict:
    """A genuine checkpoint of `config` (fresh weights), with entries changed or added."""
    return {
        "model": build_model(config, 10).state_dict(),
        "step": 3,
        "epoch": 1,
        "num_classes": 10,
        **changes,
    }


@pytest.fixture
def store(tmp_path) -> RunStore:
    return RunStore(tmp_path / "runs")


def saved_run(store: RunStore, config: RunConfig = SMALL, **status) -> str:
    run_id = store.create(config, name="good run")
    store.write_status(run_id, {"state": "finished", **status})
    torch.save(checkpoint_of(config), store.path(run_id) / "model.pt")
    return run_id


# -- item 3: one bad file, one broken run ------------------------------------------------------
def hostile_folders(store: RunStore, outside: Path) -> dict[str, str]:
    """Run folders each holding one crafted file; returns run id -> what is wrong with it."""
    made = {}

    def bad(what: str, name: str, write) -> None:
        run_id = saved_run(store)
        path = store.path(run_id) / name
        path.unlink(missing_ok=True)
        write(path)
        made[run_id] = what

    bad("deep", "config.json", lambda p: p.write_text("[" * 200_000 + "]" * 200_000))
    bad(
        "digits",
        "config.json",
        lambda p: p.write_text(json.dumps({"hidden_size": 1}).replace("1", "9" * 4000)),
    )
    bad("fifo", "status.json", lambda p: os.mkfifo(p))
    bad("zero", "config.json", lambda p: p.symlink_to("/dev/zero"))
    bad("outside", "status.json", lambda p: p.symlink_to(outside))
    bad("huge", "config.json", lambda p: p.write_bytes(b" " * (2**20 + 1)))
    bad("folder", "config.json", lambda p: p.mkdir())
    return made


def test_each_hostile_file_makes_only_its_run_broken_with_a_reason(store, tmp_path) -> None:
    outside = tmp_path / "secret.json"
    outside.write_text(json.dumps({"name": "SECRET TEXT", "state": "finished"}))
    good = saved_run(store)
    made = hostile_folders(store, outside)
    summaries = {s.run_id: s for s in store.list_runs()}  # would hang on the FIFO, or raise, before
    assert not summaries[good].broken and summaries[good].state == "finished"
    for run_id, what in made.items():
        summary = summaries[run_id]
        assert summary.broken, what
        assert "SECRET" not in summary.name + str(summary.status), "a link out of the runs folder is not read"
        assert ("config.json" in summary.error) or ("status.json" in summary.error), (what, summary.error)
    reasons = {what: summaries[run_id].error for run_id, what in made.items()}
    assert "nested more than" in reasons["deep"] and "digits" in reasons["digits"]
    assert "named pipe" in reasons["fifo"] and "outside the runs folder" in reasons["zero"]
    assert "outside the runs folder" in reasons["outside"] and "more than the" in reasons["huge"]
    assert "folder" in reasons["folder"]
    table = runs_table(list(summaries.values()))
    assert len(table) == len(made) + 1


def test_the_runs_command_lists_hostile_folders(store, tmp_path, capsys) -> None:
    outside = tmp_path / "secret.json"
    outside.write_text("{}")
    hostile_folders(store, outside)
    saved_run(store, elapsed_s=1e300)
    assert cli.main(["runs", "--runs-dir", str(store.root)]) == 0
    out = capsys.readouterr().out
    assert out.count("broken") == 7 and "good run" in out


# -- items 1 and 3: a status record holds only typed, bounded values ---------------------------
def test_a_status_of_1e300_seconds_is_dropped_and_the_table_stays_drawable(store) -> None:
    run_id = saved_run(store)
    (store.path(run_id) / "status.json").write_text(
        json.dumps({"state": "finished", "name": "x", "elapsed_s": 1e300, "step": 10**30, "epoch": -4})
    )
    summary = store.summary(run_id)
    assert {"elapsed_s", "step", "epoch"}.isdisjoint(summary.status)
    table = runs_table([summary])
    pd.to_timedelta(table["duration s"], unit="s")  # what the Runs page does; 1e300 raised here


def test_an_imported_zip_with_hostile_status_keeps_only_bounded_values(store) -> None:
    run_id = saved_run(store)
    files = {i.filename: z for i, z in _members(export_bundle(store, run_id))}
    files[f"{run_id}/status.json"] = json.dumps(
        {"state": "finished", "elapsed_s": 1e300, "lr": 1e300, "best_test_acc": 7, "message": "m" * 10**5}
    ).encode()
    new_id = import_bundle(store, _zip(files))
    status = store.summary(new_id).status
    assert {"elapsed_s", "best_test_acc"}.isdisjoint(status) and status.get("lr") is None
    pd.to_timedelta(runs_table([store.summary(new_id)])["duration s"], unit="s")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)
status_keys = st.sampled_from(
    ["state", "name", "message", "elapsed_s", "step", "epoch", "lr", "pid", "best_test_acc", "x"]
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(status_keys | st.text(max_size=70), json_values, max_size=12))
def test_any_status_record_comes_back_typed_and_bounded(raw) -> None:
    record = clean_status(raw)
    for key, value in record.items():
        values = list(value.values()) if isinstance(value, dict) else [value]  # one level at most
        for item in values:
            assert item is None or isinstance(item, (bool, int, float, str)), (key, value)
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                assert abs(item) <= 1e15
            if isinstance(item, str):
                assert len(item) <= 2000
    assert 0 <= record.get("elapsed_s", 0) <= MAX_SECONDS
    assert isinstance(record.get("step", 0), int)
    json.dumps(record, allow_nan=False)


# -- items 2 and 4: checkpoints are checked at load --------------------------------------------
def write_checkpoint(store: RunStore, run_id: str, data) -> Path:
    path = store.path(run_id) / "model.pt"
    torch.save(data, path)
    return path


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda c: {**c, "junk": torch.zeros(10)}, "never has: junk"),
        (lambda c: {**c, "num_classes": 3}, "for 3 classes"),
        (lambda c: {**c, "num_classes": 11}, "for 11 classes"),
        (lambda c: {**c, "step": 10**20}, "not a count"),
        (lambda c: _weights(c, lambda w: w.double()), "float64"),
        (lambda c: _weights(c, lambda w: w.half()), "float16"),
        (lambda c: _weights(c, lambda w: w.fill_(1e30)), "beyond"),
        (lambda c: _weights(c, lambda w: w.fill_(float("nan"))), "NaN"),
        (lambda c: _weights(c, lambda w: torch.zeros(1).expand_as(w)), "stride 0"),
        (lambda c: _weights(c, lambda w: w.t().contiguous().t() if w.dim() == 2 else w), "not a dense"),
        (
            lambda c: {**c, "optimizer": {"state": {0: {"exp_avg": torch.zeros(1).expand(50, 50)}}}},
            "not a dense",
        ),
    ],
)
def test_checkpoints_that_would_crash_or_stall_pages_are_refused(store, change, words) -> None:
    run_id = saved_run(store)
    write_checkpoint(store, run_id, change(checkpoint_of(SMALL)))
    with pytest.raises(BrokenRun, match=words):
        store.load_checkpoint(run_id)


def _weights(checkpoint: dict, change) -> dict:
    return {**checkpoint, "model": {k: change(v.clone()) for k, v in checkpoint["model"].items()}}


def test_a_small_file_that_inflates_is_refused_before_torch_loads_it(store) -> None:
    """A DEFLATE-compressed record can carry a gigabyte in a megabyte; torch.save never compresses."""
    run_id = saved_run(store)
    path = store.path(run_id) / "model.pt"
    raw = io.BytesIO()
    torch.save({**checkpoint_of(SMALL), "optimizer": {"state": {0: {"x": torch.zeros(4 * 2**20)}}}}, raw)
    with zipfile.ZipFile(io.BytesIO(raw.getvalue())) as source, zipfile.ZipFile(path, "w") as packed:
        for info in source.infolist():
            packed.writestr(info, source.read(info), compress_type=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 2**20
    with pytest.raises(BrokenRun, match="compressed records"):
        store.load_checkpoint(run_id)
    path.write_bytes(raw.getvalue())  # stored, but 16 MB for a model of a few KB
    with pytest.raises(BrokenRun, match="more than the"):
        store.load_checkpoint(run_id)


def test_the_eval_command_reports_a_bad_checkpoint_in_one_line(store, capsys) -> None:
    run_id = saved_run(store)
    write_checkpoint(store, run_id, _weights(checkpoint_of(SMALL), lambda w: w.double()))
    assert cli.main(["eval", run_id, "--runs-dir", str(store.root)]) == cli.EXIT_NO_SUCH_RUN
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "float64" in err and len(err.splitlines()) == 1


def test_a_genuine_trained_checkpoint_still_loads(lab) -> None:
    run = lab.start(RunConfig(hidden_size=8, batch_size=64, epochs=1, train_subset=128, eval_every=0))
    assert run.join(60) and run.status().state == "finished", run.status().message
    checkpoint = lab.store.load_checkpoint(run.run_id)
    assert set(checkpoint) >= {"model", "optimizer", "step", "epoch"}
    lab.load_model(run.run_id)


# -- item 10: a genuine export imports; metrics with a million columns -------------------------
def test_every_genuine_bundle_fits_the_import_and_the_upload_limits() -> None:
    medium = RunConfig(hidden_size=512, num_layers=4, bidirectional=True)
    # weights and Adam's two moments: 253 MB, past the fixed 200 MB the import allowed before
    assert max_bundle_bytes(medium) >= count_parameters(medium) * 4 * 3 > 200 * 2**20
    largest = RunConfig(hidden_size=1024, num_layers=4, bidirectional=True, readout="all", order="pixels")
    settings_text = (ROOT / ".streamlit" / "config.toml").read_text()
    upload_mb = int(
        next(line for line in settings_text.splitlines() if line.startswith("maxUploadSize")).split("=")[1]
    )
    assert max_bundle_bytes(largest) <= upload_mb * 2**20, "the upload limit admits every genuine bundle"


def test_metrics_with_a_million_columns_make_the_run_broken(store) -> None:
    run_id = saved_run(store)
    (store.path(run_id) / "metrics.csv").write_text(",".join(f"c{i}" for i in range(10**6)) + "\n1\n")
    with pytest.raises(BrokenRun, match="more than 200 columns"):
        store.load_metrics(run_id)


def test_export_never_follows_a_link_out_of_the_runs_folder(store, tmp_path) -> None:
    run_id = saved_run(store)
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET")
    (store.path(run_id) / "metrics.csv").symlink_to(secret)
    with pytest.raises(BrokenRun, match="outside the runs folder"):
        export_bundle(store, run_id)


def test_a_zip_whose_weights_hold_an_extra_tensor_is_refused(store) -> None:
    run_id = saved_run(store)
    files = {i.filename: z for i, z in _members(export_bundle(store, run_id))}
    raw = io.BytesIO()
    torch.save({**checkpoint_of(SMALL), "payload": torch.zeros(1000)}, raw)
    files[f"{run_id}/model.pt"] = raw.getvalue()
    before = {s.run_id for s in store.list_runs()}
    with pytest.raises(BundleError, match="never has: payload"):
        import_bundle(store, _zip(files))
    assert {s.run_id for s in store.list_runs()} == before


def _members(data: bytes):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(info, archive.read(info)) for info in archive.infolist()]


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()
