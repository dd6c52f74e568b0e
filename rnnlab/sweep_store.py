"""SweepStore: runs/_sweeps/<sweep_id>/ holds a sweep's spec, its state and its Optuna journal.

The folder's name starts with an underscore, which no run id can, so the runs table never mistakes
it for a run. Every id is generated here or checked against the same pattern as run ids.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnlab.store import RUN_ID_PATTERN, RunNotFound, RunsDirError, _process_alive, atomic_write_text, now_iso
from rnnlab.sweep import SweepSpec

FOLDER = "_sweeps"
SPEC_FILE = "spec.json"
STATE_FILE = "state.json"
JOURNAL_FILE = "journal.log"
LIVE_STATES = ("running",)


@dataclass(frozen=True)
class SweepRecord:
    """One sweep as saved: its spec (None when unreadable), state and when it was made."""

    sweep_id: str
    spec: SweepSpec | None
    state: str
    message: str
    created_at: str

    @property
    def name(self) -> str:
        return (self.spec.name if self.spec else "") or self.sweep_id


class SweepStore:
    """Owns the sweeps folder inside one runs folder."""

    def __init__(self, runs_root: Path) -> None:
        self.root = Path(runs_root) / FOLDER

    def path(self, sweep_id: str) -> Path:
        if not isinstance(sweep_id, str) or not RUN_ID_PATTERN.match(sweep_id):
            raise RunNotFound(f"{sweep_id!r} is not a valid sweep id")
        return self.root / sweep_id

    def journal_path(self, sweep_id: str) -> Path:
        return self.path(sweep_id) / JOURNAL_FILE

    def create(self, spec: SweepSpec) -> str:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        sweep_id = f"{stamp}-sweep-{secrets.token_hex(2)}"
        try:
            self.path(sweep_id).mkdir(parents=True)
            atomic_write_text(self.path(sweep_id) / SPEC_FILE, spec.to_json())
            self.write_state(sweep_id, "queued")
        except OSError as e:
            raise RunsDirError(
                f"cannot save a new sweep in {self.root.resolve()}: {e.strerror or e}"
            ) from None
        return sweep_id

    def write_state(self, sweep_id: str, state: str, message: str = "") -> None:
        """The sweep's state, stamped with this process's pid: a dead pid means it was interrupted."""
        previous = self._read_state(sweep_id)
        record = {
            "state": state,
            "message": message,
            "pid": os.getpid(),
            "created_at": previous.get("created_at", now_iso()),
            "updated_at": now_iso(),
        }
        atomic_write_text(self.path(sweep_id) / STATE_FILE, json.dumps(record, indent=2))

    def exists(self, sweep_id: str) -> bool:
        try:
            return (self.path(sweep_id) / SPEC_FILE).is_file()
        except RunNotFound:
            return False

    def load_spec(self, sweep_id: str) -> SweepSpec:
        if not self.exists(sweep_id):
            raise RunNotFound(f"no sweep {sweep_id!r} in {self.root}")
        try:
            return SweepSpec.from_dict(json.loads((self.path(sweep_id) / SPEC_FILE).read_text("utf-8")))
        except (OSError, ValueError, TypeError) as e:
            raise ValueError(f"{SPEC_FILE} of sweep {sweep_id} is unreadable: {e}") from None

    def record(self, sweep_id: str) -> SweepRecord:
        status = self._read_state(sweep_id)
        state, message = str(status.get("state", "unknown")), str(status.get("message", ""))
        if state in LIVE_STATES and not _process_alive(status.get("pid")):
            state = "interrupted"
        try:
            spec = self.load_spec(sweep_id)
        except ValueError as e:
            spec, state, message = None, "broken", str(e)
        return SweepRecord(sweep_id, spec, state, message, str(status.get("created_at", "")))

    def list_sweeps(self) -> list[SweepRecord]:
        """Every sweep, newest first."""
        if not self.root.is_dir():
            return []
        ids = [e.name for e in self.root.iterdir() if RUN_ID_PATTERN.match(e.name) and e.is_dir()]
        return [self.record(sweep_id) for sweep_id in sorted(ids, reverse=True) if self.exists(sweep_id)]

    def _read_state(self, sweep_id: str) -> dict[str, Any]:
        try:
            data = json.loads((self.path(sweep_id) / STATE_FILE).read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}
