"""Worker processes: each run trains in its own process, survives nothing it should not, and speaks one
protocol that also carries its records back to a head that shares no disk with it."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rnnlab.config import RunConfig
from rnnlab.engines.local import PACKAGE_ROOT, LocalEngine
from rnnlab.lab import Lab, worker_threads
from rnnlab.protocol import Channel, Kind, Message, ProtocolError, decode, encode, tensors_from_bytes
from rnnlab.run_state import RunState
from tests.test_reliability import in_process_table, wait_for

TINY = RunConfig(hidden_size=16, lr=1e-2, batch_size=32, epochs=1, log_every=2, eval_every=0)
LONG = TINY.replace(epochs=200)


def test_a_run_trains_in_a_worker_process_not_in_the_server(lab: Lab) -> None:
    run = lab.start(LONG)
    wait_for(lambda: run.status().step > 0, what="a first step")
    pid = run.pid
    assert pid is not None and pid != os.getpid() and in_process_table(pid)
    assert lab.store.read_status_or_empty(run.run_id)["pid"] == pid, "the local worker writes its run folder"
    run.stop()
    assert run.join(30) and run.status().state == RunState.STOPPED


def test_pause_is_visible_at_once_and_resume_continues(lab: Lab) -> None:
    run = lab.start(LONG)
    wait_for(lambda: run.status().step >= 2, what="first steps")
    run.pause()
    wait_for(lambda: run.status().state == RunState.PAUSED, timeout=10, what="the paused state")
    assert lab.store.read_status_or_empty(run.run_id)["state"] == "paused"
    frozen = run.status().step
    run.resume()
    wait_for(lambda: run.status().step > frozen, what="steps after resuming")
    run.stop()
    assert run.join(30)


def test_a_live_snapshot_equals_the_weights_at_that_step(lab: Lab) -> None:
    """Paused, the snapshot is the model at the step shown; stopping saves that same step's weights."""
    run = lab.start(LONG)
    wait_for(lambda: run.status().step >= 5, what="some steps")
    run.pause()
    wait_for(lambda: run.status().state == RunState.PAUSED, what="the paused state")
    step = run.status().step
    snapshot = run.model_snapshot()
    assert snapshot is not None and not snapshot.training
    run.stop()
    assert run.join(30)
    checkpoint = lab.store.load_checkpoint(run.run_id)
    assert checkpoint["step"] == step
    weights = snapshot.state_dict()
    assert weights.keys() == checkpoint["model"].keys()
    assert all(torch.equal(weights[k], checkpoint["model"][k]) for k in weights)


def test_two_runs_train_at_once_in_two_workers_within_the_limit(tmp_path, tiny_data_dir) -> None:
    lab = Lab(runs_dir=tmp_path / "runs", data_dir=tiny_data_dir, max_concurrent=2)
    runs = [lab.start(LONG.replace(seed=i)) for i in range(3)]
    try:
        wait_for(lambda: sum(r.status().step > 0 for r in runs) >= 2, what="two runs training")
        states = [r.status().state for r in runs]
        assert states.count(RunState.RUNNING) == 2 and states.count(RunState.QUEUED) == 1, states
        pids = {r.pid for r in runs if r.status().state == RunState.RUNNING}
        assert len(pids) == 2 and os.getpid() not in pids
    finally:
        lab.shutdown()
    assert all(r.status().state == RunState.STOPPED for r in runs)


def test_a_run_left_alone_takes_the_cores_the_other_gave_back(tmp_path, tiny_data_dir, monkeypatch) -> None:
    """Threads follow the runs training: two share four cores; when one ends the other gets all four,
    from its next step (a sweep's last trial, say, no longer trains on one core while three idle)."""
    monkeypatch.delenv("RNNLAB_TORCH_THREADS")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})  # what the head shares out
    lab = Lab(runs_dir=tmp_path / "runs", data_dir=tiny_data_dir, max_concurrent=2)
    try:
        first, second = lab.start(LONG), lab.start(LONG.replace(seed=1))
        wait_for(lambda: first.status().threads == second.status().threads == 2, what="two threads each")
        second.stop()
        assert second.join(30)
        wait_for(lambda: first.status().threads == 4, what="the cores given back to the run left")
        step = first.status().step
        wait_for(lambda: first.status().step > step, what="steps on four threads")
        assert first.status().state == RunState.RUNNING
    finally:
        lab.shutdown()


