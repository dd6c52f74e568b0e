"""RunStatus and Slots: what a run reports about itself, and how many runs may train at once."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rnnlab.run_state import is_terminal
from rnnlab.store import RunSummary
from rnnlab.values import finite_or

LIVE_ONLY = ("loss", "samples_per_s", "threads")  # readings of the moment: status.json does not keep them


def disk_record(record: dict[str, Any]) -> dict[str, Any]:
    """The part of a worker's status record that status.json keeps."""
    return {key: value for key, value in record.items() if key not in LIVE_ONLY}


@dataclass(frozen=True)
class RunStatus:
    """A consistent snapshot of a run for pages and the CLI; cheap to take at any time."""

    run_id: str
    name: str
    state: str
    message: str
    epoch: int  # epochs completed
    epochs: int
    step: int
    total_steps: int
    lr: float
    loss: float  # mean training loss over the latest logging interval
    samples_per_s: float
    elapsed_s: float
    best_test_acc: float
    device: str
    precision: str = ""  # what the training step computed in: fp32, bf16 or fp16
    threads: int = 0  # a CPU run's torch threads now; 0 on a GPU, or for a run read from disk

    def to_record(self) -> dict[str, Any]:
        """The fields status.json keeps (what a reader in another process, or after a restart, needs)."""
        return {
            "state": self.state,
            "message": self.message,
            "epoch": self.epoch,
            "epochs": self.epochs,
            "step": self.step,
            "total_steps": self.total_steps,
            "lr": self.lr,
            "elapsed_s": round(self.elapsed_s, 3),
            "best_test_acc": None if math.isnan(self.best_test_acc) else self.best_test_acc,
            "device": self.device,
            "precision": self.precision,
        }

    @classmethod
    def from_summary(cls, summary: RunSummary) -> RunStatus:
        """A RunStatus for a run no thread in this process trains, read back from its status.json."""
        record, config = summary.status, summary.config

        def number(key: str, default: float = 0.0) -> float:
            return finite_or(record.get(key), default)

        return cls(
            run_id=summary.run_id,
            name=summary.name,
            state=summary.state,
            message=summary.error or str(record.get("message", "")),
            epoch=int(number("epoch")),
            epochs=config.epochs if config else int(number("epochs")),
            step=int(number("step")),
            total_steps=int(number("total_steps")),
            lr=number("lr", config.lr if config else math.nan),
            loss=math.nan,
            samples_per_s=0.0,
            elapsed_s=number("elapsed_s"),
            best_test_acc=number("best_test_acc", math.nan),
            device=str(record.get("device", "")),
            precision=str(record.get("precision", "")),
        )

    @property
    def done(self) -> bool:
        return is_terminal(self.state)

    @property
    def live(self) -> bool:
        """Neither ended nor cut off: it trains, waits or pauses, and may change (pages poll it)."""
        return not (self.done or self.state == "interrupted")

    @property
    def progress(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    @property
    def eta_s(self) -> float:
        """Seconds left at the average speed so far; NaN until a speed is known."""
        if self.done or self.samples_per_s <= 0 or not self.total_steps:
            return math.nan
        steps_per_s = self.step / self.elapsed_s if self.elapsed_s > 0 else 0.0
        return (self.total_steps - self.step) / steps_per_s if steps_per_s > 0 else math.nan


class Slots:
    """Limits how many runs train at once; waiting runs stay queued and can still be stopped."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._used = 0
        self._cond = threading.Condition()

    def acquire(self, cancelled: Callable[[], bool]) -> bool:
        with self._cond:
            while self._used >= self.limit:
                if cancelled():
                    return False
                self._cond.wait(timeout=0.2)
            self._used += 1
            return True

    def release(self) -> None:
        with self._cond:
            self._used -= 1
            self._cond.notify_all()
