"""State after faults and races: locked status writes, one continue at a time, stale temp files, full disk."""

from __future__ import annotations

import errno
import multiprocessing
import os
import queue
import threading

import pytest

from rnnlab import store as store_module
from rnnlab.config import RunConfig
from rnnlab.lab import Lab
from rnnlab.run_lock import claim_temp
from rnnlab.store import RunBusy, RunStore

TINY = RunConfig(hidden_size=8, batch_size=64, epochs=1, train_subset=128, eval_every=0, log_every=2)
ROUNDS = 150


def _hammer(root: str, run_id: str, field: str, rounds: int) -> None:
    store = RunStore(root)
    for i in range(rounds):
        store.write_status(run_id, {field: f"{field}-{i}"})


def test_status_writes_from_two_processes_lose_nothing(tmp_path) -> None:
    """Each process owns one key; with the read-modify-write locked, both last values survive."""
    store = RunStore(tmp_path)
    run_id = store.create(TINY, name="raced")
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_hammer, args=(str(tmp_path), run_id, f, ROUNDS)) for f in ("a", "b")]
    for writer in writers:
        writer.start()
    _hammer(str(tmp_path), run_id, "c", ROUNDS)  # and a thread of this process
    for writer in writers:
        writer.join(60)
        assert writer.exitcode == 0
    status = store.read_status(run_id)
    assert (status["a"], status["b"], status["c"]) == (
        f"a-{ROUNDS - 1}",
        f"b-{ROUNDS - 1}",
        f"c-{ROUNDS - 1}",
    )
    assert status["name"] == "raced"


def _claim(root: str, run_id: str, results, start, done) -> None:
    start.wait()
    try:
        RunStore(root).claim(run_id, {"state": "queued"})
        results.put("won")
    except RunBusy:
        results.put("busy")
    done.wait()  # every claimant stays alive until all have tried: a winner's claim is live


@pytest.mark.parametrize("kind", ["processes", "threads"])
def test_only_one_process_or_thread_claims_a_run(tmp_path, kind) -> None:
    store = RunStore(tmp_path)
    run_id = store.create(TINY)
    store.write_status(run_id, {"state": "stopped"})
    context = multiprocessing.get_context("fork")
    if kind == "processes":
        results, start, done = context.Queue(), context.Barrier(4), context.Barrier(4)
        make = context.Process
    else:
        results, start, done = queue.Queue(), threading.Barrier(4), threading.Barrier(4)
        make = threading.Thread
    claimants = [make(target=_claim, args=(str(tmp_path), run_id, results, start, done)) for _ in range(4)]
    for claimant in claimants:
        claimant.start()
    for claimant in claimants:
        claimant.join(60)
    outcomes = sorted(results.get(timeout=10) for _ in range(4))
    assert outcomes == ["busy", "busy", "busy", "won"]


def test_two_threads_continuing_one_run_train_it_once(lab: Lab) -> None:
    run = lab.start(TINY)
    assert run.join(60) and run.status().state == "finished", run.status().message
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def go() -> None:
        barrier.wait()
        try:
            lab.continue_run(run.run_id, 1)
            outcomes.append("continued")
        except ValueError as e:
            outcomes.append(f"refused: {e}")

    threads = [threading.Thread(target=go) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(o.split(":")[0] for o in outcomes) == ["continued", "refused"], outcomes
    live = lab.get(run.run_id)
    assert live is not None and live.join(60) and live.status().state == "finished"
    steps = lab.store.load_metrics(run.run_id).query("kind == 'step'")["step"]
    assert steps.is_unique, "no step was trained twice"


def test_stale_temp_files_are_removed_at_start_and_live_ones_kept(tmp_path, tiny_data_dir) -> None:
    store = RunStore(tmp_path)
    run_id = store.create(TINY)
    folder = store.path(run_id)
    stale = folder / ".model.pt.k1ll3d.tmp"
    stale.write_bytes(b"half a checkpoint")
    live = folder / ".model.pt.wr1t1ng.tmp"
    fd = os.open(live, os.O_RDWR | os.O_CREAT)
    claim_temp(fd)  # as atomic_path does while it writes
    try:
        Lab(runs_dir=tmp_path, data_dir=tiny_data_dir)
        assert not stale.exists() and live.exists()
    finally:
        os.close(fd)
    assert store.remove_stale_temp_files() == [live]


def test_a_full_disk_at_the_final_status_write_still_records_the_end(tmp_path, monkeypatch) -> None:
    store = RunStore(tmp_path)
    run_id = store.create(TINY)
    store.write_status(run_id, {"state": "running"})

    def no_space(path, text) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_module, "atomic_write_text", no_space)
    store.write_status(run_id, {"state": "finished", "message": "done"})
    summary = store.summary(run_id)
    assert (summary.state, summary.status["message"]) == ("finished", "done")


@pytest.mark.parametrize("final", ["finished", "stopped"])
def test_a_rename_racing_the_end_of_a_run_keeps_both(tmp_path, final) -> None:
    """The rename of another process and the final state are both kept, whichever lands last."""
    store = RunStore(tmp_path)
    run_id = store.create(TINY, name="before")
    store.write_status(run_id, {"state": "running"})
    context = multiprocessing.get_context("fork")
    renamer = context.Process(target=_rename_many, args=(str(tmp_path), run_id))
    renamer.start()
    for i in range(ROUNDS):
        store.write_status(run_id, {"state": "running", "step": i})
    store.write_status(run_id, {"state": final})
    renamer.join(60)
    status = store.read_status(run_id)
    assert status["state"] == final and status["name"] == f"name {ROUNDS - 1}"


def _rename_many(root: str, run_id: str) -> None:
    store = RunStore(root)
    for i in range(ROUNDS):
        store.rename(run_id, f"name {i}")
