"""RunHandle: the Lab's side of one run, whose worker trains it in another process.

A reader thread waits for a training slot, asks the engine for a worker, sends it the job and
applies what comes back: status, metric rows and, when the worker shares no disk with us,
checkpoints into the run store. Pages and the CLI call the handle from any thread; nothing they
call waits on training except `model_snapshot`, which waits for the end of the current step.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from rnnlab.config import LIMITS, RunConfig
from rnnlab.data import CLASSES
from rnnlab.engines import Engine, EngineError, Worker
from rnnlab.metrics import COLUMNS, MetricsLog
from rnnlab.models import SequenceClassifier
from rnnlab.protocol import Kind, Message, ProtocolError, tensors_from_bytes, tensors_to_bytes
from rnnlab.run_setup import model_from_weights
from rnnlab.run_state import RunState
from rnnlab.run_status import RunStatus, Slots, disk_record
from rnnlab.store import RunStore, clean_name, now_iso

SNAPSHOT_TIMEOUT_S = 30.0


class RunHandle:
    """Status, metrics, model snapshot, pause, resume, stop, set_lr, rename and join for one run."""

    def __init__(
        self,
        run_id: str,
        store: RunStore,
        engine: Engine,
        slots: Slots,
        *,
        data_dir: str | None,
        continue_training: bool = False,
        threads: int | None = None,
        stop_at: float = 0.0,
        on_end: Callable[[RunHandle], None] | None = None,
    ) -> None:
        """`on_end` is called with this handle, from its reader thread, once the run has ended."""
        self.run_id, self.store, self.engine, self.slots = run_id, store, engine, slots
        self._on_end = on_end
        self.config: RunConfig = store.load_config(run_id)
        self.data_dir, self.continue_training, self.threads = data_dir, continue_training, threads
        self.stop_at = stop_at
        self.log = MetricsLog()
        if continue_training:  # show the history at once, even while the run waits for a slot
            self.log.load(store.load_metrics(run_id))
        saved = store.read_status_or_empty(run_id)
        self._name = clean_name(saved.get("name", "")) or run_id
        kept = ("elapsed_s", "best_test_acc", "epoch", "step", "total_steps") if continue_training else ()
        self._record: dict[str, Any] = {key: saved[key] for key in kept if key in saved}
        self._record.update(state=str(RunState.QUEUED), message="", lr=self.config.lr)
        self._active = False
        self._received_at = time.monotonic()
        self._worker: Worker | None = None
        self._pending: list[Message] = []  # commands given before the worker took the job
        self._weights: dict[int, Message] = {}
        self._requests = 0
        self._write_failure = ""
        self._stop_requested = threading.Event()
        self._slot_taken = threading.Event()
        self._lock = threading.Condition()
        self._thread = threading.Thread(target=self._main, name=f"rnnlab-run-{run_id}", daemon=True)

    # -- commands (any thread) ---------------------------------------------------------------
    def start(self) -> RunHandle:
        self._thread.start()
        return self

    def pause(self) -> None:
        self._command(Message(Kind.PAUSE))

    def resume(self) -> None:
        self._command(Message(Kind.RESUME))

    def stop(self) -> None:
        self._stop_requested.set()
        self._command(Message(Kind.STOP))

    def set_lr(self, lr: float) -> None:
        low, high = LIMITS["lr"]
        if not (isinstance(lr, (int, float)) and math.isfinite(lr) and low <= lr <= high):
            raise ValueError(f"lr={lr!r} is out of range; allowed: {low:g} to {high:g}")
        self._command(Message(Kind.SET_LR, {"lr": float(lr)}))

    def set_threads(self, threads: int) -> None:
        """Torch threads for this run on a CPU, from its next step (or its start, while it is queued)."""
        if not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads={threads!r}: give at least 1")
        self.threads = threads
        self._command(Message(Kind.SET_THREADS, {"threads": threads}))

    def rename(self, name: str) -> None:
        """While the worker runs it owns status.json, so the new name goes to it; else to the store."""
        display = clean_name(name)
        if not display:
            raise ValueError("a run name needs at least one visible character")
        with self._lock:
            if self._worker is None:
                self._name = self.store.rename(self.run_id, display)
                return
            self._name = display
        self._command(Message(Kind.RENAME, {"name": display}))

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the run to end; True if it has."""
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def waiting_for_slot(self) -> bool:
        """Queued behind the Lab's concurrency limit, rather than starting up in a worker: a queued
        run is either, and a person is told which (the first waits for another run to end)."""
        return self.alive and not self._slot_taken.is_set()

    @property
    def pid(self) -> int | None:
        """The worker process training this run now (None while queued or after the end)."""
        with self._lock:
            return self._worker.pid if self._worker is not None else None

    # -- snapshots (any thread) --------------------------------------------------------------
    def status(self) -> RunStatus:
        with self._lock:
            record, name = dict(self._record), self._name
            since = time.monotonic() - self._received_at if self._active else 0.0

        def number(key: str, default: float = 0.0) -> float:
            value = record.get(key)
            return float(value) if isinstance(value, (int, float)) else default

        return RunStatus(
            run_id=self.run_id,
            name=name,
            state=RunState(record["state"]),
            message=str(record.get("message", "")),
            epoch=int(number("epoch")),
            epochs=self.config.epochs,
            step=int(number("step")),
            total_steps=int(number("total_steps")),
            lr=number("lr", self.config.lr),
            loss=number("loss", math.nan),
            samples_per_s=number("samples_per_s"),
            elapsed_s=number("elapsed_s") + since,
            best_test_acc=number("best_test_acc", math.nan),
            device=str(record.get("device", "")),
            precision=str(record.get("precision", "")),
            threads=int(number("threads")),
        )

    def metrics(self) -> pd.DataFrame:
        return self.log.frame()

    def model_snapshot(self, timeout: float = SNAPSHOT_TIMEOUT_S) -> SequenceClassifier | None:
        """A CPU copy of the weights as of the last finished step (None before the model exists)."""
        with self._lock:
            worker = self._worker
            if worker is None:
                return None
            self._requests += 1
            request = self._requests
        if not worker.channel.send(Message(Kind.SNAPSHOT, {"request": request})):
            return None
        with self._lock:
            self._lock.wait_for(lambda: request in self._weights or self._worker is not worker, timeout)
            reply = self._weights.pop(request, None)
        if reply is None or not reply.blob:
            return None
        weights = tensors_from_bytes(reply.blob)
        return model_from_weights(self.config, weights, len(CLASSES[self.config.dataset]))

    # -- the reader thread -------------------------------------------------------------------
    def _main(self) -> None:
        if not self.slots.acquire(self._stop_requested.is_set):
            self._end(RunState.STOPPED, "stopped while waiting in the queue")
            return
        self._slot_taken.set()
        try:
            try:
                worker = self.engine.acquire()
            except EngineError as e:
                self._end(RunState.FAILED, str(e))
                return
            if self._stop_requested.is_set():
                self.engine.release(worker, reusable=True)
                self._end(RunState.STOPPED, "stopped before training began")
                return
            self._follow(worker)
        finally:
            self.slots.release()

    def _job(self) -> Message:
        data = {
            "run_id": self.run_id,
            "config": self.config.to_dict(),
            "name": self._name,
            "data_dir": self.data_dir,
            "threads": self.threads,
            "continue": self.continue_training,
            "stop_at": self.stop_at,
            "elapsed_s": float(self._record.get("elapsed_s", 0.0) or 0.0),
            "best_test_acc": float(self._record.get("best_test_acc") or math.nan),
            "runs_dir": str(self.store.root.resolve()) if self.engine.shared_filesystem else None,
        }
        blob = b""
        if self.continue_training and not self.engine.shared_filesystem:
            blob = tensors_to_bytes(self.store.load_checkpoint(self.run_id))
        return Message(Kind.START, data, blob)

    def _follow(self, worker: Worker) -> None:
        """Give the worker its job, then apply its events until it is done or gone."""
        with self._lock:
            worker.channel.send(self._job())
            self._worker, pending, self._pending = worker, self._pending, []
        for message in pending:
            worker.channel.send(message)
        while True:
            try:
                message = worker.channel.receive()
            except ProtocolError as e:
                print(f"rnnlab: run {self.run_id}: {e}; ending its worker", file=sys.stderr)
                worker.kill()
                message = None
            if message is None:
                reason = worker.exit_reason(timeout=5.0)
                self.engine.release(worker, reusable=False)
                self._end(
                    RunState.INTERRUPTED,
                    f"its worker process died ({reason}); continue it to train on from its last checkpoint",
                )
                return
            if message.kind is Kind.DONE:
                self.engine.release(worker, reusable=True)
                state = RunState.FAILED if self._write_failure else RunState(message.data["state"])
                self._end(
                    state, self._write_failure or str(message.data.get("message", "")), from_worker=True
                )
                return
            self._apply(message)

    def _apply(self, message: Message) -> None:
        remote = not self.engine.shared_filesystem
        if message.kind is Kind.STATUS:
            record = message.data["record"]
            if remote:
                self._keep(self.store.write_status, self.run_id, self._for_disk(record))
            with self._lock:
                self._record = record
                self._active, self._received_at = bool(message.data.get("active")), time.monotonic()
        elif message.kind is Kind.ROWS:
            if remote:
                self._keep(self.store.append_metrics, self.run_id, message.data["rows"], COLUMNS)
            self.log.extend(message.data["rows"])
        elif message.kind is Kind.CHECKPOINT and remote:
            self._keep(self.store.save_checkpoint, self.run_id, tensors_from_bytes(message.blob))
        elif message.kind is Kind.WEIGHTS:
            with self._lock:
                self._weights[int(message.data["request"])] = message
                self._lock.notify_all()
        elif message.kind is Kind.LOG:
            print(f"rnnlab: run {self.run_id}: {message.data.get('text', '')}", file=sys.stderr)

    def _keep(self, write: Any, *args: Any) -> None:
        """Write into the local store; the first failure stops the run, which then ends as failed."""
        if self._write_failure:
            return
        try:
            write(*args)
        except OSError as e:
            self._write_failure = f"could not write to the run folder {self.store.path(self.run_id)}: {e}"
            self._command(Message(Kind.STOP))

    def _for_disk(self, record: dict[str, Any]) -> dict[str, Any]:
        return disk_record(record) | {"name": self._name}

    def _end(self, state: RunState, message: str, from_worker: bool = False) -> None:
        """Record the final state in memory first, so it is right even when the disk is not."""
        with self._lock:
            self._worker = None
            self._record = {**self._record, "state": str(state), "message": message}
            self._active = False
            self._lock.notify_all()
        # A worker sharing our disk wrote its own final status, but its last write may have failed
        # (a full disk): the final state is written again here, so what the disk says is true.
        update: dict[str, Any] = {"name": self._name, "state": str(state), "message": message}
        if not (from_worker and self.engine.shared_filesystem and not self._write_failure):
            update = self._for_disk(self._record) | {"finished_at": now_iso()}
        try:
            self.store.write_status(self.run_id, update)
        except OSError as e:
            with self._lock:
                self._record["message"] = f"{message} (the final status could not be saved: {e})".strip()
        if self._on_end is not None:
            self._on_end(self)

    def _command(self, message: Message) -> None:
        with self._lock:
            worker = self._worker
            if worker is None:
                if self._thread.is_alive() or not self._thread.ident:
                    self._pending.append(message)
                return
        worker.channel.send(message)
