"""SweepRunner: one sweep's trials, asked of Optuna, trained as ordinary runs, pruned by successive halving.

The runner is a thread in the head process (the server or the CLI). It asks an Optuna study for
settings (the grid's points enqueued in a seeded order, or TPE over ranges), starts each trial as
a run through the Lab (local worker processes, or a Lab whose engine is a Ray cluster) and reports
the quick test accuracy after each evaluation. With early stopping, a trial that reaches a rung
(rnnlab/halving.py) stops there, weights saved, and waits; when every trial still in the sweep has
reached that rung, the best third continue from their checkpoints and the others are pruned. The
study lives in a journal file in the sweep's folder, so a restarted server continues where it
was: a trial whose run was cut off (a killed worker, a lost node, a server exit) continues that
run from its checkpoint as a new Optuna trial with the same settings, and a waiting trial waits on.
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

from rnnlab.halving import going_on, rung_epochs
from rnnlab.lab import Lab
from rnnlab.run_state import is_active, is_terminal
from rnnlab.store import AlreadyTrained
from rnnlab.sweep import FIELD_TYPES, SweepSpec
from rnnlab.sweep_store import SweepStore

RESOURCE_PER_EPOCH = 100  # Optuna steps per epoch: a report's step is its epoch progress in hundredths
MAX_ATTEMPTS = 3  # a trial cut off this often is left interrupted instead of continued again
POLL_S = 0.25
# Outcomes that count as a trial done; "stopped" is a trial stopped by hand, not by Stop all.
RESULTS = ("finished", "pruned", "stopped", "diverged", "failed")

optuna.logging.set_verbosity(optuna.logging.WARNING)


# What a trial carries into the Optuna trial that continues it after a restart.
CARRIED = ("passed", "waiting_score", "waiting_epoch", "first_cut")


@dataclass
class _Trial:
    """A trial of this runner: its Optuna trial, its run, what has been reported and where it stands.

    `passed` counts the rungs it went on from; `waiting` is its (quick accuracy, epoch) at the rung
    it stopped at to wait, until that rung is decided.
    """

    trial: optuna.trial.Trial
    run_id: str
    last_step: int = -1
    passed: int = 0
    waiting: tuple[float, float] | None = None
    pruned_at: float | None = None

    @property
    def number(self) -> int:
        return self.trial.number


class SweepRunner:
    """Runs one sweep to its end in a daemon thread; `stop` ends its trials (weights saved)."""

    def __init__(self, sweep_id: str, spec: SweepSpec, lab: Lab, store: SweepStore, parallel: int) -> None:
        self.sweep_id, self.spec, self.lab, self.store = sweep_id, spec, lab, store
        self.parallel = max(1, parallel)
        self.study = open_study(store, sweep_id, spec)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name=f"rnnlab-sweep-{sweep_id}", daemon=True)
        self.error = ""
        self.rungs = rung_epochs(spec.epochs) if spec.prune else ()
        self._waiting: list[_Trial] = []  # stopped at a rung that is not decided yet
        self._going_on: list[_Trial] = []  # decided to go on, waiting for a free place

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
            active: list[_Trial] = []
            while True:
                if not self._stop.is_set():
                    self._decide_rung(active)
                    while len(active) < self.parallel and (self._going_on or self._open_trials(active) > 0):
                        item = self._go_on() if self._going_on else self._launch()
                        if item is not None:
                            active.append(item)
                for item in list(active):
                    if self._follow(item):
                        active.remove(item)
                idle = not self._waiting and not self._going_on and self._open_trials(active) <= 0
                if not active and (self._stop.is_set() or idle):
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

    def _open_trials(self, active: list[_Trial]) -> int:
        """How many more trials to start: the spec's count less the trials done, trained or waiting."""
        done = sum(1 for t in self.study.get_trials(deepcopy=False) if t.user_attrs.get("outcome") in RESULTS)
        return self.spec.trials - done - len(active) - len(self._waiting) - len(self._going_on)

    def _launch(self) -> _Trial | None:
        """Ask Optuna for the next trial and start its run; None when it is one that waits at a rung."""
        self.study.sampler = optuna.samplers.TPESampler(seed=self.spec.seed + len(self.study.trials))
        trial = self.study.ask()
        params = {axis.field: _suggest(trial, axis) for axis in self.spec.axes}
        continues = trial.user_attrs.get("continues")
        carried = _carried(trial)
        passed = int(carried.get("passed", 0))
        if continues and "waiting_score" in carried:  # it was waiting at a rung when the sweep stopped
            trial.set_user_attr("run_id", continues)
            waiting = (float(carried["waiting_score"]), float(carried["waiting_epoch"]))
            self._waiting.append(_Trial(trial, continues, passed=passed, waiting=waiting))
            return None
        if continues and not self._continue(continues, passed):
            run_id = continues
        else:
            if continues:  # cut off before its first checkpoint: trained afresh, the old run set aside
                trial.set_user_attr("replaces", continues)
                passed = 0
            name = f"{self.spec.name or self.sweep_id} trial {trial.number}"
            tags = {"sweep": self.sweep_id, "trial": trial.number}
            config = self.spec.trial_config(params)
            run_id = self.lab.start(config, name=name, tags=tags, stop_at=self._rung(passed)).run_id
        trial.set_user_attr("run_id", run_id)
        return _Trial(trial, run_id, passed=passed)

    def _continue(self, run_id: str, passed: int) -> str:
        """Continue a trial's run from its checkpoint to the next rung or its end; why not, or ""."""
        try:
            self.lab.continue_run(run_id, until=self.spec.epochs, stop_at=self._rung(passed))
        except AlreadyTrained as e:  # cut off after its last checkpoint: nothing is left to train
            self.lab.settle_trained(run_id, e.epochs)
        except (ValueError, KeyError, OSError) as e:
            return str(e) or type(e).__name__
        return ""

    def _follow(self, item: _Trial) -> bool:
        """Report new quick accuracies, note a stop at a rung, and close the trial when its run ended."""
        if self._stop.is_set():
            self._stop_run(item.run_id)
        status = self.lab.status(item.run_id)
        handle = self.lab.get(item.run_id)
        running = handle.alive if handle is not None else is_active(status.state)
        metrics = self.lab.metrics(item.run_id)  # read after: a run seen ended has all its rows here
        if item.waiting is None and not metrics.empty and "quick_test_acc" in metrics:
            for row in metrics.dropna(subset=["quick_test_acc"]).itertuples():
                step = round(float(row.epoch) * RESOURCE_PER_EPOCH)
                if step <= item.last_step:
                    continue
                item.trial.report(float(row.quick_test_acc), step)
                item.last_step = step
                epoch = float(row.epoch)
                if item.passed < len(self.rungs) and self.rungs[item.passed] <= epoch < self.spec.epochs:
                    self._wait_at_rung(item, float(row.quick_test_acc), epoch)
                    break
        if running:
            return False
        ending = str(status.state) if is_terminal(status.state) else "interrupted"
        if item.waiting is not None and ending == "stopped":
            self._waiting.append(item)  # the rung is decided in _decide_rung, the trial stays open
            return True
        self._close(item, ending, status.best_test_acc)
        return True

    def _wait_at_rung(self, item: _Trial, score: float, epoch: float) -> None:
        """Remember the score the run stopped at (it was told to, see `_rung`) until the rung is decided."""
        item.waiting = (score, epoch)
        if item.passed == 0:  # the one point every trial reaches: what mattered compares them there
            item.trial.set_user_attr("first_cut", score)
        item.trial.set_user_attr("waiting_score", score)
        item.trial.set_user_attr("waiting_epoch", epoch)

    def _rung(self, passed: int) -> float:
        """Where a trial that passed this many rungs stops to wait (epoch progress); 0: at its end."""
        return self.rungs[passed] if passed < len(self.rungs) else 0.0

    def _decide_rung(self, active: list[_Trial]) -> None:
        """When no trial can still reach the lowest rung trials wait at, the best third of them go on."""
        if not self._waiting or self._open_trials(active) > 0:
            return
        rung = min(item.passed for item in self._waiting)
        if any(item.passed <= rung for item in (*active, *self._going_on)):
            return
        there = [(item, *item.waiting) for item in self._waiting if item.passed == rung and item.waiting]
        winners = going_on({item.number: score for item, score, _ in there})
        for item, _, epoch in there:
            self._waiting.remove(item)
            if item.number in winners:
                item.passed, item.waiting = rung + 1, None
                item.trial.set_user_attr("passed", item.passed)
                item.trial.set_user_attr("waiting_score", None)
                self._going_on.append(item)
            else:
                item.pruned_at = epoch
                self._close(item, "pruned", math.nan)

    def _go_on(self) -> _Trial | None:
        """Continue the run of a trial that went on from its rung; None (the trial closed) if it cannot."""
        item = self._going_on.pop(0)
        error = self._continue(item.run_id, item.passed)
        if error:
            item.trial.set_user_attr("error", error)
            self._close(item, "failed", math.nan)
            return None
        return item

    def _close(self, item: _Trial, state: str, score: float) -> None:
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
            self._continue_later(trial, item.run_id, next_attempt=True)

    def _continue_later(self, trial: optuna.trial.BaseTrial, run_id: str, next_attempt: bool) -> None:
        """Enqueue the trial again to continue `run_id`, with the rungs it passed and any it waits at."""
        attempt = int(trial.user_attrs.get("attempt", 1)) + int(next_attempt)
        if attempt <= MAX_ATTEMPTS:
            attrs = {"continues": run_id, "attempt": attempt, **_carried(trial)}
            self.study.enqueue_trial(trial.params, user_attrs=attrs)

    def _fail_stale_trials(self) -> None:
        """Trials left RUNNING by a process that ended (restart, or Stop all) are continued as new ones.

        A trial that was waiting at a rung waits on (it did not fail, so it keeps its attempt count).
        """
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            self.study.tell(trial.number, state=TrialState.FAIL)
            run_id = trial.user_attrs.get("run_id")
            if run_id:
                waiting = trial.user_attrs.get("waiting_score") is not None
                self._continue_later(trial, run_id, next_attempt=not waiting)
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
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(store.journal_path(sweep_id)))
    )
    study = optuna.create_study(
        study_name=sweep_id,
        storage=storage,
        direction="maximize",
        pruner=optuna.pruners.NopPruner(),  # rnnlab/halving.py decides, once a rung is complete
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=spec.seed),
    )
    grid = spec.grid
    if grid is not None and not study.trials:
        random.Random(spec.seed).shuffle(grid)
        for point in grid[: spec.trials]:
            study.enqueue_trial(point, skip_if_exists=True)
    return study


def _carried(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """What of CARRIED the trial holds (a value of None was cleared, so it is left out)."""
    return {key: trial.user_attrs[key] for key in CARRIED if trial.user_attrs.get(key) is not None}


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
