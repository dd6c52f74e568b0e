"""Sweeps on tiny data: tagged runs, pruning, Stop all and Continue, bad specs that start nothing."""

from __future__ import annotations

import math
import os
import signal
import time
from pathlib import Path

import pandas as pd
import pytest

from rnnlab.cli import build_parser, config_from_args, lab_for, main
from rnnlab.config import RunConfig
from rnnlab.halving import going_on, rung_epochs
from rnnlab.lab import Lab, default_concurrency, worker_threads
from rnnlab.sweep import Axis, SweepSpec, parse_axis
from rnnlab.sweep_cli import train_command
from rnnlab.sweep_lab import SweepLab
from rnnlab.sweep_table import best_trial, what_mattered
from tests.sweep_waits import trial_past_its_first_epoch

BASE = RunConfig(hidden_size=16, batch_size=32, eval_every=4, eval_subset=100)


@pytest.fixture
def sweeps(tmp_path: Path, tiny_data_dir: Path):
    lab = Lab(runs_dir=tmp_path / "runs", data_dir=tiny_data_dir, max_concurrent=1, cpu_threads=1)
    sweeps = SweepLab(lab)
    yield sweeps
    sweeps.shutdown()
    lab.shutdown()


def test_six_trials_are_runs_weak_ones_pruned_and_the_best_is_the_tables_first(sweeps: SweepLab) -> None:
    """Half the grid cannot learn (lr 1e-6). Successive halving keeps the best third at each rung,
    once all have reached it: 6 trials, then 2 after a ninth of the epochs, then 1 after a third."""
    spec = SweepSpec(
        BASE, (parse_axis("lr", "1e-6,2e-2"), parse_axis("cell", "rnn,lstm,gru")), trials=6, epochs=9, seed=0
    )
    sweep_id = sweeps.start(spec)
    assert sweeps.runner(sweep_id).join(120)
    assert sweeps.runner(sweep_id).error == ""
    assert sweeps.store.record(sweep_id).state == "finished"

    table = sweeps.trials(sweep_id)
    assert sorted(table["trial"]) == list(range(6))
    runs = {s.run_id: s for s in sweeps.lab.list_runs()}
    for row in table.itertuples():
        summary = runs[row._2]  # "run id": every trial is an ordinary run in the store, tagged
        assert summary.status["sweep"] == sweep_id and summary.status["trial"] == row.trial
        assert summary.config.lr == row.lr and summary.config.cell == row.cell and summary.config.epochs == 9
    pruned = table[table["state"] == "pruned"]
    assert sorted(pruned["stopped at epoch"]) == [1.0] * 4 + [3.0]  # rung_epochs(9)
    assert set(table.loc[table["lr"] == 1e-6, "state"]) == {"pruned"}
    assert (table["state"] == "finished").sum() == 1
    best = best_trial(table)
    assert best is not None and best["score"] == table["score"].max() and best["lr"] == 2e-2
    assert best["state"] == "finished" and best["epoch"] == 9
    mattered = what_mattered(table, spec)
    assert mattered["axis"].iloc[0] == "lr"  # the learning rate made the difference here

    # The CLI's reproducing line parses back to the best trial's config.
    config = sweeps.lab.store.load_config(best["run id"])
    words = train_command(config).split()[3:]
    assert config_from_args(build_parser().parse_args(words)) == config


def test_stop_all_then_continue_in_a_new_process_finishes_the_cut_off_run(
    sweeps: SweepLab, tmp_path: Path, tiny_data_dir: Path
) -> None:
    """Stop all mid-trial; a fresh SweepLab (a restarted server) continues the run from its checkpoint."""
    spec = SweepSpec(
        BASE.replace(train_subset=256), (parse_axis("hidden_size", "8,12"),), trials=2, epochs=3, prune=False
    )
    sweep_id = sweeps.start(spec)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        table = sweeps.trials(sweep_id)
        if not table.empty and table["epoch"].iloc[0] >= 1:
            break
        time.sleep(0.1)
    first_run = table["run id"].iloc[0]
    sweeps.stop(sweep_id)
    assert sweeps.runner(sweep_id).join(60)
    assert sweeps.store.record(sweep_id).state == "stopped"
    table, lab = _finish_after_a_restart(sweeps, sweep_id, tmp_path / "runs", tiny_data_dir)
    assert len(table) == 2 and set(table["state"]) == {"finished"}
    assert first_run in set(table["run id"])  # continued, not started afresh
    assert lab.status(first_run).epoch == 3


