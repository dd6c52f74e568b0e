"""Sweeps on a local Ray (no dashboard): trials reach the store; a killed actor or lost node loses nothing."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is the optional engine: pip install -r requirements-ray.txt")

from rnnlab.config import RunConfig  # noqa: E402
from rnnlab.lab import Lab  # noqa: E402
from rnnlab.sweep import SweepSpec, parse_axis  # noqa: E402
from rnnlab.sweep_lab import SweepLab  # noqa: E402
from tests.sweep_waits import trial_past_its_first_epoch  # noqa: E402

pytestmark = pytest.mark.xdist_group("ray")  # one Ray at a time on this machine


@pytest.fixture
def sweeps(tmp_path: Path, tiny_data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RNNLAB_RAY_CPUS", "2")
    lab = Lab(runs_dir=tmp_path / "runs", data_dir=tiny_data_dir, max_concurrent=1, cpu_threads=1)
    sweeps = SweepLab(lab)
    yield sweeps
    sweeps.shutdown()
    lab.shutdown()
    ray.shutdown()


def test_four_ray_trials_land_in_the_store_and_a_killed_actor_loses_nothing(sweeps: SweepLab) -> None:
    """No shared disk is assumed: every row, status and checkpoint reaches the runs folder over the socket."""
    base = RunConfig(hidden_size=8, batch_size=4, eval_every=16, eval_subset=100, train_subset=256)
    axes = (parse_axis("lr", "1e-3,2e-2"), parse_axis("cell", "lstm,gru"))
    spec = SweepSpec(base, axes, trials=4, epochs=2, prune=False, engine="ray")
    sweep_id = sweeps.start(spec)
    ray_lab = sweeps.engine_lab(spec)
    assert ray_lab.engine.shared_filesystem is False

    killed_run, _, pid = trial_past_its_first_epoch(sweeps, sweep_id, ray_lab)
    os.kill(pid, signal.SIGKILL)  # the actor's process, as when its node is lost

    assert sweeps.runner(sweep_id).join(180)
    assert sweeps.runner(sweep_id).error == ""
    table = sweeps.trials(sweep_id)
    assert len(table) == 4 and set(table["state"]) == {"finished"}
    store = sweeps.lab.store
    for run_id in table["run id"]:
        assert store.has_checkpoint(run_id)
        assert store.load_checkpoint(run_id)["epoch"] == 2
        epochs = store.load_metrics(run_id).query("kind == 'epoch'")
        assert list(epochs["epoch"]) == [1, 2]  # the killed run's first epoch kept, not trained twice
        assert store.read_status_or_empty(run_id)["sweep"] == sweep_id
    assert ray_lab.status(killed_run).epoch == 2


def parents(pid: int) -> set[int]:
    """The process's ancestors (Linux /proc), to find the Ray node whose raylet started it."""
    found = set()
    while pid > 1:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        pid = int(fields[1])
        found.add(pid)
    return found


def test_a_lost_node_leaves_its_trial_interrupted_then_trained_on_elsewhere(
    tmp_path: Path, tiny_data_dir: Path
) -> None:
    """Two one-CPU nodes; the node training a trial is removed after its first epoch. The run reads as
    interrupted, continues from its checkpoint on the other node, and keeps its first epoch."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    nodes = [cluster.add_node(num_cpus=1) for _ in range(2)]
    cluster.wait_for_nodes()
    lab = Lab(runs_dir=tmp_path / "runs", data_dir=tiny_data_dir, max_concurrent=1, cpu_threads=1)
    sweeps = SweepLab(lab)
    try:
        base = RunConfig(hidden_size=8, batch_size=4, eval_every=16, eval_subset=100, train_subset=256)
        spec = SweepSpec(
            base,
            (parse_axis("lr", "1e-3,2e-2"),),
            trials=2,
            epochs=3,
            prune=False,
            engine="ray",
            address=cluster.address,
        )
        sweep_id = sweeps.start(spec)
        ray_lab = sweeps.engine_lab(spec)
        lost_run, handle, pid = trial_past_its_first_epoch(sweeps, sweep_id, ray_lab)
        [node] = [n for n in nodes if n.all_processes["raylet"][0].process.pid in parents(pid)]
        cluster.remove_node(node)
        assert handle.join(60)  # the handle of the cut-off attempt (the sweep starts another at once)
        assert handle.status().state == "interrupted"
        assert "Ray actor died" in handle.status().message

        assert sweeps.runner(sweep_id).join(180)
        table = sweeps.trials(sweep_id)
        assert len(table) == 2 and set(table["state"]) == {"finished"}
        epochs = lab.store.load_metrics(lost_run).query("kind == 'epoch'")
        assert list(epochs["epoch"]) == [1, 2, 3]
    finally:
        sweeps.shutdown()
        lab.shutdown()
        ray.shutdown()
        cluster.shutdown()