def test_fixed_threads_are_not_shared_out(tmp_path, tiny_data_dir, monkeypatch) -> None:
    monkeypatch.setenv("RNNLAB_TORCH_THREADS", "1")
    lab = Lab(runs_dir=tmp_path / "runs", data_dir=tiny_data_dir, max_concurrent=2)
    try:
        run = lab.start(LONG)
        wait_for(lambda: run.status().step > 0, what="a first step")
        assert run.status().threads == 1 and run.threads == 1
    finally:
        lab.shutdown()


def test_workers_share_out_the_cores_unless_told(monkeypatch) -> None:
    monkeypatch.setenv("RNNLAB_TORCH_THREADS", "3")
    assert worker_threads(2) == 3
    monkeypatch.delenv("RNNLAB_TORCH_THREADS")
    cores = len(os.sched_getaffinity(0))
    assert worker_threads(1) == cores and worker_threads(2) == max(1, cores // 2)
    assert worker_threads(10 * cores) == 1


def test_a_worker_killed_mid_epoch_leaves_an_interrupted_run_that_continues(lab: Lab) -> None:
    run = lab.start(TINY.replace(epochs=100, train_subset=256))
    wait_for(lambda: run.status().epoch >= 1 and run.status().step % 8 > 2, what="a checkpoint, mid-epoch")
    os.kill(run.pid, signal.SIGKILL)
    assert run.join(30)
    status = run.status()
    assert status.state == RunState.INTERRUPTED and "SIGKILL" in status.message
    assert lab.list_runs()[0].state == RunState.INTERRUPTED
    checkpoint_step = lab.store.load_checkpoint(run.run_id)["step"]
    more = lab.continue_run(run.run_id, extra_epochs=1)
    assert more.join(60) and more.status().state == RunState.FINISHED, more.status().message
    metrics = lab.store.load_metrics(run.run_id)
    assert metrics.step.is_monotonic_increasing and metrics.step.max() > checkpoint_step
    other = lab.start(TINY)  # the server serves on
    assert other.join(60) and other.status().state == RunState.FINISHED


def test_a_head_without_a_shared_disk_keeps_what_the_worker_sends(tmp_path, tiny_data_dir) -> None:
    """The seam for remote workers: rows, status and checkpoints come back over the channel and
    the head's own store writes them; continuing sends the checkpoint the other way."""
    engine = LocalEngine(shared_filesystem=False, keep_warm=1)
    lab = Lab(runs_dir=tmp_path / "head-runs", data_dir=tiny_data_dir, engine=engine)
    try:
        run = lab.start(TINY.replace(epochs=2))
        assert run.join(60) and run.status().state == RunState.FINISHED, run.status().message
        record = lab.store.read_status_or_empty(run.run_id)
        assert record["pid"] == os.getpid() and record["state"] == "finished", "the head wrote status.json"
        assert lab.store.load_checkpoint(run.run_id)["epoch"] == 2
        metrics = lab.store.load_metrics(run.run_id)
        assert list(metrics.query("kind == 'epoch'").epoch) == [1, 2]
        more = lab.continue_run(run.run_id, extra_epochs=1)
        assert more.join(60) and more.status().state == RunState.FINISHED, more.status().message
        assert list(lab.store.load_metrics(run.run_id).query("kind == 'epoch'").epoch) == [1, 2, 3]
        assert lab.store.load_checkpoint(run.run_id)["epoch"] == 3
    finally:
        lab.shutdown()
        engine.shutdown()


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_fp32_and_bf16_both_learn_tiny_data(lab: Lab, precision: str) -> None:
    run = lab.start(RunConfig(hidden_size=32, lr=1e-2, batch_size=32, epochs=3, precision=precision))
    assert run.join(120)
    status = run.status()
    assert status.state == RunState.FINISHED, status.message
    assert status.precision == precision
    assert status.best_test_acc > 0.5


def test_a_config_saved_before_precision_existed_reads_as_fp32() -> None:
    saved = json.loads(RunConfig().to_json())
    del saved["precision"]
    assert RunConfig.from_json(json.dumps(saved)).precision == "fp32"
    assert RunConfig().precision == "auto"
    with pytest.raises(ValueError, match="precision"):
        RunConfig(precision="fp8")


def test_frames_round_trip_and_tensors_never_unpickle_code() -> None:
    message = Message(Kind.STATUS, {"record": {"step": 3, "loss": 0.5}, "active": True}, b"\x00\x01")
    data = encode(message)
    assert decode(data[12 : len(data) - 2], data[-2:]) == message
    with pytest.raises(ProtocolError):
        decode(b"not json", b"")
    buffer = io.BytesIO()
    torch.save({"evil": subprocess.Popen}, buffer)  # a class inside: only a full unpickle could build it
    with pytest.raises(Exception, match=r"Weights only load failed|Unsupported"):
        tensors_from_bytes(buffer.getvalue())


def test_a_worker_whose_server_went_away_saves_and_exits(tmp_path, tiny_data_dir) -> None:
    """A restarted server may find a run whose old worker still lives: it shows the run as its
    status says and refuses to continue it; the worker, its channel closed, saves its weights,
    records the run as interrupted and exits; then the run continues like any other."""
    config = TINY.replace(epochs=200)
    lab = Lab(runs_dir=tmp_path / "runs", data_dir=tiny_data_dir)
    run_id = lab.store.create(config, "orphan")
    ours, theirs = socket.socketpair()
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)}
    worker = subprocess.Popen(
        [sys.executable, "-m", "rnnlab.worker", "--fd", str(theirs.fileno())],
        pass_fds=(theirs.fileno(),),
        env=env,
    )
    theirs.close()
    channel = Channel(ours)
    try:
        assert channel.receive(120).kind is Kind.READY
        job = {"run_id": run_id, "config": config.to_dict(), "name": "orphan", "threads": 1}
        channel.send(
            Message(Kind.START, {**job, "data_dir": str(tiny_data_dir), "runs_dir": str(lab.store.root)})
        )
        while (message := channel.receive(60)).kind is not Kind.STATUS or message.data["record"]["step"] < 4:
            pass
        restarted = Lab(runs_dir=lab.store.root, data_dir=tiny_data_dir)
        assert restarted.status(run_id).state == RunState.RUNNING
        with pytest.raises(ValueError, match="another process"):
            restarted.continue_run(run_id, extra_epochs=1)
        channel.close()  # what a server's exit does to the channel
        assert worker.wait(60) == 0
    finally:
        channel.close()
        if worker.poll() is None:
            worker.kill()
    summary = restarted.store.summary(run_id)
    assert summary.state == RunState.INTERRUPTED and "went away" in summary.status["message"]
    step = restarted.store.load_checkpoint(run_id)["step"]
    assert step == summary.status["step"] >= 4
    more = restarted.continue_run(run_id, extra_epochs=1)
    assert more.join(60) and more.status().state == RunState.FINISHED, more.status().message


