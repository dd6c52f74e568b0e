"""Faults, misuse and load: a killed process, unwritable disks, crashing threads, many runs, bad input."""

from __future__ import annotations

import errno
import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnlab import cli
from rnnlab.config import CHOICES, LIMITS, RunConfig
from rnnlab.engines.local import LocalEngine
from rnnlab.lab import Lab
from rnnlab.store import BrokenRun, RunsDirError, RunStore

ROOT = Path(__file__).resolve().parents[1]
TINY = RunConfig(hidden_size=16, lr=1e-2, batch_size=32, epochs=1, log_every=2, eval_every=0, train_subset=64)


def wait_for(predicate, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def in_process_table(pid: int) -> bool:
    """Whether a live process has this pid (an exited one nobody reaped counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


# -- faults -------------------------------------------------------------------------------------
def test_killed_process_leaves_an_interrupted_run_that_continues(tmp_path, tiny_data_dir) -> None:
    """SIGKILL mid-run: the run reads as interrupted, its checkpoint loads, it continues, metrics intact."""
    runs = tmp_path / "runs"
    command = [
        sys.executable,
        "-m",
        "rnnlab",
        "train",
        "--runs-dir",
        str(runs),
        "--data-dir",
        str(tiny_data_dir),
        "--hidden",
        "16",
        "--batch-size",
        "32",
        "--epochs",
        "200",
        "--log-every",
        "2",
        "--eval-every",
        "0",
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: len(list(runs.glob("*/model.pt"))) == 1, what="a first checkpoint")
        run_dir = next(runs.iterdir())
        metrics = run_dir / "metrics.csv"
        wait_for(lambda: metrics.exists() and metrics.stat().st_size > 2000, what="more metrics")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    worker = json.loads((run_dir / "status.json").read_text())["pid"]
    assert worker != process.pid, "the run trained in a worker process, not in the server"
    wait_for(lambda: not in_process_table(worker), timeout=10, what="the worker to die with its server")

    lab = Lab(runs_dir=runs, data_dir=tiny_data_dir)
    summary = lab.list_runs()[0]
    assert summary.state == "interrupted"
    model, config = lab.load_model(summary.run_id)
    assert config.epochs == 200 and model.num_parameters() > 0
    checkpoint_step = lab.store.load_checkpoint(summary.run_id)["step"]
    before = lab.store.load_metrics(summary.run_id)
    kept = before[before.step <= checkpoint_step].reset_index(drop=True)
    assert len(kept) > 0

    run = lab.continue_run(summary.run_id, extra_epochs=1)
    assert run.join(60) and run.status().state == "finished", run.status().message
    after = lab.store.load_metrics(summary.run_id)
    assert after.iloc[: len(kept)].equals(kept), "metrics up to the checkpoint are unchanged"
    assert after.step.is_monotonic_increasing


def test_unwritable_runs_dir_is_a_clear_error(tmp_path, tiny_data_dir) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the runs folder should be")
    lab = Lab(runs_dir=blocker / "runs", data_dir=tiny_data_dir)
    with pytest.raises(RunsDirError, match="RNNLAB_RUNS_DIR"):
        lab.start(TINY)
    assert lab.live_runs() == [] and lab.list_runs() == []


DISK_FULL = """
def disk_full(self, run_id, checkpoint):
    raise OSError(errno.ENOSPC, "No space left on device")
rnnlab.store.RunStore.save_checkpoint = disk_full
"""


def faulty_lab(lab: Lab, tmp_path: Path, fault: str) -> Lab:
    """A Lab over the same folders whose workers run `fault` (Python) before serving: a fault
    injected where training happens, in the worker process, through the engine's own command."""
    script = tmp_path / "faulty_worker.py"
    script.write_text(
        "import errno, sys\nimport rnnlab.store, rnnlab.trainer, rnnlab.worker\n"
        f"{fault}\nsys.exit(rnnlab.worker.main())\n"
    )
    engine = LocalEngine(command=[sys.executable, str(script)], keep_warm=0)
    return Lab(runs_dir=lab.store.root, data_dir=lab.data_dir, max_concurrent=1, engine=engine)


@pytest.mark.parametrize("writer", ["worker", "head"])
def test_full_disk_during_training_fails_the_run_and_keeps_what_was_saved(
    lab, tmp_path, monkeypatch, writer
) -> None:
    """The disk fills while a checkpoint is saved, in the worker that writes its own run folder or
    in the head that writes what a worker without a shared disk sends."""
    first = lab.start(TINY)
    assert first.join(60) and first.status().state == "finished"
    saved = {p: p.read_bytes() for p in lab.store.path(first.run_id).iterdir()}
    if writer == "worker":
        full = faulty_lab(lab, tmp_path, DISK_FULL)
    else:

        def disk_full(self, run_id, checkpoint):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(RunStore, "save_checkpoint", disk_full)
        engine = LocalEngine(shared_filesystem=False, keep_warm=0)
        full = Lab(runs_dir=lab.store.root, data_dir=lab.data_dir, max_concurrent=1, engine=engine)
    second = full.start(TINY.replace(seed=1))
    assert second.join(60)
    status = second.status()
    assert status.state == "failed" and "No space left on device" in status.message
    assert full.store.summary(second.run_id).state == "failed"
    assert {p: p.read_bytes() for p in lab.store.path(first.run_id).iterdir()} == saved


def test_exception_in_the_training_loop_fails_only_that_run(lab, tmp_path) -> None:
    fault = (
        "def explode(*args, **kwargs):\n"
        "    raise RuntimeError('simulated fault in the data path')\n"
        "rnnlab.trainer.to_sequences = explode"
    )
    broken = faulty_lab(lab, tmp_path, fault).start(TINY)
    assert broken.join(60)
    assert broken.status().state == "failed"
    assert "RuntimeError: simulated fault in the data path" in broken.status().message
    assert lab.store.summary(broken.run_id).state == "failed"
    healthy = lab.start(TINY)
    assert healthy.join(60) and healthy.status().state == "finished"


def test_checkpoint_that_does_not_match_its_config_is_refused(lab) -> None:
    run = lab.start(TINY)
    assert run.join(60)
    path = lab.store.path(run.run_id) / "model.pt"
    torch.save({"model": {"rnn.weight_ih_l0": torch.zeros(3, 3)}}, path)
    with pytest.raises(BrokenRun, match="does not match"):
        lab.load_model(run.run_id)


# -- load ---------------------------------------------------------------------------------------
def test_twenty_runs_started_at_once_queue_within_the_limit(tmp_path, tiny_data_dir) -> None:
    lab = Lab(runs_dir=tmp_path / "runs", data_dir=tiny_data_dir, max_concurrent=2)
    runs = [lab.start(TINY.replace(seed=i)) for i in range(20)]
    most_at_once = 0
    while any(run.alive for run in runs):
        training = sum(run.status().state in ("running", "paused") for run in runs)
        most_at_once = max(most_at_once, training)
        time.sleep(0.01)
    assert most_at_once <= 2
    assert [run.status().state for run in runs] == ["finished"] * 20
    assert len(lab.list_runs()) == 20


def test_hundred_start_stop_cycles_leave_no_threads_and_flat_memory(tmp_path, tiny_data_dir) -> None:
    lab = Lab(runs_dir=tmp_path / "runs", data_dir=tiny_data_dir, max_concurrent=1)
    config = TINY.replace(epochs=100, train_subset=0)

    def cycle() -> None:
        run = lab.start(config)
        wait_for(lambda: run.status().step > 0 or not run.alive, what="a step")
        run.stop()
        assert run.join(30)

    for _ in range(10):  # warm-up: caches, allocator pools, first checkpoints
        cycle()
    gc.collect()
    before = rss_mb()
    for _ in range(90):
        cycle()
    gc.collect()
    after = rss_mb()
    growth = after - before
    print(f"100 start/stop cycles: RSS {before:.1f} MB after 10, {after:.1f} MB after 100 ({growth:+.1f} MB)")
    assert not [t for t in threading.enumerate() if t.name.startswith("rnnlab-run-")]
    assert growth < 60, f"memory grew {growth:.1f} MB over 90 start/stop cycles"
    assert all(s.state == "stopped" for s in lab.list_runs())


# -- bad input ----------------------------------------------------------------------------------
def _field_values():
    numbers = st.one_of(
        st.integers(min_value=-(2**40), max_value=2**40),
        st.integers(min_value=-(10**500), max_value=10**500),  # past float's range: no OverflowError
        st.floats(allow_nan=True, allow_infinity=True),
    )
    text = st.one_of(*[st.sampled_from(values) for values in CHOICES.values()], st.text(max_size=30))
    return st.one_of(numbers, text, st.booleans(), st.none(), st.lists(st.integers(), max_size=2))


config_fields = sorted(set(LIMITS) | set(CHOICES) | {"bidirectional"})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from([*config_fields, "bogus", "../x"]), _field_values(), max_size=6))
def test_any_config_mapping_is_valid_or_a_value_error(data) -> None:
    """Whatever JSON or a form hands over, RunConfig either accepts it or says why: nothing else."""
    try:
        config = RunConfig.from_dict(data)
    except ValueError as e:
        assert str(e)
    else:
        assert RunConfig.from_json(config.to_json()) == config


