"""Lab: the runs of one process (live and on disk), shared by every page, tab and the CLI."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from rnnlab.bundle import export_bundle, import_bundle, metrics_csv
from rnnlab.config import RunConfig
from rnnlab.data import ImageDataset, default_data_dir, load_dataset
from rnnlab.device import usable_device
from rnnlab.engines import Engine
from rnnlab.engines.local import default_engine
from rnnlab.metrics import COLUMNS
from rnnlab.models import SequenceClassifier
from rnnlab.remedies import Fix, fix_name
from rnnlab.run_handle import RunHandle
from rnnlab.run_setup import model_from_weights
from rnnlab.run_state import RunState, is_active, is_terminal
from rnnlab.run_status import RunStatus, Slots
from rnnlab.store import (
    CHECKPOINT_FILE,
    AlreadyTrained,
    BrokenRun,
    RunBusy,
    RunNotFound,
    RunsDirError,
    RunStore,
    RunSummary,
    clean_name,
    default_name,
    unique_name,
)

KEEP_FINISHED_RUNS = 16


def default_concurrency() -> int:
    """Runs that may train at once: $RNNLAB_MAX_CONCURRENT, else 2 on a GPU and 1 on a CPU."""
    value = os.environ.get("RNNLAB_MAX_CONCURRENT", "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    return 2 if torch.cuda.is_available() else 1


def fixed_threads() -> int:
    """$RNNLAB_TORCH_THREADS, the torch threads of every CPU worker, or 0 where it is not set.

    The variable is for machines shared with other work (and for tests of tiny models): OpenMP
    threads that find their cores taken spin and wait on each other, and one thread is then faster.
    """
    value = os.environ.get("RNNLAB_TORCH_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else 0


def worker_threads(runs: int) -> int:
    """Torch threads per CPU worker: $RNNLAB_TORCH_THREADS, else the cores shared out among `runs`
    training at once, so that workers training together never oversubscribe the machine."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return fixed_threads() or max(1, (cores or 1) // max(1, runs))