def test_no_worker_outlives_a_server_that_exits(tmp_path, tiny_data_dir) -> None:
    """A server process with a warm worker and a training one exits: both workers leave the process table."""
    script = (
        "import sys, time\n"
        "from rnnlab.config import RunConfig\n"
        "from rnnlab.lab import Lab\n"
        f"lab = Lab(runs_dir={str(tmp_path / 'runs')!r}, data_dir={str(tiny_data_dir)!r}, max_concurrent=2)\n"
        "lab.warm_up()\n"
        "run = lab.start(RunConfig(hidden_size=16, batch_size=32, epochs=200))\n"
        "while run.status().step == 0: time.sleep(0.05)\n"
        "print(run.pid, *lab.engine.idle_pids(), flush=True)\n"
        "time.sleep(600)\n"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", script], cwd=PACKAGE_ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        pids = [int(p) for p in server.stdout.readline().split()]
    finally:
        server.kill()
        server.wait()
    assert len(pids) >= 1
    for pid in pids:
        wait_for(lambda pid=pid: not in_process_table(pid), timeout=15, what=f"worker {pid} to exit")


def test_the_worker_reports_its_start_up(lab: Lab) -> None:
    run = lab.start(TINY)
    assert run.join(60)
    startup = lab.store.read_status_or_empty(run.run_id)["startup"]
    assert {"data_s", "model_s"} <= set(startup) and all(v >= 0 for v in startup.values())


def test_paths_are_resolved_for_workers_started_elsewhere(
    tmp_path: Path, tiny_data_dir: Path, monkeypatch
) -> None:
    """A warm worker started in one folder trains a run whose folders are relative to another."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").symlink_to(tiny_data_dir, target_is_directory=True)
    lab = Lab(runs_dir="runs", data_dir="data")
    run = lab.start(TINY)
    assert run.join(60) and run.status().state == RunState.FINISHED, run.status().message
    assert (tmp_path / "runs" / run.run_id / "model.pt").is_file()