@pytest.mark.parametrize("field", sorted(LIMITS))
def test_huge_integers_are_a_value_error_and_exit_2(field, capsys) -> None:
    for value in (10**400, -(10**400), 10**5000):
        with pytest.raises(ValueError, match=f"{field}=.*out of range"):
            RunConfig.from_dict({field: value})
    if field == "hidden_size":
        assert cli.main(["train", "--hidden", "9" * 400, "--runs-dir", "/nonexistent/never-made"]) == 2
        err = capsys.readouterr().err.strip()
        assert err == "error: hidden_size=an integer of 401 digits is out of range; allowed: 1 to 1024"


flag_names = [f"--{name.replace('_', '-')}" for name in config_fields]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(flag_names), st.text(max_size=12)), max_size=5))
def test_any_cli_arguments_parse_to_a_config_or_exit_2(pairs) -> None:
    argv = ["train"] + [token for flag, value in pairs for token in (flag, value)]
    parser = cli.build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        assert e.code == 2
        return
    try:
        cli.config_from_args(args)
    except ValueError as e:
        assert str(e)


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "a/b\\c",
        "x" * 10_000,
        "\u202e\u0000evil\n\r",
        "名前 🔁 ",
        "<script>alert(1)</script>",
    ],
)
def test_hostile_run_names_never_touch_paths(lab, tmp_path, name) -> None:
    run = lab.start(TINY, name=name)
    assert run.join(60)
    outside_before = files_under(tmp_path) - files_under(lab.store.root)
    stored = lab.rename(run.run_id, name + "!")
    assert len(stored) <= 80 and "\n" not in stored and "\x00" not in stored
    assert files_under(tmp_path) - files_under(lab.store.root) == outside_before
    assert [p.name for p in lab.store.root.iterdir()] == [run.run_id]


def test_a_million_logged_steps_keep_memory_bounded() -> None:
    """Metrics of a million-step run: a bounded, thinned series in memory; every row goes to disk."""
    from rnnlab.metrics import MetricsLog

    log = MetricsLog()
    written, early = 0, 0.0
    for step in range(1, 1_000_001):
        log.append("step", step=step, loss=1.0 / step, lr=1e-3)
        if step % 1000 == 0:
            written += len(log.take_pending())  # what the trainer's periodic flush does
        if step == 20_000:
            early = rss_mb()
    late = rss_mb()
    growth = late - early
    print(
        f"1,000,000 logged steps: RSS {early:.1f} MB at step 20,000, {late:.1f} MB at the end; "
        f"{len(log)} rows kept"
    )
    assert written == 1_000_000
    assert len(log) <= log.max_rows
    assert growth < 20, f"resident memory grew {growth:.1f} MB between step 20,000 and 1,000,000"
    frame = log.frame()
    assert frame.step.iloc[0] == 1 and frame.step.iloc[-1] == 1_000_000
