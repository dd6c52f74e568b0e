"""Engines: where a run's worker lives. A Lab asks its engine for a Worker and talks rnnlab.protocol to it.

The local engine (the default) starts worker processes on this machine; another engine (a Ray
cluster, say) only has to hand back objects with the same small interface. When the worker does
not share this machine's disk, `shared_filesystem` is False and the handle writes what the
worker sends (metric rows, status, checkpoints) into the local run store itself.
"""

from __future__ import annotations

from typing import Protocol

from rnnlab.protocol import Channel


class Worker(Protocol):
    """One worker, connected and ready for a START; it trains one run at a time."""

    channel: Channel
    pid: int
    startup_s: float  # seconds from asking for it to its READY (0 for a warm one)

    def alive(self) -> bool: ...
    def exit_reason(self, timeout: float) -> str: ...
    def kill(self) -> None: ...


class Engine(Protocol):
    """Hands out workers and takes them back when their run ended in order."""

    shared_filesystem: bool

    def acquire(self) -> Worker: ...
    def release(self, worker: Worker, reusable: bool) -> None: ...
    def warm_up(self, count: int = 1) -> None: ...
    def shutdown(self) -> None: ...


class EngineError(RuntimeError):
    """No worker could be started (the message says why: what failed, and its own words)."""