def test_trials_waiting_at_a_rung_wait_on_after_stop_all_and_a_restart(
    sweeps: SweepLab, tmp_path: Path, tiny_data_dir: Path
) -> None:
    """Stop all while a trial waits at a rung: a restarted server decides the rung, starting no run afresh."""
    axes = (parse_axis("lr", "1e-6,3e-6,2e-2"),)
    spec = SweepSpec(BASE, axes, trials=3, epochs=9, seed=0)
    sweep_id = sweeps.start(spec)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "waiting" not in set(sweeps.trials(sweep_id)["state"]):
        time.sleep(0.05)
    sweeps.stop(sweep_id)
    assert sweeps.runner(sweep_id).join(60)
    waiting = set(sweeps.trials(sweep_id).query("state == 'waiting'")["run id"])
    assert waiting, "no trial was seen waiting at the rung"
    table, lab = _finish_after_a_restart(sweeps, sweep_id, tmp_path / "runs", tiny_data_dir)
    assert len(lab.list_runs()) == 3 and waiting <= set(table["run id"])  # the same runs, none afresh
    assert sorted(table["state"]) == ["finished", "pruned", "pruned"]  # 3 -> 1 at the first rung
    assert table.loc[table["state"] == "finished", "lr"].tolist() == [2e-2]


def _finish_after_a_restart(
    sweeps: SweepLab, sweep_id: str, runs: Path, data: Path
) -> tuple[pd.DataFrame, Lab]:
    """Shut this lab down, then continue the sweep in a fresh one (a restarted server) to its end."""
    sweeps.lab.shutdown()
    lab = Lab(runs_dir=runs, data_dir=data, max_concurrent=1, cpu_threads=1)
    again = SweepLab(lab)
    try:
        again.continue_sweep(sweep_id)
        assert again.runner(sweep_id).join(120)
        assert again.store.record(sweep_id).state == "finished"
        return again.trials(sweep_id), lab
    finally:
        again.shutdown()
        lab.shutdown()


