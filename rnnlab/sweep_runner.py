"""SweepRunner: one sweep's trials, asked of Optuna, trained as ordinary runs, pruned by successive halving.

The runner is a thread in the head process (the server or the CLI). It asks an Optuna study for
settings (the grid's points enqueued in a seeded order, or TPE over ranges), starts each trial as
a run through the Lab (local worker processes, or a Lab whose engine is a Ray cluster), reports
the quick test accuracy after each evaluation and stops a trial the pruner rules out. The study
lives in a journal file in the sweep's folder, so a restarted server continues where it was: a
trial whose run was cut off (a killed worker, a lost node, a server exit) continues that run from
its checkpoint as a new Optuna trial with the same settings.
"""

from __future__ import annotations

import contextlib
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import TrialState

from rnnlab.lab import Lab
from rnnlab.run_state import is_active, is_terminal
from rnnlab.store import AlreadyTrained
from rnnlab.sweep import FIELD_TYPES, SweepSpec
from rnnlab.sweep_store import SweepStore

RESOURCE_PER_EPOCH = 100  # pruner steps per epoch: a report's step is its epoch progress in hundredths
# Each rung keeps the best third of the trials that reached it: the eta of Hyperband's and ASHA's
# papers. Halving (2) keeps so many trials that a sweep of a few epochs saves little time.
REDUCTION_FACTOR = 3
MAX_ATTEMPTS = 3  # a trial cut off this often is left interrupted instead of continued again
POLL_S = 0.25
# Outcomes that count as a trial done; "stopped" is a trial stopped by hand, not by Stop all.
RESULTS = ("finished", "pruned", "stopped", "diverged", "failed")

optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass
class _Active:
    """A trial being trained: its Optuna trial, its run and what has been reported of it."""

    trial: optuna.trial.Trial
    run_id: str
    last_step: int = -1
    pruned_at: float | None = None


