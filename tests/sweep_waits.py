"""Waits shared by the sweep tests: tiny trials finish in a fraction of a second, so a test that
acts on a trial mid-run must find one that is still training."""

from __future__ import annotations

import time

from rnnlab.lab import Lab
from rnnlab.run_handle import RunHandle
from rnnlab.sweep_lab import SweepLab


def trial_past_its_first_epoch(sweeps: SweepLab, sweep_id: str, lab: Lab) -> tuple[str, RunHandle, int]:
    """The first trial seen with an epoch done and its worker still training: its run id, handle and pid."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        table = sweeps.trials(sweep_id)
        started = table[table["epoch"] >= 1]
        if not started.empty:
            run_id = started["run id"].iloc[0]
            handle = lab.get(run_id)
            if handle is not None and handle.alive and handle.pid is not None:
                return run_id, handle, handle.pid
        time.sleep(0.05)
    raise AssertionError("no trial finished an epoch in time")
