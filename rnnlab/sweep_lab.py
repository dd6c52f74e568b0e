"""SweepLab: the sweeps of one process, beside its Lab; the only door for the Sweep page and the CLI.

A sweep's trials are runs of a Lab: the process's own (local worker processes) or, for the Ray
engine, a Lab over the same runs folder whose runs train on a Ray cluster. Either way every trial
lands in the one run store, so the Runs, Inside, Evaluate and Draw pages read it like any run.
"""

from __future__ import annotations

import threading

import optuna
import pandas as pd

from rnnlab.lab import Lab
from rnnlab.store import RunsDirError
from rnnlab.sweep import SweepSpec
from rnnlab.sweep_runner import SweepRunner, open_study
from rnnlab.sweep_store import SweepRecord, SweepStore
from rnnlab.sweep_table import trials_table


class SweepLab:
    """Starts, stops and continues sweeps; lists them from disk, with live ones' state from their thread."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.store = SweepStore(lab.store.root)
        self._runners: dict[str, SweepRunner] = {}
        self._engine_labs: dict[tuple[str, str, float, float], Lab] = {}
        self._lock = threading.Lock()

    def start(self, spec: SweepSpec, parallel: int | None = None) -> str:
        """Save the spec and start its trials; returns the sweep id (the spec was validated when built)."""
        sweep_id = self.store.create(spec)
        self._launch(sweep_id, spec, parallel)
        return sweep_id

    def continue_sweep(self, sweep_id: str, parallel: int | None = None) -> None:
        """Pick a stopped or interrupted sweep up: cut-off trials continue their runs, then new ones start."""
        if self.alive(sweep_id):
            raise ValueError("this sweep is still running")
        self._launch(sweep_id, self.store.load_spec(sweep_id), parallel)

    def stop(self, sweep_id: str) -> None:
        """Stop every trial of the sweep (their weights are saved); Continue picks them up again."""
        runner = self.runner(sweep_id)
        if runner is not None:
            runner.stop()

    def runner(self, sweep_id: str) -> SweepRunner | None:
        with self._lock:
            return self._runners.get(sweep_id)

    def alive(self, sweep_id: str) -> bool:
        runner = self.runner(sweep_id)
        return runner is not None and runner.alive

    def list_sweeps(self) -> list[SweepRecord]:
        return self.store.list_sweeps()

    def study(self, sweep_id: str) -> optuna.Study:
        runner = self.runner(sweep_id)
        if runner is not None:
            return runner.study
        return open_study(self.store, sweep_id, self.store.load_spec(sweep_id))

    def trials(self, sweep_id: str) -> pd.DataFrame:
        """The trials table (best first) of a live or saved sweep."""
        spec = self.store.load_spec(sweep_id)
        return trials_table(self.study(sweep_id), spec, self.trials_lab(sweep_id))

    def trials_lab(self, sweep_id: str) -> Lab:
        """The Lab to read a sweep's trials from: its runner's while this process runs it, else ours.

        Every engine brings a trial's files back into the one runs folder, so looking at a sweep
        that ran on Ray does not connect to (or start) Ray; only running one does.
        """
        runner = self.runner(sweep_id)
        return runner.lab if runner is not None else self.lab

    def engine_lab(self, spec: SweepSpec) -> Lab:
        """The Lab whose runs are this sweep's trials: ours for the local engine, one per Ray address."""
        if spec.engine == "local":
            return self.lab
        key = (spec.engine, spec.address, spec.cpus_per_trial, spec.gpus_per_trial)
        with self._lock:
            if key not in self._engine_labs:
                from rnnlab.engines.ray_cluster import ray_lab  # Ray is optional: imported when asked for

                self._engine_labs[key] = ray_lab(
                    self.lab, spec.address, spec.cpus_per_trial, spec.gpus_per_trial
                )
            return self._engine_labs[key]

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop every sweep and wait for it (tests, the CLI and the server's exit)."""
        with self._lock:
            runners = list(self._runners.values())
        for runner in runners:
            runner.stop()
        for runner in runners:
            runner.join(timeout)
        for lab in self._engine_labs.values():
            lab.shutdown(timeout)
            lab.engine.shutdown()

    def _launch(self, sweep_id: str, spec: SweepSpec, parallel: int | None) -> None:
        lab = self.engine_lab(spec)
        runner = SweepRunner(sweep_id, spec, lab, self.store, parallel or lab.slots.limit)
        with self._lock:
            self._runners[sweep_id] = runner
        try:
            runner.start()
        except OSError as e:
            raise RunsDirError(f"cannot start sweep {sweep_id}: {e.strerror or e}") from None