class SweepRunner:
    """Runs one sweep to its end in a daemon thread; `stop` ends its trials (weights saved)."""

    def __init__(self, sweep_id: str, spec: SweepSpec, lab: Lab, store: SweepStore, parallel: int) -> None:
        self.sweep_id, self.spec, self.lab, self.store = sweep_id, spec, lab, store
        self.parallel = max(1, parallel)
        self.study = open_study(store, sweep_id, spec)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name=f"rnnlab-sweep-{sweep_id}", daemon=True)
        self.error = ""

    # -- any thread --------------------------------------------------------------------------
    def start(self) -> SweepRunner:
        self.store.write_state(self.sweep_id, "running")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- the runner's thread -----------------------------------------------------------------
    def _main(self) -> None:
        try:
            self._fail_stale_trials()
            active: list[_Active] = []
            while True:
                if not self._stop.is_set():
                    while len(active) < self.parallel and self._open_trials(active) > 0:
                        active.append(self._launch())
                for item in list(active):
                    if self._follow(item):
                        active.remove(item)
                if not active and (self._stop.is_set() or self._open_trials(active) <= 0):
                    break
                time.sleep(POLL_S)
        except Exception as e:  # the sweep ends as failed with the reason; its runs are stopped and saved
            self.error = f"{type(e).__name__}: {e}"
            for run in self.lab.live_runs():
                if run.run_id in self._run_ids():
                    run.stop()
            self.store.write_state(self.sweep_id, "failed", self.error)
            return
        self.store.write_state(self.sweep_id, "stopped" if self._stop.is_set() else "finished")

    def _open_trials(self, active: list[_Active]) -> int:
        """How many more trials to start: the spec's count less the trials done and being trained."""
        done = sum(1 for t in self.study.get_trials(deepcopy=False) if t.user_attrs.get("outcome") in RESULTS)
        return self.spec.trials - done - len(active)

    def _launch(self) -> _Active:
        self.study.sampler = optuna.samplers.TPESampler(seed=self.spec.seed + len(self.study.trials))
        trial = self.study.ask()
        params = {axis.field: _suggest(trial, axis) for axis in self.spec.axes}
        continues = trial.user_attrs.get("continues")
        if continues and self._resume(continues):
            run_id = continues
        else:
            if continues:  # cut off before its first checkpoint: trained afresh, the old run set aside
                trial.set_user_attr("replaces", continues)
            name = f"{self.spec.name or self.sweep_id} trial {trial.number}"
            tags = {"sweep": self.sweep_id, "trial": trial.number}
            run_id = self.lab.start(self.spec.trial_config(params), name=name, tags=tags).run_id
        trial.set_user_attr("run_id", run_id)
        return _Active(trial, run_id)

    def _resume(self, run_id: str) -> bool:
        """Continue a cut-off trial's run from its checkpoint; False when it has none (start afresh)."""
        try:
            self.lab.continue_run(run_id, until=self.spec.epochs)
        except AlreadyTrained as e:  # cut off after its last checkpoint: nothing is left to train
            self.lab.settle_trained(run_id, e.epochs)
        except (ValueError, KeyError, OSError):
            return False
        return True

    def _follow(self, item: _Active) -> bool:
        """Report new quick accuracies, prune if told to, and close the trial when its run ended."""
        metrics = self.lab.metrics(item.run_id)
        if item.pruned_at is None and not metrics.empty and "quick_test_acc" in metrics:
            for row in metrics.dropna(subset=["quick_test_acc"]).itertuples():
                step = round(float(row.epoch) * RESOURCE_PER_EPOCH)
                if step <= item.last_step:
                    continue
                item.trial.report(float(row.quick_test_acc), step)
                item.last_step = step
                if self.spec.prune and float(row.epoch) < self.spec.epochs and item.trial.should_prune():
                    item.pruned_at = float(row.epoch)
                    self._stop_run(item.run_id)
                    break
        if self._stop.is_set() and item.pruned_at is None:
            self._stop_run(item.run_id)
        status = self.lab.status(item.run_id)
        handle = self.lab.get(item.run_id)
        if handle.alive if handle is not None else is_active(status.state):
            return False
        ending = str(status.state) if is_terminal(status.state) else "interrupted"
        self._close(item, ending, status.best_test_acc)
        return True

    def _close(self, item: _Active, state: str, score: float) -> None:
        """Tell Optuna how the trial ended; a trial stopped by Stop all stays open for Continue."""
        trial = item.trial
        if item.pruned_at is not None:
            trial.set_user_attr("outcome", "pruned")
            trial.set_user_attr("stopped_at_epoch", item.pruned_at)
            self.study.tell(trial, state=TrialState.PRUNED)
            return
        if state == "stopped" and self._stop.is_set():
            return  # RUNNING in the journal: Continue picks its run up where it stopped
        trial.set_user_attr("outcome", state)
        if state == "finished" and math.isfinite(score):
            self.study.tell(trial, score)
            return
        self.study.tell(trial, state=TrialState.FAIL)
        if state == "interrupted":
            self._continue_later(trial.params, item.run_id, int(trial.user_attrs.get("attempt", 1)))

    def _continue_later(self, params: dict[str, Any], run_id: str, attempt: int) -> None:
        if attempt < MAX_ATTEMPTS:
            self.study.enqueue_trial(params, user_attrs={"continues": run_id, "attempt": attempt + 1})

    def _fail_stale_trials(self) -> None:
        """Trials left RUNNING by a process that ended (restart, or Stop all) are continued as new ones."""
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            self.study.tell(trial.number, state=TrialState.FAIL)
            run_id = trial.user_attrs.get("run_id")
            if run_id:
                self._continue_later(trial.params, run_id, int(trial.user_attrs.get("attempt", 1)))
            else:
                self.study.enqueue_trial(trial.params)

    def _stop_run(self, run_id: str) -> None:
        handle = self.lab.get(run_id)
        if handle is not None and handle.alive:
            handle.stop()

    def _run_ids(self) -> set[str]:
        return {t.user_attrs.get("run_id", "") for t in self.study.get_trials(deepcopy=False)}


def open_study(store: SweepStore, sweep_id: str, spec: SweepSpec) -> optuna.Study:
    """The sweep's study in its journal file: created with the grid enqueued, or loaded as it was."""
    pruner = optuna.pruners.SuccessiveHalvingPruner(
        min_resource=RESOURCE_PER_EPOCH, reduction_factor=REDUCTION_FACTOR, bootstrap_count=0
    )
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(store.journal_path(sweep_id)))
    )
    study = optuna.create_study(
        study_name=sweep_id,
        storage=storage,
        direction="maximize",
        pruner=pruner,
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=spec.seed),
    )
    grid = spec.grid
    if grid is not None and not study.trials:
        random.Random(spec.seed).shuffle(grid)
        for point in grid[: spec.trials]:
            study.enqueue_trial(point, skip_if_exists=True)
    return study


def _suggest(trial: optuna.trial.Trial, axis: Any) -> Any:
    if not axis.is_range:
        return trial.suggest_categorical(axis.field, list(axis.values))
    log = axis.scale == "log"
    if FIELD_TYPES[axis.field] == "int":
        return trial.suggest_int(axis.field, int(axis.low), int(axis.high), log=log)
    return trial.suggest_float(axis.field, float(axis.low), float(axis.high), log=log)


def wait(runner: SweepRunner, on_poll: Callable[[], None], poll_s: float = 0.5) -> None:
    """Call `on_poll` until the runner ends (the CLI's progress bar); Ctrl-C stops the sweep."""
    try:
        while runner.alive:
            on_poll()
            runner.join(poll_s)
    except KeyboardInterrupt:
        runner.stop()
        with contextlib.suppress(KeyboardInterrupt):
            runner.join()
        raise
    on_poll()
