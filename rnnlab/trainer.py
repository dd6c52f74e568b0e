"""Trainer: the training loop of one run, in the main thread of its worker, steered between steps."""

from __future__ import annotations

import math
import time
from typing import Any

import torch
import torch.nn.functional as F

from rnnlab.augment import augment_batch
from rnnlab.data import DatasetUnavailable, ImageDataset, dataset_on_device, to_sequences
from rnnlab.device import pick_device
from rnnlab.job import Host, Job
from rnnlab.metrics import make_row
from rnnlab.models import SequenceClassifier, score
from rnnlab.precision import autocast, backward_and_step, describe, grad_scaler, training_dtype
from rnnlab.protocol import Kind, Message
from rnnlab.remedies import divergence_message
from rnnlab.run_setup import build_model, epoch_order, make_optimizer, training_subset
from rnnlab.run_state import RunState
from rnnlab.schedules import RunSchedule
from rnnlab.signals import Probe
from rnnlab.store import BrokenRun, now_iso

FLUSH_SECONDS = 2.0  # rows reach the run folder at least this often
STATUS_SECONDS = 0.25  # the step counter reaches the handle at least this often while training


class _Stop(Exception):
    """A stop command arrived; `lost` when it is the channel that ended (the server went away)."""

    def __init__(self, lost: bool = False, why: str = "stopped by request") -> None:
        self.lost, self.why = lost, why


class _Diverged(Exception):
    """The loss stopped being a finite number."""


