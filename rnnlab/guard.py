"""The cost guard of a shared server: what one visitor may start, checked before a run exists.

A classroom server trusts nobody's settings: a link can carry a 1024x4 bidirectional pixel-order
LSTM with batches of 4096 (its first step asked for 13 GB), and thirty clicks on Start can queue
thirty runs. So the app starts runs through `start_within_limits`: the run's memory and time are
estimated with rnnlab/cost.py (the same estimate the Train page shows), and a run past the
server's limits, or past the number of runs one owner or the whole server may have queued or
training, is refused with a message that says which limit and what to change. The CLI is not
guarded: it runs as the person at the machine, on their own account.

Limits come from the server's environment (unset: the defaults below):
RNNLAB_MAX_RUN_GB (memory one run may need; default 80% of the device's), RNNLAB_MAX_RUN_HOURS
(default 12), RNNLAB_MAX_ACTIVE_RUNS (queued, training or paused on the server; default 8) and
RNNLAB_MAX_ACTIVE_PER_OWNER (per browser session or signed-in user; default 3).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

from rnnlab.config import RunConfig
from rnnlab.cost import MEMORY_SHARE, Estimate, device_memory, estimate, measured_speed, rough_duration, size
from rnnlab.device import usable_device
from rnnlab.lab import Lab
from rnnlab.ownership import OWNER_KEY
from rnnlab.run_handle import RunHandle
from rnnlab.run_state import is_active

_START_LOCK = threading.Lock()  # the count and the start are one step: 30 quick clicks queue 3, not 30


class LimitExceeded(ValueError):
    """A run the server's limits do not allow; the message names the limit and what to change."""


@dataclass(frozen=True)
class Limits:
    max_memory_bytes: int  # 0: MEMORY_SHARE of the device's memory
    max_hours: float
    max_active: int
    max_active_per_owner: int

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Limits:
        """The server's limits; a value that is not a positive number is refused with its name."""
        env = dict(os.environ if env is None else env)
        return cls(
            max_memory_bytes=int(_positive(env, "RNNLAB_MAX_RUN_GB", 0.0) * 1e9),  # GB as size() shows them
            max_hours=_positive(env, "RNNLAB_MAX_RUN_HOURS", 12.0),
            max_active=int(_positive(env, "RNNLAB_MAX_ACTIVE_RUNS", 8)),
            max_active_per_owner=int(_positive(env, "RNNLAB_MAX_ACTIVE_PER_OWNER", 3)),
        )


def _positive(env: dict[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}={text[:40]!r} is not a number") from None
    if not 0 < value < 1e12:
        raise ValueError(f"{name}={text[:40]!r} must be a positive number")
    return value


def check_cost(config: RunConfig, found: Estimate, limits: Limits, memory_bytes: int) -> None:
    """Refuse a run that needs more memory or time than the server allows one run."""
    allowed = limits.max_memory_bytes or int(MEMORY_SHARE * memory_bytes)
    if allowed and found.memory_bytes > allowed:
        raise LimitExceeded(
            f"this run needs about {size(found.memory_bytes)} of memory and this server allows one run "
            f"{size(allowed)}; a smaller batch size or hidden size, fewer layers or reading by rows "
            "needs less"
        )
    if found.total_s > limits.max_hours * 3600:
        raise LimitExceeded(
            f"this run would take about {rough_duration(found.total_s)} here and this server allows one "
            f"run {rough_duration(limits.max_hours * 3600)}; use fewer epochs, a training subset or a "
            "smaller model"
        )


def check_queue(statuses: list[dict[str, Any]], owner: str, limits: Limits) -> None:
    """Refuse a start past the server's or this owner's number of queued and training runs."""
    active = [s for s in statuses if is_active(s.get("state"))]
    if len(active) >= limits.max_active:
        raise LimitExceeded(
            f"this server already has {len(active)} runs queued or training (its limit is "
            f"{limits.max_active}); wait for one to finish, or stop one of yours"
        )
    mine = [s for s in active if s.get(OWNER_KEY) == owner]
    if owner and len(mine) >= limits.max_active_per_owner:
        raise LimitExceeded(
            f"you already have {len(mine)} runs queued or training (the limit is "
            f"{limits.max_active_per_owner} each); wait for one to finish, or stop one"
        )


def run_estimate(config: RunConfig, threads: int | None, sizes: tuple[int, int] | None = None) -> Estimate:
    """The cost estimate the Train page shows, from this machine's measured speed."""
    device = usable_device(config.device)
    return estimate(config, measured_speed(device.type, config.cell, threads), *(sizes or ()))


def start_within_limits(
    lab: Lab,
    config: RunConfig,
    name: str,
    owner: str,
    limits: Limits,
    sizes: tuple[int, int] | None = None,
) -> RunHandle:
    """Check cost and queue, then start the run tagged with its owner, as one step per server.

    `sizes` are the dataset's (train, test) image counts where known (else the full releases').
    """
    found = run_estimate(config, lab.cpu_threads, sizes)
    check_cost(config, found, limits, device_memory(usable_device(config.device)))
    with _START_LOCK:
        check_queue([summary.status | {"state": summary.state} for summary in lab.list_runs()], owner, limits)
        return lab.start(config, name, tags={OWNER_KEY: owner} if owner else None)
