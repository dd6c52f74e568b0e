"""The progress numbers a person reads about a run, computed in one place for every page and the CLI.

The status counts epochs *completed*; people read "epoch 3 of 5" as the epoch a run is in, or the
one it ended in. A run that diverged or was stopped part-way through its third epoch is "in epoch 3",
as its message says, and a finished run of five epochs is "epoch 5 of 5".
"""

from __future__ import annotations

from rnnlab.run_status import RunStatus


def shown_epoch(status: RunStatus) -> int:
    """The epoch in progress (1-based), or the one the run ended in; a finished run's last epoch."""
    if status.state == "finished":
        return status.epoch
    per_epoch = status.total_steps / status.epochs if status.total_steps and status.epochs else 0
    mid_epoch = per_epoch > 0 and status.step > status.epoch * per_epoch
    if not status.live:
        current = status.epoch + 1 if mid_epoch else max(status.epoch, 1)
    else:  # queued, running, paused: the epoch being trained (the next one at a boundary)
        current = status.epoch + 1
    return min(current, status.epochs) if status.epochs else current


def epoch_text(status: RunStatus) -> str:
    """'epoch 3 of 5': the words every place that shows a run's epoch uses."""
    return f"epoch {shown_epoch(status)} of {status.epochs}"


def step_text(status: RunStatus) -> str:
    """'step 1,204 of 2,345' (or just the step while the total is not known yet)."""
    if status.total_steps:
        return f"step {status.step:,} of {status.total_steps:,}"
    return f"step {status.step:,}"