def test_a_saved_ray_sweep_is_read_without_ray(sweeps: SweepLab, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its trials came back into the runs folder: the page and the CLI read them there, not through Ray."""
    sweep_id = sweeps.store.create(SweepSpec(BASE, (parse_axis("lr", "1e-3,2e-3"),), trials=2, engine="ray"))
    sweeps.store.write_state(sweep_id, "finished")
    monkeypatch.setattr(SweepLab, "engine_lab", lambda *_: pytest.fail("Ray was asked for"))
    assert sweeps.trials_lab(sweep_id) is sweeps.lab
    assert sweeps.trials(sweep_id).empty  # no trial ran; what matters is that nothing reached for Ray


def test_the_best_third_goes_on_from_a_rung() -> None:
    """At least one; a diverged trial (NaN) ranks last; a tie goes to the trial started first."""
    assert going_on({0: 0.5, 1: 0.9, 2: 0.7, 3: math.nan, 4: 0.9, 5: 0.1}) == {1, 4}
    assert going_on({0: 0.2, 1: 0.3}) == {1}
    assert going_on({3: 0.4, 1: 0.4, 2: 0.4}) == {1}
    assert going_on({0: math.nan}) == {0}
    assert rung_epochs(9) == (1.0, 3.0) and rung_epochs(2) == (2 / 9, 2 / 3)


def test_a_trial_whose_worker_is_killed_continues_its_run_from_the_checkpoint(sweeps: SweepLab) -> None:
    """SIGKILL the worker after its first epoch: the trial reads as cut off, and the same run trains on."""
    spec = SweepSpec(
        BASE.replace(train_subset=256), (parse_axis("hidden_size", "8,12"),), trials=2, epochs=6, prune=False
    )
    sweep_id = sweeps.start(spec)
    killed_run, _, pid = trial_past_its_first_epoch(sweeps, sweep_id, sweeps.lab)
    os.kill(pid, signal.SIGKILL)
    assert sweeps.runner(sweep_id).join(120)
    assert sweeps.store.record(sweep_id).state == "finished"
    table = sweeps.trials(sweep_id)
    assert len(table) == 2 and set(table["state"]) == {"finished"}
    assert sweeps.lab.status(killed_run).epoch == 6
    failed = [t for t in sweeps.study(sweep_id).trials if t.state.name == "FAIL"]
    assert [t.user_attrs["run_id"] for t in failed] == [killed_run]
    assert [t.user_attrs.get("outcome") for t in failed] == ["interrupted"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: parse_axis("hidden_size", ""), "axis hidden_size: no values given"),
        (lambda: parse_axis("colour", "red"), "axis colour: unknown setting"),
        (lambda: parse_axis("lr", "0..1:log"), "axis lr: range 0..1 is not allowed"),
        (
            lambda: SweepSpec(BASE, (parse_axis("hidden_size", "8,2000"),)),
            "axis hidden_size: hidden_size=2000 is out of range",
        ),
        (lambda: parse_axis("cell", "1..3"), "axis cell: a range needs a numeric field"),
        (lambda: parse_axis("epochs", "1,2"), "axis epochs: a sweep sets epochs itself"),
        (lambda: parse_axis("lr", "1e-3..1e-1:cubic"), "scale 'cubic' is not allowed"),
        (lambda: SweepSpec(BASE, (parse_axis("lr", "1e-3..1e-2"),), trials=10_000), "trials=10000 is out"),
        (
            lambda: SweepSpec(BASE, (parse_axis("cell", "lstm,gru"),), trials=3),
            "more than the 2 combinations",
        ),
        (lambda: SweepSpec(BASE, ()), "at least one axis"),
        (
            lambda: SweepSpec(BASE, (parse_axis("lr", "1e-3..1e-2"),), gpus_per_trial=1),
            "apply only to engine='ray'",
        ),
        (
            lambda: SweepSpec(BASE, (Axis("cell", ("gru",)), Axis("cell", ("rnn",)))),
            "axis cell is given twice",
        ),
        (lambda: SweepSpec(BASE, (parse_axis("dropout", "0.1,0.5"),), trials=2), "dropout=0.1 acts between"),
    ],
)
def test_an_invalid_spec_is_one_clear_error(make, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        make()


def test_an_invalid_sweep_from_the_cli_starts_nothing(tmp_path: Path, tiny_data_dir: Path, capsys) -> None:
    runs = tmp_path / "runs"
    code = main(["sweep", "--runs-dir", str(runs), "--data-dir", str(tiny_data_dir), "--lr", "1e-3..50:log"])
    assert code == 2
    assert "error: axis lr: range 0.001..50 is not allowed" in capsys.readouterr().err
    assert not runs.exists()  # no run, no sweep folder


def test_the_cli_sweeps_lists_and_continues(tmp_path: Path, tiny_data_dir: Path, capsys) -> None:
    """A two-trial sweep from the command line: the table, the best as a train line, the listing."""
    where = ["--runs-dir", str(tmp_path / "runs"), "--data-dir", str(tiny_data_dir)]
    flags = ["--cell", "lstm,gru", "--hidden-size", "8", "--train-subset", "64", "--eval-subset", "50"]
    assert main(["sweep", *where, *flags, "--trials", "2", "--epochs", "1", "--no-prune"]) == 0
    out = capsys.readouterr().out
    assert (
        "best: trial" in out and "python -m rnnlab train --hidden-size 8 --epochs 1 --train-subset 64" in out
    )
    assert main(["sweeps", *where]) == 0
    [line] = capsys.readouterr().out.splitlines()
    sweep_id = line.split()[0]
    assert "finished" in line and "2 trials x 1 epochs" in line
    assert main(["sweep", *where, "--continue", sweep_id]) == 0  # nothing left to train: the same table
    assert "best: trial" in capsys.readouterr().out
    assert main(["sweep", *where, "--continue", "no-such-sweep"]) == 2


def test_the_cli_lets_a_sweeps_parallel_trials_train_at_once(tmp_path: Path) -> None:
    parse = build_parser().parse_args
    where = ["--runs-dir", str(tmp_path / "runs")]
    lab = lab_for(parse(["sweep", *where, "--lr", "1e-3,1e-2", "--parallel", "3"]))
    assert lab.max_concurrent == 3 and lab.cpu_threads == worker_threads(3)
    assert lab_for(parse(["sweep", *where, "--lr", "1e-3,1e-2"])).max_concurrent == default_concurrency()
    assert lab_for(parse(["runs", *where])).max_concurrent == default_concurrency()


def test_a_spec_round_trips_through_json() -> None:
    spec = SweepSpec(BASE, (parse_axis("lr", "1e-4..1e-2:log"), parse_axis("cell", "lstm,gru")), trials=5)
    assert SweepSpec.from_dict(spec.to_dict()) == spec
    assert [a.text() for a in spec.axes] == ["0.0001..0.01:log", "lstm,gru"]