class Trainer:
    """Trains one Job to its end and says how it ended; only `run` is called from outside."""

    def __init__(self, job: Job, host: Host) -> None:
        self.job, self.config, self.host = job, job.config, host
        self.model: SequenceClassifier | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.schedule: RunSchedule | None = None
        self.probe: Probe | None = None
        self.num_classes = 10
        self.name, self.state, self.message = job.name, RunState.RUNNING, ""
        self.epoch = self.step = self.total_steps = 0
        self.lr, self.loss, self.samples_per_s = job.config.lr, math.nan, 0.0
        self.device, self.dtype = "", None
        self.best_test_acc = job.best_test_acc
        self.saved_step = -1  # the step of the last checkpoint written, so a stop there adds none
        self.elapsed_before, self.active_since = job.elapsed_s, None
        self.last_flush = self.last_status = time.monotonic()

    def run(self) -> tuple[RunState, str]:
        """Train, and translate however it ended into a final state and a message a person can act on."""
        try:
            self._train()
            state, message = RunState.FINISHED, ""
        except _Stop as stop:
            state, message = self._stopped(stop)
        except _Diverged as e:
            state, message = RunState.DIVERGED, str(e)
        except (DatasetUnavailable, BrokenRun, ValueError) as e:
            state, message = RunState.FAILED, str(e)
        except torch.cuda.OutOfMemoryError:
            state, message = RunState.FAILED, "the GPU ran out of memory: try a smaller batch or model"
        except OSError as e:
            state, message = RunState.FAILED, f"could not save the run's files: {e}"
        except Exception as e:  # a run must end in a state a person can read, whatever went wrong
            state, message = RunState.FAILED, f"{type(e).__name__}: {e}"
        self._pause_clock()
        self.state, self.message = state, message
        try:
            self.host.flush()
            self.host.status({**self.record(), "finished_at": now_iso()}, active=False)
        except OSError as e:
            self.message = f"{message} (the final status could not be saved: {e})".strip()
        self.model = self.optimizer = None  # the checkpoint holds them; free the device memory
        return self.state, self.message

    def record(self) -> dict[str, Any]:
        """The run's status fields, as the handle keeps them (status.json leaves out the live readings)."""
        return {
            "state": str(self.state),
            "name": self.name,
            "message": self.message,
            "epoch": self.epoch,
            "epochs": self.config.epochs,
            "step": self.step,
            "total_steps": self.total_steps,
            "lr": self.lr,
            "loss": self.loss,
            "samples_per_s": self.samples_per_s,
            "threads": torch.get_num_threads() if self.device == "cpu" else 0,
            "elapsed_s": round(self._elapsed(), 3),
            "best_test_acc": None if math.isnan(self.best_test_acc) else self.best_test_acc,
            "device": self.device,
            "precision": describe(self.dtype),
            "startup": self.job.startup,
        }

    # -- the loop ----------------------------------------------------------------------------
    def _train(self) -> None:
        cfg = self.config
        device = pick_device(cfg.device)
        if device.type == "cpu" and self.job.threads:
            torch.set_num_threads(self.job.threads)
        self.dtype = training_dtype(cfg.precision, device)
        self.device = str(device)
        self._report()
        began = time.monotonic()
        data = dataset_on_device(cfg.dataset, self.job.data_dir, device)
        self.num_classes = len(data.classes)
        train_x, train_y = training_subset(data.train_images, data.train_labels, cfg)
        self.job.startup["data_s"] = round(time.monotonic() - began, 3)
        began = time.monotonic()
        model = build_model(cfg, self.num_classes).to(device)
        optimizer = make_optimizer(cfg, model)
        start_epoch, start_step = self._restore(model, optimizer, device) if self.job.checkpoint else (0, 0)
        steps_per_epoch = math.ceil(len(train_x) / cfg.batch_size)
        self.schedule = RunSchedule(cfg, optimizer, steps_per_epoch, start_step)
        self.model, self.optimizer, self.lr = model, optimizer, self.schedule.lr
        self.probe = Probe(train_x, train_y, cfg.order)
        self.job.startup["model_s"] = round(time.monotonic() - began, 3)
        self.total_steps, self.epoch, self.step = steps_per_epoch * cfg.epochs, start_epoch, start_step
        self.active_since = time.monotonic()  # wall-time comparisons leave out loading the dataset
        self._report()
        scaler = grad_scaler(device, self.dtype)
        for epoch in range(start_epoch, cfg.epochs):
            # A run stopped mid-epoch resumes at the batch it stopped at, in the same data order.
            first = min(max(start_step - epoch * steps_per_epoch, 0), steps_per_epoch)
            self._run_epoch(data, train_x, train_y, epoch, first, scaler)

    def _run_epoch(self, data: ImageDataset, train_x, train_y, epoch: int, first: int, scaler) -> None:
        """One pass over the (remaining) batches of an epoch, then its evaluation and checkpoint."""
        cfg, model, optimizer, device = self.config, self.model, self.optimizer, train_x.device
        steps_per_epoch = math.ceil(len(train_x) / cfg.batch_size)
        order = epoch_order(len(train_x), cfg, epoch).to(device)
        tally = _Tally(device)
        for batch in range(first, steps_per_epoch):
            tally.started += self._obey(wait=0.0)  # paused time is not training time
            idx = order[batch * cfg.batch_size : (batch + 1) * cfg.batch_size]
            images = augment_batch(train_x.index_select(0, idx), cfg.augment, cfg.seed, self.step)
            x = to_sequences(images, cfg.order)  # (batch, steps, inputs)
            y = train_y.index_select(0, idx)
            with autocast(device, self.dtype):
                logits = model(x)  # (batch, classes)
                loss = F.cross_entropy(logits.float(), y)
            optimizer.zero_grad(set_to_none=True)
            logging = (self.step + 1) % cfg.log_every == 0 or batch == steps_per_epoch - 1
            inspect = (lambda: self.probe.before_clip(model)) if logging else None  # rnnlab/signals.py
            backward_and_step(loss, optimizer, model.parameters(), cfg.grad_clip, scaler, inspect)
            if logging:
                self.probe.after_step(model)
            self.step += 1
            self.lr = self.schedule.step()
            tally.add(loss.detach(), logits.detach(), y)
            self.probe.add_loss(loss)
            progress = epoch + (batch + 1) / steps_per_epoch
            if logging:
                self._log_interval(tally, epoch, progress, last=batch == steps_per_epoch - 1)
            if cfg.eval_every and self.step % cfg.eval_every == 0 and batch < steps_per_epoch - 1:
                subset = data.test_images[: cfg.eval_subset], data.test_labels[: cfg.eval_subset]
                self._row("eval", epoch=progress, quick_test_acc=score(model, *subset, cfg.order).accuracy)
                self._stop_if_there(progress)
            self._tick()
        seen = len(train_x) - first * cfg.batch_size
        self._end_epoch(data, epoch, tally, seen)

    def _log_interval(self, tally: _Tally, epoch: int, progress: float, last: bool) -> None:
        """Mean loss and speed since the last log: the one device sync per `log_every` steps (`last`:
        the epoch's last row, whose signals are all measured afresh)."""
        mean_loss = tally.loss_sum.item() / tally.samples
        self._check_finite(mean_loss, epoch)
        now = time.monotonic()
        self.loss, self.samples_per_s = mean_loss, tally.samples / max(now - tally.started, 1e-9)
        signals = self.probe.interval(self.model, fresh=last)
        speed = self.samples_per_s
        self._row("step", epoch=progress, loss=mean_loss, lr=self.lr, samples_per_s=speed, **signals)
        self._report()
        tally.restart(now)

    def _end_epoch(self, data: ImageDataset, epoch: int, tally: _Tally, seen: int) -> None:
        train_loss = tally.epoch_loss.item() / seen
        self._check_finite(train_loss, epoch)
        test = score(self.model, data.test_images, data.test_labels, self.config.order)
        best = test.accuracy if math.isnan(self.best_test_acc) else max(self.best_test_acc, test.accuracy)
        self.epoch, self.best_test_acc = epoch + 1, best
        train = {"train_loss": train_loss, "train_acc": tally.epoch_correct.item() / seen}
        test_fields = {"test_loss": test.loss, "test_acc": test.accuracy, "quick_test_acc": test.accuracy}
        signals = {"acc_gap": train["train_acc"] - test.accuracy, **self.probe.epoch_end(self.model)}
        self._row("epoch", epoch=epoch + 1, lr=self.lr, **train, **test_fields, **signals)
        self._save_checkpoint(test_accuracy=test.accuracy)
        self.host.flush()
        self._report()
        if epoch + 1 < self.config.epochs:
            self._stop_if_there(epoch + 1)

    def _stop_if_there(self, progress: float) -> None:
        """After a quick test: stop as asked once the job's `stop_at` is reached (a sweep's rung)."""
        if 0 < self.job.stop_at <= progress:
            raise _Stop(why=f"stopped at epoch {progress:.2f} as its job asked (a sweep's rung)")

    # -- records -----------------------------------------------------------------------------
    def _save_checkpoint(self, **extra: Any) -> None:
        """Weights, optimizer state, step and config: enough to rebuild and continue the run."""
        self.host.checkpoint(
            {
                "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
                "optimizer": self.optimizer.state_dict(),
                "step": self.step,
                "epoch": self.epoch,
                "config": self.config.to_dict(),
                "num_classes": self.num_classes,
                **extra,
            }
        )
        self.saved_step = self.step

    def _restore(self, model, optimizer, device) -> tuple[int, int]:
        """Load the job's checkpoint; returns (epochs completed, step). Metrics were trimmed by the Lab."""
        checkpoint = self.job.checkpoint
        model.load_state_dict({k: v.to(device) for k, v in checkpoint["model"].items()})
        if isinstance(checkpoint.get("optimizer"), dict):
            optimizer.load_state_dict(checkpoint["optimizer"])
        self.lr = optimizer.param_groups[0]["lr"]  # a live lr change outlives the checkpoint
        return int(checkpoint.get("epoch", 0)), int(checkpoint.get("step", 0))

    def _stopped(self, stop: _Stop) -> tuple[RunState, str]:
        saved = "the weights at this step were saved"
        if self.model is None:
            saved = "it had not begun training"
        elif self.saved_step != self.step:  # a stop at an epoch's end keeps that epoch's checkpoint
            try:
                self._save_checkpoint()
            except OSError as e:
                saved = f"saving the weights failed ({e}), the last epoch's checkpoint is kept"
        if stop.lost:
            return RunState.INTERRUPTED, f"the server that started it went away; {saved}"
        return RunState.STOPPED, f"{stop.why}; {saved}"

    def _row(self, kind: str, **values: Any) -> None:
        self.host.rows([make_row(kind, step=self.step, time=self._elapsed(), **values)])

    def _report(self) -> None:
        self.host.status(self.record(), active=self.active_since is not None)
        self.last_status = time.monotonic()

    def _tick(self) -> None:
        """Between steps: keep the handle's step counter fresh and the run folder's rows recent."""
        now = time.monotonic()
        if now - self.last_status > STATUS_SECONDS:
            self._report()
        if now - self.last_flush > FLUSH_SECONDS:
            self.host.flush()
            self.last_flush = now

    # -- commands ----------------------------------------------------------------------------
    def _obey(self, wait: float) -> float:
        """Apply waiting commands between two steps; blocks while paused. Returns seconds spent paused."""
        paused_since: float | None = None
        paused_total = 0.0
        while True:
            for command in self.host.commands(0.25 if paused_since is not None else wait):
                paused_since, paused_total = self._apply(command, paused_since, paused_total)
            if paused_since is None:
                return paused_total

    def _apply(
        self, command: Message, paused_since: float | None, paused_total: float
    ) -> tuple[float | None, float]:
        kind, data = command.kind, command.data
        if kind is Kind.STOP:
            raise _Stop(lost=bool(data.get("lost")))
        if kind is Kind.SET_LR:  # rescales the rest of the schedule (rnnlab/schedules.py)
            self.lr = float(data["lr"])
            self.schedule.set_rate(self.lr)
            self._row("event", epoch=self.epoch, lr=self.lr, event="lr")
            self._report()
        elif kind is Kind.RENAME:
            self.name = str(data["name"])
            self._report()
        elif kind is Kind.SET_THREADS and self.device == "cpu":  # the Lab shares out the cores
            torch.set_num_threads(int(data["threads"]))
            self._report()
        elif kind is Kind.SNAPSHOT:
            state = (
                None
                if self.model is None
                else {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
            )
            self.host.weights(int(data["request"]), self.step, state)
        elif kind is Kind.PAUSE and paused_since is None:
            self._pause_clock()
            self.state = RunState.PAUSED
            self.host.flush()
            self._report()
            return time.monotonic(), paused_total
        elif kind is Kind.RESUME and paused_since is not None:
            self.active_since, self.state = time.monotonic(), RunState.RUNNING
            self._report()
            return None, paused_total + time.monotonic() - paused_since
        return paused_since, paused_total

    def _pause_clock(self) -> None:
        if self.active_since is not None:
            self.elapsed_before += time.monotonic() - self.active_since
            self.active_since = None

    def _check_finite(self, loss: float, epoch: int) -> None:
        if not math.isfinite(loss):
            raise _Diverged(divergence_message(self.config, self.lr, loss, self.step, epoch))

    def _elapsed(self) -> float:
        active = time.monotonic() - self.active_since if self.active_since is not None else 0.0
        return self.elapsed_before + active


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
