"""Job and Host: what a worker is asked to train, and the world its trainer reports to and obeys."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from rnnlab.config import RunConfig
from rnnlab.protocol import Message


class Host(Protocol):
    """What the trainer sees of the world: where its records go and where its commands come from.

    The worker implements it over its channel; the local worker also writes the run folder itself.
    """

    def status(self, record: dict[str, Any], active: bool) -> None: ...
    def rows(self, rows: list[dict[str, Any]]) -> None: ...
    def flush(self) -> None: ...
    def checkpoint(self, checkpoint: dict[str, Any]) -> None: ...
    def weights(self, request: int, step: int, state: dict[str, torch.Tensor] | None) -> None: ...
    def commands(self, wait: float) -> list[Message]: ...


@dataclass(frozen=True)
class Job:
    """One run for a worker to train: everything it needs, none of it a path it must share."""

    run_id: str
    config: RunConfig
    name: str
    data_dir: str | None = None
    threads: int | None = None  # torch threads on a CPU; None keeps torch's default
    checkpoint: dict[str, Any] | None = None  # set when continuing
    elapsed_s: float = 0.0  # training time before this job (a continued run)
    best_test_acc: float = math.nan
    stop_at: float = 0.0  # epoch progress: stop, weights saved, at the first quick test this far in
    startup: dict[str, float] = field(default_factory=dict)  # seconds: import, data, model
