"""Importing an exported run: a round trip works; a hostile or broken zip is refused and changes nothing."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import pytest
import torch

from rnnlab.bundle import BundleError, export_bundle, import_bundle
from rnnlab.config import RunConfig
from rnnlab.lab import Lab
from rnnlab.store import RunStore

TINY = RunConfig(hidden_size=16, lr=1e-2, batch_size=32, epochs=1, log_every=2, eval_every=0, train_subset=64)


@pytest.fixture
def exported(tmp_path, tiny_data_dir) -> tuple[Lab, str, bytes]:
    lab = Lab(runs_dir=tmp_path / "source", data_dir=tiny_data_dir)
    run = lab.start(TINY, name="shared run")
    assert run.join(60) and run.status().state == "finished"
    return lab, run.run_id, export_bundle(lab.store, run.run_id)


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def members(bundle: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        return {info.filename.split("/")[-1]: archive.read(info) for info in archive.infolist()}


def test_round_trip_gives_the_same_model_under_a_new_id(exported, tmp_path) -> None:
    lab, run_id, bundle = exported
    target = Lab(runs_dir=tmp_path / "target", data_dir=lab.data_dir)
    new_id = import_bundle(target.store, bundle)
    assert new_id != run_id
    summary = target.store.summary(new_id)
    assert summary.name == "shared run (imported)" and summary.state == "finished"
    assert summary.config == lab.store.load_config(run_id)
    original, _ = lab.load_model(run_id)
    imported, _ = target.load_model(new_id)
    x = torch.rand(4, 28, 28)
    assert torch.equal(original(x), imported(x))
    assert len(target.metrics(new_id)) == len(lab.metrics(run_id))
    more = target.continue_run(new_id, extra_epochs=1)
    assert more.join(60) and more.status().state == "finished"


def refused(store: RunStore, data: bytes, words: str) -> None:
    before = sorted(p.name for p in store.root.iterdir()) if store.root.exists() else []
    with pytest.raises(BundleError, match=words):
        import_bundle(store, data)
    after = sorted(p.name for p in store.root.iterdir()) if store.root.exists() else []
    assert after == before, "a refused import leaves no run behind"


def test_not_a_zip(tmp_path) -> None:
    refused(RunStore(tmp_path / "runs"), b"PK\x03\x04 but not really", "not a zip")
    refused(RunStore(tmp_path / "runs"), b"", "not a zip")


def test_path_traversal_and_strange_members_are_refused(exported, tmp_path) -> None:
    _, _, bundle = exported
    files = members(bundle)
    store = RunStore(tmp_path / "runs")
    for evil in (
        "../../model.pt",
        "/etc/config.json",
        "run/../../x/config.json",
        "run/notes.txt",
        "a/b/model.pt",
    ):
        refused(store, zip_of({**files, evil: b"x"}), "never has")
    assert not (tmp_path / "model.pt").exists() and not (tmp_path / "x").exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_code_in_a_pickle_never_runs(exported, tmp_path) -> None:
    _, _, bundle = exported
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    files = {**members(bundle), "model.pt": pickle.dumps({"model": Exploit()})}
    refused(RunStore(tmp_path / "runs"), zip_of(files), "not a loadable")
    assert not marker.exists()


def test_weights_that_do_not_fit_the_config(exported, tmp_path) -> None:
    _, _, bundle = exported
    files = members(bundle)
    config = json.loads(files["config.json"])
    files["config.json"] = json.dumps({**config, "hidden_size": 32}).encode()
    refused(RunStore(tmp_path / "runs"), zip_of(files), "does not fit")


def test_missing_or_invalid_config(exported, tmp_path) -> None:
    _, _, bundle = exported
    files = members(bundle)
    store = RunStore(tmp_path / "runs")
    refused(store, zip_of({"model.pt": files["model.pt"]}), "needs at least")
    refused(store, zip_of({**files, "config.json": b'{"hidden_size": -5}'}), "not a valid run config")
    refused(store, zip_of({**files, "config.json": b"\xff\xfe"}), "not a valid run config")
    refused(store, zip_of({**files, "model.pt": files["model.pt"][:100]}), "not a loadable")


def test_zip_bomb_is_refused_before_unpacking(tmp_path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", b"{}")
        archive.writestr("model.pt", b"\0" * (210 * 2**20))  # compresses to a few hundred KB
    assert len(buffer.getvalue()) < 2**20
    refused(RunStore(tmp_path / "runs"), buffer.getvalue(), "unpacks to more than")


def test_hostile_status_and_metrics_are_sanitised(exported, tmp_path) -> None:
    _, _, bundle = exported
    files = members(bundle)
    files["status.json"] = json.dumps(
        {"state": "running", "pid": os.getpid(), "name": "../../etc\n<b>x</b>" * 50, "best_test_acc": "NaN!"}
    ).encode()
    files["metrics.csv"] = b"kind,step,loss,evil\nstep,1,2.0,=cmd()\nhack,2,3,4\nepoch,2,,\n"
    store = RunStore(tmp_path / "runs")
    new_id = import_bundle(store, zip_of(files))
    summary = store.summary(new_id)
    assert summary.state == "stopped", "an imported run is never live"
    assert len(summary.name) <= 80 and "\n" not in summary.name
    assert "best_test_acc" not in summary.status or summary.status["best_test_acc"] is None
    metrics = store.load_metrics(new_id)
    assert list(metrics.kind) == ["step", "epoch"] and "evil" not in metrics.columns
    kept = sorted(p.name for p in Path(store.path(new_id)).iterdir() if p.name != ".status.lock")
    assert kept == [
        "config.json",
        "metrics.csv",
        "model.pt",
        "status.json",
    ]
