"""RunState: the one spelling of a run's states, and which of them are live, over or continuable."""

from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    """What a run is doing; stored as its plain string in status.json, so old run folders still read.

    `interrupted` is never written by a healthy run: it is what a run reads as when the process
    that trained it died (the server, or its worker), found from the pid beside the state.
    """

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    STOPPED = "stopped"
    DIVERGED = "diverged"
    FAILED = "failed"
    INTERRUPTED = "interrupted"

    @property
    def active(self) -> bool:
        """Waiting for or holding a worker: the run may still change."""
        return self in ACTIVE

    @property
    def terminal(self) -> bool:
        """Ended by the run itself (finished, stopped, diverged, failed): nothing more will happen."""
        return self in TERMINAL

    @property
    def continuable(self) -> bool:
        """May train on from its checkpoint (when it has one)."""
        return self in CONTINUABLE

    @classmethod
    def parse(cls, value: object) -> RunState | None:
        """The state a stored string names; None for anything else (an unknown or broken record)."""
        try:
            return cls(str(value))
        except ValueError:
            return None


ACTIVE = frozenset({RunState.QUEUED, RunState.RUNNING, RunState.PAUSED})
TERMINAL = frozenset({RunState.FINISHED, RunState.STOPPED, RunState.DIVERGED, RunState.FAILED})
CONTINUABLE = frozenset({RunState.FINISHED, RunState.STOPPED, RunState.INTERRUPTED})


def is_active(state: object) -> bool:
    """For state strings read from disk or a summary ("broken" and "unknown" are neither)."""
    parsed = RunState.parse(state)
    return parsed is not None and parsed.active


def is_terminal(state: object) -> bool:
    parsed = RunState.parse(state)
    return parsed is not None and parsed.terminal


def is_continuable(state: object) -> bool:
    parsed = RunState.parse(state)
    return parsed is not None and parsed.continuable
