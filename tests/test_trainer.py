"""The background trainer: it learns, obeys commands, stops cleanly and reports failures in words."""

from __future__ import annotations

import math
import time

import pytest
import torch

from rnnlab.config import RunConfig
from rnnlab.lab import Lab
from rnnlab.metrics import MetricsLog
from rnnlab.run_handle import RunHandle
from rnnlab.store import AlreadyTrained

FAST = RunConfig(hidden_size=32, lr=1e-2, batch_size=32, epochs=4, log_every=2, eval_every=8, eval_subset=64)


def wait_for(predicate, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def finish(run: RunHandle, timeout: float = 60.0):
    assert run.join(timeout), f"run {run.run_id} still alive after {timeout} s"
    return run.status()


def test_learns_tiny_data_well_above_chance(lab: Lab) -> None:
    """An LSTM reading rows learns the synthetic bars far above 10% chance."""
    status = finish(lab.start(FAST))
    assert status.state == "finished", status.message
    assert status.best_test_acc > 0.6
    metrics = lab.metrics(status.run_id)
    epochs = metrics[metrics.kind == "epoch"]
    assert list(epochs.epoch) == [1, 2, 3, 4]
    steps = metrics[metrics.kind == "step"]
    assert steps.loss.iloc[-1] < steps.loss.iloc[0]
    assert (metrics.kind == "eval").any(), "quick test-subset accuracy rows are recorded within epochs"
    assert status.step == status.total_steps == 4 * math.ceil(512 / 32)


def test_every_cell_and_order_trains_to_a_finite_loss(lab: Lab) -> None:
    """One epoch of each cell type on the long pixel orders and the short ones alike."""
    configs = [
        FAST.replace(cell="rnn", order="columns", epochs=1),
        FAST.replace(cell="gru", order="permuted", hidden_size=8, train_subset=64, epochs=1, readout="mean"),
        FAST.replace(
            cell="lstm", order="pixels", hidden_size=8, train_subset=64, epochs=1, bidirectional=True
        ),
        FAST.replace(
            cell="rnn", nonlinearity="relu", lr=1e-3, num_layers=2, dropout=0.2, readout="all", epochs=1
        ),
    ]
    for config in configs:
        status = finish(lab.start(config))
        assert status.state == "finished", (config, status.message)
        assert math.isfinite(status.loss)


def test_pause_resume_and_live_learning_rate(lab: Lab) -> None:
    """Pausing freezes the step counter; a new lr is applied at the next step and recorded."""
    run = lab.start(FAST.replace(epochs=30))
    wait_for(lambda: run.status().step >= 4, what="first steps")
    run.pause()
    wait_for(lambda: run.status().state == "paused", what="paused state")
    frozen = run.status().step
    time.sleep(0.4)
    assert run.status().step == frozen
    assert lab.store.read_status_or_empty(run.run_id)["state"] == "paused"
    run.set_lr(2.5e-3)
    run.resume()
    wait_for(lambda: run.status().step >= frozen + 6, what="steps after resume")
    assert run.status().state == "running"
    assert run.status().lr == pytest.approx(2.5e-3)
    lrs = run.metrics().query("kind == 'step'").lr.dropna()
    assert lrs.iloc[0] == pytest.approx(1e-2)
    wait_for(lambda: (run.metrics().query("kind == 'step'").lr == 2.5e-3).any(), what="new lr in the metrics")
    run.stop()
    status = finish(run)
    assert status.state == "stopped"


def test_set_lr_rejects_out_of_range(lab: Lab) -> None:
    run = lab.start(FAST.replace(epochs=1))
    with pytest.raises(ValueError, match="lr"):
        run.set_lr(-1.0)
    with pytest.raises(ValueError, match="lr"):
        run.set_lr(float("nan"))
    finish(run)


def test_stop_saves_weights_and_can_continue(lab: Lab) -> None:
    """A stopped run keeps its weights; continuing finishes the interrupted epoch and trains more."""
    run = lab.start(FAST.replace(epochs=50))
    wait_for(lambda: run.status().step >= 20, what="some steps")
    run.stop()
    stopped = finish(run)
    assert stopped.state == "stopped"
    checkpoint = lab.store.load_checkpoint(run.run_id)
    assert checkpoint["step"] == stopped.step
    before = lab.metrics(run.run_id)
    more = lab.continue_run(run.run_id, extra_epochs=1)
    status = finish(more)
    assert status.state == "finished", status.message
    steps_per_epoch = math.ceil(512 / 32)
    assert status.epoch == stopped.epoch + 1
    assert status.step == status.epoch * steps_per_epoch
    after = lab.metrics(run.run_id)
    assert len(after) > len(before)
    assert after.step.is_monotonic_increasing
    assert lab.store.load_config(run.run_id).epochs == status.epoch


def test_continue_a_finished_run_keeps_its_history(lab: Lab) -> None:
    first = finish(lab.start(FAST.replace(epochs=1)))
    history = lab.store.load_metrics(first.run_id)
    status = finish(lab.continue_run(first.run_id, extra_epochs=2))
    assert status.state == "finished"
    assert status.epoch == 3
    metrics = lab.store.load_metrics(first.run_id)
    assert metrics.iloc[: len(history)].equals(history), "rows written before continuing are untouched"
    assert list(metrics.query("kind == 'epoch'").epoch) == [1, 2, 3]
    with pytest.raises(ValueError, match="at least 1"):
        lab.continue_run(first.run_id, extra_epochs=0)


def test_continue_until_counts_from_the_checkpoint(lab: Lab) -> None:
    """A sweep continues a cut-off trial to its total: what the checkpoint holds decides the rest."""
    first = finish(lab.start(FAST.replace(epochs=2, train_subset=64)))
    status = finish(lab.continue_run(first.run_id, until=3))
    assert status.state == "finished" and status.epoch == 3 and status.epochs == 3
    with pytest.raises(AlreadyTrained, match="already holds 3 of the 3 epochs"):
        lab.continue_run(first.run_id, until=3)
    with pytest.raises(ValueError, match="without extra_epochs"):
        lab.continue_run(first.run_id, extra_epochs=1, until=5)


def test_relu_rnn_with_huge_lr_diverges_with_advice(lab: Lab) -> None:
    """A non-finite loss ends the run as diverged, says what to try, and keeps the last good checkpoint."""
    run = lab.start(FAST.replace(cell="rnn", nonlinearity="relu", lr=10.0, optimizer="sgd", epochs=3))
    status = finish(run)
    assert status.state == "diverged"
    for advice in ("learning rate", "clipping", "tanh"):
        assert advice in status.message
    if lab.store.has_checkpoint(run.run_id):
        weights = lab.store.load_checkpoint(run.run_id)["model"]
        assert all(torch.isfinite(w).all() for w in weights.values())


def test_missing_dataset_fails_with_instructions(tmp_path) -> None:
    lab = Lab(runs_dir=tmp_path / "runs", data_dir=tmp_path / "empty")
    status = finish(lab.start(FAST))
    assert status.state == "failed"
    assert "train-images-idx3-ubyte" in status.message
    assert str(tmp_path / "empty") in status.message
    assert lab.list_runs()[0].state == "failed"


def test_runs_queue_within_the_concurrency_limit(tmp_path, tiny_data_dir) -> None:
    """With one slot, three runs train one at a time; the others wait as queued, known to wait for the
    slot (not starting up), and can be stopped."""
    lab = Lab(runs_dir=tmp_path / "runs", data_dir=tiny_data_dir, max_concurrent=1)
    runs = [lab.start(FAST.replace(epochs=40, seed=i)) for i in range(3)]
    wait_for(lambda: any(r.status().state == "running" for r in runs), what="one run to start")
    for _ in range(20):
        states = [r.status().state for r in runs]
        assert states.count("running") + states.count("paused") <= 1, states
        time.sleep(0.02)
    assert "queued" in states
    training = next(r for r in runs if r.status().state in ("running", "paused"))
    queued = next(r for r in runs if r.status().state == "queued")
    assert queued.waiting_for_slot and not training.waiting_for_slot  # so the page says it waits
    queued.stop()
    assert finish(queued).state == "stopped"
    lab.shutdown()
    assert all(not r.alive for r in runs)


def test_same_seed_same_start(lab: Lab) -> None:
    """The seed fixes initial weights and data order, so a repeated run matches step for step."""
    a = finish(lab.start(FAST.replace(epochs=1)))
    b = finish(lab.start(FAST.replace(epochs=1)))
    losses_a = lab.metrics(a.run_id).query("kind == 'step'").loss.to_numpy()
    losses_b = lab.metrics(b.run_id).query("kind == 'step'").loss.to_numpy()
    assert losses_a == pytest.approx(losses_b, rel=1e-5)
    c = finish(lab.start(FAST.replace(epochs=1, seed=7)))
    assert lab.metrics(c.run_id).query("kind == 'step'").loss.iloc[0] != pytest.approx(losses_a[0], rel=1e-6)


def test_model_snapshot_is_a_cpu_copy(lab: Lab) -> None:
    run = lab.start(FAST.replace(epochs=20))
    wait_for(lambda: run.status().step >= 2, what="first steps")
    snapshot = run.model_snapshot()
    assert snapshot is not None and not snapshot.training
    assert all(p.device.type == "cpu" for p in snapshot.parameters())
    run.stop()
    finish(run)
    _, config = lab.load_model(run.run_id)
    assert config.hidden_size == 32


def test_metrics_memory_is_bounded_but_epochs_are_kept() -> None:
    log = MetricsLog(max_rows=200)
    for step in range(1, 100_001):
        log.append("step", step=step, loss=1.0 / step)
        if step % 10_000 == 0:
            log.append("epoch", step=step, epoch=step // 10_000, test_acc=0.5)
    frame = log.frame()
    assert len(frame) <= 200
    assert list(frame.query("kind == 'epoch'").epoch) == list(range(1, 11))
    assert frame.step.iloc[0] == 1 and frame.step.iloc[-1] == 100_000
    assert frame.step.is_monotonic_increasing
    assert len(log.take_pending()) == 100_010, "the disk gets every row"


@pytest.mark.slow
def test_learns_real_digits(tmp_path, real_mnist_dir) -> None:
    """2,000 real MNIST digits, 500 held out: a row-reading LSTM passes 80% in a short CPU run."""
    lab = Lab(runs_dir=tmp_path / "runs", data_dir=real_mnist_dir)
    config = RunConfig(hidden_size=128, lr=3e-3, batch_size=32, epochs=6, eval_every=0)
    status = finish(lab.start(config), timeout=240)
    assert status.state == "finished", status.message
    final = lab.metrics(status.run_id).query("kind == 'epoch'").iloc[-1]
    assert final.test_acc > 0.8, f"held-out accuracy {final.test_acc:.1%}"
