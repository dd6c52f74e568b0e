"""Run: one training run in a background thread, steered by commands and read through snapshots."""

from __future__ import annotations

import math
import queue
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F

from rnnlab.advice import divergence_message
from rnnlab.config import LIMITS
from rnnlab.data import DatasetUnavailable, dataset_on_device, to_sequences
from rnnlab.device import pick_device
from rnnlab.metrics import COLUMNS, MetricsLog
from rnnlab.models import SequenceClassifier, score
from rnnlab.run_setup import build_model, epoch_order, make_optimizer, model_from_weights, training_subset
from rnnlab.run_status import RunStatus, Slots
from rnnlab.schedules import RunSchedule
from rnnlab.store import BrokenRun, RunStore, now_iso

FLUSH_SECONDS = 2.0


class _StopRequested(Exception):
    """Raised inside the training thread when a stop command arrives."""


class _Diverged(Exception):
    """Raised inside the training thread when the loss stops being a finite number."""


class Run:
    """Trains one RunConfig in a daemon thread and saves everything into its run folder.

    Other threads talk to it only through commands (pause, resume, stop, set_lr) and snapshots
    (status, metrics, model_snapshot); the training thread never calls anything outside rnnlab.
    """

    def __init__(
        self,
        run_id: str,
        store: RunStore,
        *,
        data_dir: str | Path | None = None,
        slots: Slots | None = None,
        continue_training: bool = False,
        cpu_threads: int | None = None,
    ) -> None:
        self.run_id = run_id
        self.store = store
        self.config = store.load_config(run_id)
        self.data_dir = data_dir
        self.slots = slots or Slots(1)
        self.continue_training = continue_training
        self.cpu_threads = cpu_threads
        self.log = MetricsLog()
        if continue_training:  # show the history at once, even while the run waits for a slot
            self.log.load(store.load_metrics(run_id))
        self._commands: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._stop_requested = threading.Event()
        self._lock = threading.Lock()  # guards the status fields below; held only for moments
        self._model_lock = threading.Lock()  # held for a whole training step; snapshots wait for its end
        self._thread = threading.Thread(target=self._main, name=f"rnnlab-run-{run_id}", daemon=True)
        self._model: SequenceClassifier | None = None
        self._optimizer: torch.optim.Optimizer | None = None
        self._num_classes = 10
        status = store.read_status_or_empty(run_id)
        self._name = str(status.get("name", run_id))
        self._state = "queued"
        self._message = ""
        self._epoch = 0
        self._step = 0
        self._total_steps = 0
        self._lr = self.config.lr
        self._loss = math.nan
        self._samples_per_s = 0.0
        self._elapsed_before = float(status.get("elapsed_s", 0.0)) if continue_training else 0.0
        self._active_since: float | None = None
        self._best_test_acc = float(status.get("best_test_acc", math.nan)) if continue_training else math.nan
        self._device = ""

    # -- commands (any thread) ---------------------------------------------------------------
    def start(self) -> Run:
        self._write_status()
        self._thread.start()
        return self

    def pause(self) -> None:
        self._commands.put(("pause", None))

    def resume(self) -> None:
        self._commands.put(("resume", None))

    def stop(self) -> None:
        self._stop_requested.set()
        self._commands.put(("stop", None))

    def set_lr(self, lr: float) -> None:
        low, high = LIMITS["lr"]
        if not (isinstance(lr, (int, float)) and math.isfinite(lr) and low <= lr <= high):
            raise ValueError(f"lr={lr!r} is out of range; allowed: {low:g} to {high:g}")
        self._commands.put(("lr", float(lr)))

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True if it has."""
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- snapshots (any thread) --------------------------------------------------------------
    def status(self) -> RunStatus:
        with self._lock:
            active = time.monotonic() - self._active_since if self._active_since is not None else 0.0
            return RunStatus(
                run_id=self.run_id,
                name=self._name,
                state=self._state,
                message=self._message,
                epoch=self._epoch,
                epochs=self.config.epochs,
                step=self._step,
                total_steps=self._total_steps,
                lr=self._lr,
                loss=self._loss,
                samples_per_s=self._samples_per_s,
                elapsed_s=self._elapsed_before + active,
                best_test_acc=self._best_test_acc,
                device=self._device,
            )

    def metrics(self) -> pd.DataFrame:
        return self.log.frame()

    def model_snapshot(self) -> SequenceClassifier | None:
        """A CPU copy of the weights as of the last finished step (None before the model exists)."""
        with self._model_lock:
            if self._model is None:
                return None
            state = {k: v.detach().to("cpu", copy=True) for k, v in self._model.state_dict().items()}
        return model_from_weights(self.config, state, self._num_classes)

    def rename(self, name: str) -> None:
        self._name = self.store.rename(self.run_id, name)

    # -- the training thread -----------------------------------------------------------------
    def _main(self) -> None:
        if not self.slots.acquire(self._stop_requested.is_set):
            self._finish("stopped", "stopped while waiting in the queue")
            return
        try:
            self._finish(*self._train_to_the_end())
        finally:
            with self._model_lock:
                self._model = self._optimizer = None  # the checkpoint holds them; free the device memory
            self.slots.release()

    def _train_to_the_end(self) -> tuple[str, str]:
        """Train, and translate however it ended into a final state and a message a person can act on."""
        try:
            self._train()
            return "finished", ""
        except _StopRequested:
            return "stopped", self._save_on_stop()
        except _Diverged as e:
            return "diverged", str(e)
        except (DatasetUnavailable, BrokenRun, ValueError) as e:
            return "failed", str(e)
        except torch.cuda.OutOfMemoryError:
            return "failed", "the GPU ran out of memory: try a smaller batch size or hidden size"
        except OSError as e:
            return "failed", f"could not write to the run folder {self.store.path(self.run_id)}: {e}"
        except Exception as e:  # a run must end in a state a person can read, whatever went wrong
            return "failed", f"{type(e).__name__}: {e}"

    def _save_on_stop(self) -> str:
        if self._model is None:
            return "stopped before training began"
        try:
            self._save_checkpoint()
        except OSError as e:
            return f"stopped by request; saving the weights failed ({e}), the last epoch's checkpoint is kept"
        return "stopped by request; the weights at this step were saved"

    def _train(self) -> None:
        cfg = self.config
        device = pick_device(cfg.device)
        # Small gradients decay into denormal floats, which x86 CPUs process up to 100x slower: a
        # run would crawl after a few hundred steps. Flushing them to zero costs no accuracy here.
        torch.set_flush_denormal(True)
        if device.type == "cpu" and self.cpu_threads:
            torch.set_num_threads(self.cpu_threads)
        self._set(state="running", device=str(device))
        self._write_status()
        data = dataset_on_device(cfg.dataset, self.data_dir, device)
        self._num_classes = len(data.classes)
        train_x, train_y = training_subset(data.train_images, data.train_labels, cfg)

        model = build_model(cfg, self._num_classes).to(device)
        optimizer = make_optimizer(cfg, model)
        steps_per_epoch = math.ceil(len(train_x) / cfg.batch_size)
        start_epoch, start_step = (
            self._restore(model, optimizer, device) if self.continue_training else (0, 0)
        )
        schedule = RunSchedule(cfg, optimizer, steps_per_epoch, start_step)
        with self._model_lock:
            self._model, self._optimizer = model, optimizer
        # The clock starts now: wall-time comparisons between runs leave out loading the dataset.
        self._set(
            total_steps=steps_per_epoch * cfg.epochs,
            epoch=start_epoch,
            step=start_step,
            lr=schedule.lr,
            active_since=time.monotonic(),
        )
        for epoch in range(start_epoch, cfg.epochs):
            # A run stopped mid-epoch resumes at the batch it stopped at, in the same data order.
            first_batch = min(max(start_step - epoch * steps_per_epoch, 0), steps_per_epoch)
            self._run_epoch(model, optimizer, schedule, data, train_x, train_y, epoch, first_batch)

    def _run_epoch(
        self, model, optimizer, schedule: RunSchedule, data, train_x, train_y, epoch: int, first_batch: int
    ) -> None:
        """One pass over the (remaining) batches of an epoch, then its evaluation and checkpoint."""
        cfg, device = self.config, train_x.device
        steps_per_epoch = math.ceil(len(train_x) / cfg.batch_size)
        quick_x, quick_y = data.test_images[: cfg.eval_subset], data.test_labels[: cfg.eval_subset]
        order = epoch_order(len(train_x), cfg, epoch).to(device)
        tally = _Tally(device)
        last_flush = time.monotonic()
        for batch in range(first_batch, steps_per_epoch):
            tally.started += self._handle_commands(schedule)  # paused time is not training time
            idx = order[batch * cfg.batch_size : (batch + 1) * cfg.batch_size]
            x = to_sequences(train_x.index_select(0, idx), cfg.order)  # (batch, steps, inputs)
            y = train_y.index_select(0, idx)
            with self._model_lock:
                logits = model(x)  # (batch, classes)
                loss = F.cross_entropy(logits, y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                optimizer.step()
            with self._lock:
                self._step += 1
                self._lr = schedule.step()
            tally.add(loss.detach(), logits.detach(), y)
            step, progress = self._step, epoch + (batch + 1) / steps_per_epoch
            if step % cfg.log_every == 0 or batch == steps_per_epoch - 1:
                self._log_interval(tally, step, epoch, progress)
            if cfg.eval_every and step % cfg.eval_every == 0 and batch < steps_per_epoch - 1:
                quick = score(model, quick_x, quick_y, cfg.order).accuracy
                self.log.append("eval", step=step, epoch=progress, time=self._elapsed(), quick_test_acc=quick)
            if time.monotonic() - last_flush > FLUSH_SECONDS:
                self._flush_metrics()
                last_flush = time.monotonic()
        seen = len(train_x) - first_batch * cfg.batch_size
        self._end_epoch(model, data, epoch, tally.epoch_loss, tally.epoch_correct, seen)

    def _log_interval(self, tally: _Tally, step: int, epoch: int, progress: float) -> None:
        """Mean loss and speed since the last log: the one device sync per `log_every` steps."""
        mean_loss = tally.loss_sum.item() / tally.samples
        self._check_finite(mean_loss, step, epoch)
        now = time.monotonic()
        speed = tally.samples / max(now - tally.started, 1e-9)
        self._set(loss=mean_loss, samples_per_s=speed)
        self.log.append(
            "step",
            step=step,
            epoch=progress,
            time=self._elapsed(),
            loss=mean_loss,
            lr=self._lr,
            samples_per_s=speed,
        )
        tally.restart(now)

    def _end_epoch(self, model, data, epoch, epoch_loss, epoch_correct, n_train) -> None:
        cfg = self.config
        train_loss = epoch_loss.item() / n_train
        self._check_finite(train_loss, self._step, epoch)
        test = score(model, data.test_images, data.test_labels, cfg.order)
        train_acc = epoch_correct.item() / n_train
        best = test.accuracy if math.isnan(self._best_test_acc) else max(self._best_test_acc, test.accuracy)
        self._set(epoch=epoch + 1, best_test_acc=best)
        self.log.append(
            "epoch",
            step=self._step,
            epoch=epoch + 1,
            time=self._elapsed(),
            lr=self._lr,
            train_loss=train_loss,
            train_acc=train_acc,
            test_loss=test.loss,
            test_acc=test.accuracy,
            quick_test_acc=test.accuracy,
        )
        self._save_checkpoint(test_accuracy=test.accuracy)
        self._flush_metrics()
        self._write_status()

    def _save_checkpoint(self, **extra: Any) -> None:
        """Weights, optimizer state, step and config: enough to rebuild and continue the run."""
        with self._model_lock:
            if self._model is None:
                return
            checkpoint = {
                "model": {k: v.detach().cpu() for k, v in self._model.state_dict().items()},
                "optimizer": self._optimizer.state_dict(),
                "step": self._step,
                "epoch": self._epoch,
                "config": self.config.to_dict(),
                "num_classes": self._num_classes,
                **extra,
            }
        self.store.save_checkpoint(self.run_id, checkpoint)

    def _restore(self, model, optimizer, device) -> tuple[int, int]:
        """Load the run's checkpoint and trim metrics written after it; returns (epochs completed, step)."""
        checkpoint = self.store.load_checkpoint(self.run_id, map_location=device)
        model.load_state_dict(checkpoint["model"])
        if isinstance(checkpoint.get("optimizer"), dict):
            optimizer.load_state_dict(checkpoint["optimizer"])
        step, epoch = int(checkpoint.get("step", 0)), int(checkpoint.get("epoch", 0))
        history = self.store.load_metrics(self.run_id)
        if len(history):
            history = history[history["step"] <= step]
            self.store.replace_metrics(self.run_id, history.reindex(columns=COLUMNS))  # today's header
        self.log.load(history)
        self._set(lr=optimizer.param_groups[0]["lr"])  # a live lr change outlives the checkpoint
        return epoch, step

    def _handle_commands(self, schedule: RunSchedule) -> float:
        """Apply waiting commands between two steps; blocks while paused. Returns seconds spent paused."""
        if self._commands.empty():
            return 0.0
        paused_since: float | None = None
        paused_total = 0.0
        while paused_since is not None or not self._commands.empty():
            try:
                command, value = self._commands.get(timeout=0.25)
            except queue.Empty:
                continue
            if command == "stop":
                raise _StopRequested
            if command == "lr":  # rescales the rest of the schedule (rnnlab/schedules.py)
                schedule.set_rate(value)
                self._set(lr=value)
                self.log.append(
                    "event", step=self._step, epoch=self._epoch, time=self._elapsed(), lr=value, event="lr"
                )
            elif command == "pause" and paused_since is None:
                paused_since = time.monotonic()
                self._pause_clock(True)
            elif command == "resume" and paused_since is not None:
                paused_total += time.monotonic() - paused_since
                paused_since = None
                self._pause_clock(False)
        return paused_total

    def _pause_clock(self, pausing: bool) -> None:
        with self._lock:
            now = time.monotonic()
            if pausing and self._active_since is not None:
                self._elapsed_before += now - self._active_since
                self._active_since = None
                self._state = "paused"
            elif not pausing:
                self._active_since = now
                self._state = "running"
        self._flush_metrics()
        self._write_status()

    def _check_finite(self, loss: float, step: int, epoch: int) -> None:
        if math.isfinite(loss):
            return
        raise _Diverged(divergence_message(self.config, self._lr, loss, step, epoch))

    def _finish(self, state: str, message: str) -> None:
        """Record the final state in memory first, so it is right even when the disk is not."""
        with self._lock:
            if self._active_since is not None:
                self._elapsed_before += time.monotonic() - self._active_since
                self._active_since = None
            self._state, self._message = state, message
        try:
            self._flush_metrics()
            self._write_status(finished_at=now_iso())
        except OSError as e:
            with self._lock:
                self._message = f"{message} (the final status could not be saved: {e})".strip()

    def _flush_metrics(self) -> None:
        self.store.append_metrics(self.run_id, self.log.take_pending(), COLUMNS)

    def _write_status(self, **extra: Any) -> None:
        self.store.write_status(self.run_id, {**self.status().to_record(), **extra})

    def _set(self, **fields: Any) -> None:
        with self._lock:
            for key, value in fields.items():
                setattr(self, f"_{key}", value)

    def _elapsed(self) -> float:
        return self.status().elapsed_s


class _Tally:
    """Running sums of one epoch, kept on the device so that no step waits for the device."""

    def __init__(self, device: torch.device) -> None:
        self.epoch_loss = torch.zeros((), device=device)
        self.epoch_correct = torch.zeros((), device=device, dtype=torch.long)
        self.loss_sum = torch.zeros((), device=device)  # since the last log
        self.samples = 0  # since the last log
        self.started = time.monotonic()  # when the current logging interval began

    def add(self, loss: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> None:
        self.loss_sum += loss * len(labels)
        self.epoch_loss += loss * len(labels)
        self.epoch_correct += (logits.argmax(1) == labels).sum()
        self.samples += len(labels)

    def restart(self, now: float) -> None:
        self.loss_sum.zero_()
        self.samples, self.started = 0, now