class Lab:
    """Owns the RunStore and the runs this process starts; runs belong to the process, not a session.

    Each run trains in a worker process of `engine` (by default this machine's shared local
    engine); the Lab keeps one RunHandle per run.
    """

    def __init__(
        self,
        runs_dir: str | Path | None = None,
        data_dir: str | Path | None = None,
        max_concurrent: int | None = None,
        cpu_threads: int | None = None,
        engine: Engine | None = None,
    ) -> None:
        """`cpu_threads` fixes torch's threads in each CPU worker. None shares the cores out among
        the runs training at once, `max_concurrent` at most, and shares them again whenever a run
        starts or ends: a run left training alone (a sweep's last trial) takes every core."""
        self.store = RunStore(runs_dir)
        with contextlib.suppress(OSError):  # a read-only runs folder still opens
            self.store.remove_stale_temp_files()  # left by writers killed mid-write
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        self.slots = Slots(max_concurrent or default_concurrency())
        self._fixed_threads = cpu_threads or fixed_threads()
        self.cpu_threads = self._fixed_threads or worker_threads(self.slots.limit)
        self.engine = engine or default_engine()
        self.engine.keep_warm = max(self.engine.keep_warm, self.slots.limit)
        self._runs: dict[str, RunHandle] = {}
        self._lock = threading.Lock()

    @property
    def max_concurrent(self) -> int:
        """How many runs train at once here; more wait as queued."""
        return self.slots.limit

    def warm_up(self) -> None:
        """Start a worker now, so the first Start trains within moments instead of after an import."""
        self.engine.warm_up(1)

    # -- starting ----------------------------------------------------------------------------
    def start(
        self, config: RunConfig, name: str = "", tags: dict[str, Any] | None = None, *, stop_at: float = 0.0
    ) -> RunHandle:
        """Create and launch a run; without a name it gets one made from its settings, unique here.

        `tags` stay in the run's status.json (a sweep's trial is tagged with its sweep and index,
        a doctor's fix with `fix_of`, the run it tries to fix, and `fix`, what it changed).
        `stop_at` (epoch progress) stops it, weights saved, at its first quick test that far in:
        a sweep's trial reaching a rung of successive halving.
        """
        if not clean_name(name):
            name = unique_name(default_name(config), {s.name for s in self.store.list_runs()})
        run_id = self.store.create(config, name, tags)
        return self._launch(run_id, continue_training=False, stop_at=stop_at)

    def start_fix(self, run_id: str, fix: Fix) -> RunHandle:
        """A new run of `run_id`'s settings with exactly `fix` applied, named after it and linked to it."""
        config = fix.apply(self.config(run_id))
        name = fix_name(self.status(run_id).name, fix)
        return self.start(config, name, tags={"fix_of": run_id, "fix": fix.label})

    def fixes_of(self, run_id: str) -> list[RunSummary]:
        """The runs started from a doctor's fix of `run_id`, newest first."""
        return [s for s in self.list_runs() if s.status.get("fix_of") == run_id]

    def continue_run(
        self, run_id: str, extra_epochs: int = 0, *, until: int = 0, stop_at: float = 0.0
    ) -> RunHandle:
        """Train a finished, stopped or interrupted run from its checkpoint.

        A partly trained epoch counts as the current one: it is completed first, so the run ends
        with `extra_epochs` more completed epochs than its checkpoint holds, or, given `until`
        instead, with that many in all (a sweep's trial: counted from the checkpoint itself, not
        from a status that a killed worker may have left an epoch behind). Metric rows written
        after the checkpoint (by a run that died mid-epoch) are dropped first. `stop_at` as in `start`.
        """
        if until:
            if extra_epochs or not isinstance(until, int) or until < 1:
                raise ValueError(f"until={until!r}: give a total of at least 1 epoch, without extra_epochs")
        elif not isinstance(extra_epochs, int) or extra_epochs < 1:
            raise ValueError(f"extra_epochs={extra_epochs!r}: continue for at least 1 more epoch")
        live = self.get(run_id)
        if live is not None and live.alive:
            raise ValueError("this run is still training; stop it or wait for it to finish first")
        on_disk = self.store.summary(run_id)
        if is_active(on_disk.state):  # the early, common refusal; claim() below makes it race-free
            raise RunBusy(
                f"this run is still {on_disk.state} in another process (pid {on_disk.status.get('pid')}); "
                "it saves its weights and reads as interrupted when that process lets it go"
            )
        if not self.store.has_checkpoint(run_id):
            raise ValueError(
                "this run has no checkpoint yet (it never finished an epoch), so it cannot continue"
            )
        checkpoint = self.store.load_checkpoint(run_id)
        done_epochs, step = int(checkpoint.get("epoch", 0)), int(checkpoint.get("step", 0))
        if until and until <= done_epochs:
            raise AlreadyTrained(
                f"this run's checkpoint already holds {done_epochs} of the {until} epochs", done_epochs
            )
        more = self.store.load_config(run_id).replace(
            epochs=until or done_epochs + extra_epochs
        )  # validates the total
        try:
            # Claimed first, under the status lock: a second continue (another tab, thread or
            # process) gets RunBusy here and never trims the metrics or trains the run twice.
            self.store.claim(run_id, {"state": str(RunState.QUEUED), "message": "", "epochs": more.epochs})
        except OSError as e:
            raise RunsDirError(
                f"cannot update run {run_id} in {self.store.root}: {e.strerror or e}"
            ) from None
        try:
            history = self.store.load_metrics(run_id)
            if len(history):
                kept = history[history["step"] <= step].reindex(columns=COLUMNS)  # today's header
                self.store.replace_metrics(run_id, kept)
            self.store.write_config(run_id, more)
        except OSError as e:
            with contextlib.suppress(OSError):  # give the claim back: the run is not queued after all
                back = on_disk.state if is_terminal(on_disk.state) else str(RunState.STOPPED)
                self.store.write_status(run_id, {"state": back})
            raise RunsDirError(
                f"cannot update run {run_id} in {self.store.root}: {e.strerror or e}"
            ) from None
        return self._launch(run_id, continue_training=True, stop_at=stop_at)

    def settle_trained(self, run_id: str, epochs: int) -> None:
        """Record as finished a run whose checkpoint holds all its `epochs` but whose worker was cut
        off between saving it and saying so (continue_run raised AlreadyTrained)."""
        self.store.write_status(
            run_id,
            {"state": str(RunState.FINISHED), "epoch": epochs, "message": "finished (from its checkpoint)"},
        )

    def _launch(self, run_id: str, continue_training: bool, stop_at: float = 0.0) -> RunHandle:
        data_dir = self.data_dir.resolve()  # a warm worker was started in another working directory
        run = RunHandle(
            run_id,
            self.store,
            self.engine,
            self.slots,
            data_dir=str(data_dir),
            continue_training=continue_training,
            threads=self.cpu_threads,
            stop_at=stop_at,
            on_end=self._share_cores,
        )
        with self._lock:
            self._forget_old_runs()
            self._runs[run.run_id] = run
        try:
            run.start()
        except OSError as e:
            with self._lock:
                self._runs.pop(run.run_id, None)
            raise RunsDirError(f"cannot start run {run.run_id}: {e.strerror or e}") from None
        self._share_cores()
        return run

    def _share_cores(self, ended: RunHandle | None = None) -> None:
        """Give the runs still here (queued ones too, for when they start) an equal share of the cores."""
        if self._fixed_threads:
            return
        with self._lock:
            runs = [run for run in self._runs.values() if run.alive and run is not ended]
        threads = worker_threads(min(len(runs), self.slots.limit))
        for run in runs:
            if run.threads != threads:
                run.set_threads(threads)

    def _forget_old_runs(self) -> None:
        """Keep only the most recent finished run handles: memory stays flat over many runs.

        A forgotten run is still on disk; `status` and `metrics` read it from there.
        """
        done = [run_id for run_id, run in self._runs.items() if not run.alive]
        for run_id in done[: max(0, len(done) - KEEP_FINISHED_RUNS)]:
            del self._runs[run_id]

    # -- reading -----------------------------------------------------------------------------
    def get(self, run_id: str) -> RunHandle | None:
        """The handle if this process trains (or trained) it; None for runs known only on disk."""
        with self._lock:
            return self._runs.get(run_id)

    def exists(self, run_id: str) -> bool:
        """Whether a run with this id is in the runs folder (any string may be asked about)."""
        return self.store.exists(run_id)

    def live_runs(self) -> list[RunHandle]:
        with self._lock:
            runs = list(self._runs.values())
        return [run for run in runs if run.alive]

    @property
    def runs_dir(self) -> Path:
        return self.store.root

    def summary(self, run_id: str) -> RunSummary:
        """One run's row as on disk (a broken run is a summary with its reason, never an exception)."""
        return self.store.summary(run_id)

    def config(self, run_id: str) -> RunConfig:
        return self.store.load_config(run_id)

    def has_checkpoint(self, run_id: str) -> bool:
        return self.store.has_checkpoint(run_id)

    def checkpoint_version(self, run_id: str) -> str:
        """A stamp that changes whenever the run saves new weights ("missing" before the first)."""
        try:
            stat = (self.store.path(run_id) / CHECKPOINT_FILE).stat()
        except OSError:
            return "missing"
        return f"{stat.st_mtime_ns}-{stat.st_size}"

    def export_bundle(self, run_id: str) -> bytes:
        """The run as one zip (weights, config, status, metrics) for download."""
        return export_bundle(self.store, run_id)

    def metrics_csv(self, run_id: str) -> bytes:
        return metrics_csv(self.store, run_id)

    def import_bundle(self, data: bytes) -> str:
        """Unpack an uploaded run zip as a new run (checked member by member); returns its id."""
        return import_bundle(self.store, data)

    def list_runs(self) -> list[RunSummary]:
        """All runs on disk, newest first, with live runs' state taken from the running thread."""
        summaries = self.store.list_runs()
        out = []
        for summary in summaries:
            run = self.get(summary.run_id)
            if run is not None and run.alive:
                status = run.status()
                summary = dataclasses.replace(summary, state=status.state, name=status.name)
            out.append(summary)
        return out

    def status(self, run_id: str) -> RunStatus:
        run = self.get(run_id)
        if run is not None:
            return run.status()
        return RunStatus.from_summary(self.store.summary(run_id))

    def metrics(self, run_id: str) -> pd.DataFrame:
        run = self.get(run_id)
        if run is not None:
            return run.metrics()
        return self.store.load_metrics(run_id)

    def load_model(self, run_id: str) -> tuple[SequenceClassifier, RunConfig]:
        """The latest weights: a live run's current snapshot, else the saved checkpoint (on CPU)."""
        run = self.get(run_id)
        if run is not None and run.alive:
            model = run.model_snapshot()
            if model is not None:
                return model, run.config
        checkpoint = self.store.load_checkpoint(run_id)
        config = self.store.load_config(run_id)
        try:
            model = model_from_weights(config, checkpoint["model"], int(checkpoint.get("num_classes", 10)))
        except RuntimeError as e:
            raise BrokenRun(f"model.pt does not match this run's config: {str(e).splitlines()[0]}") from None
        return model, config

    def load_for_evaluation(self, run_id: str) -> tuple[SequenceClassifier, RunConfig, ImageDataset]:
        """A run's latest weights on a device this machine has, its config and its dataset.

        Raises RunNotFound / BrokenRun for a missing or unreadable run and DatasetUnavailable when the
        data is not on disk, so callers can say which.
        """
        model, config = self.load_model(run_id)
        dataset = load_dataset(config.dataset, self.data_dir)
        return model.to(usable_device(config.device)), config, dataset

    # -- changing ----------------------------------------------------------------------------
    def rename(self, run_id: str, name: str) -> str:
        run = self.get(run_id)
        if run is not None:
            run.rename(name)
            return run.status().name
        return self.store.rename(run_id, name)

    def delete(self, run_id: str, timeout: float = 30.0) -> None:
        """Stop the run if it trains, then remove its folder."""
        run = self.get(run_id)
        if run is not None:
            run.stop()
            if not run.join(timeout):
                raise RuntimeError(f"run {run_id} did not stop within {timeout:g} s; try again")
            with self._lock:
                self._runs.pop(run_id, None)
        self.store.delete(run_id)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop every live run and wait for it to end, weights saved (tests, the CLI and the app's exit)."""
        runs = self.live_runs()
        for run in runs:
            run.stop()
        for run in runs:
            run.join(timeout)


__all__ = ["Lab", "RunNotFound", "RunsDirError", "default_concurrency"]
