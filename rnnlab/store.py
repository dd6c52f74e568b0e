"""RunStore: runs/<run_id>/ on disk, written atomically and read back without trusting the files."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from rnnlab.checkpoint import (
    CHECKPOINT_FILE,
    CHECKPOINT_FORMAT,
    CHECKPOINT_KEYS,
    BrokenCheckpoint,
    load_checkpoint_file,
)
from rnnlab.config import RunConfig
from rnnlab.run_lock import claim_temp, folder_lock, overwrite_in_place, remove_stale_temp_files
from rnnlab.run_state import RunState, is_active

if TYPE_CHECKING:
    import pandas as pd
from rnnlab.safe_files import MAX_JSON_BYTES, UnsafeFile, parse_json, read_regular
from rnnlab.status_record import clean_name, clean_status

CONFIG_FILE = "config.json"
STATUS_FILE = "status.json"
METRICS_FILE = "metrics.csv"
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")
MAX_METRICS_BYTES = 2**30  # a million logged steps take about 80 MB
MAX_METRICS_COLUMNS = 200  # rnnlab writes about 20
ACTIVE_STATES = tuple(state for state in RunState if state.active)


class RunNotFound(KeyError):
    """No run with that id in this store (or the id is not a valid run id)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "run not found"


class RunsDirError(RuntimeError):
    """The runs folder cannot be written (missing, read-only, full); nothing was changed."""


class RunBusy(ValueError):
    """The run is already queued or training in a live process: it cannot be claimed twice."""


class AlreadyTrained(ValueError):
    """A run's checkpoint already holds every epoch asked of it: there is nothing left to train."""

    def __init__(self, message: str, epochs: int) -> None:
        super().__init__(message)
        self.epochs = epochs


class BrokenRun(ValueError):
    """A run folder whose files cannot be trusted; the message says which file and why."""


@dataclass(frozen=True)
class RunSummary:
    """One row of the runs table; `error` is set when the run's files are unreadable."""

    run_id: str
    name: str
    state: str
    config: RunConfig | None
    status: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def broken(self) -> bool:
        return self.error is not None


def default_runs_dir() -> Path:
    return Path(os.environ.get("RNNLAB_RUNS_DIR", "runs"))


class RunStore:
    """Owns one runs directory. Every path it touches is a checked run id under that directory."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_runs_dir()
        self._status_lock = threading.Lock()  # a rename and a training thread may write status at once

    # -- paths -------------------------------------------------------------------------------
    def path(self, run_id: str) -> Path:
        """The folder of a run; ids that could escape the runs dir are refused, never resolved."""
        if not isinstance(run_id, str) or not RUN_ID_PATTERN.match(run_id):
            raise RunNotFound(f"{run_id!r} is not a valid run id")
        return self.root / run_id

    def exists(self, run_id: str) -> bool:
        try:
            return (self.path(run_id) / CONFIG_FILE).is_file()
        except RunNotFound:
            return False

    def new_run_id(self, config: RunConfig) -> str:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        return f"{stamp}-{config.dataset}-{config.cell}-{secrets.token_hex(2)}"

    # -- writing -----------------------------------------------------------------------------
    def create(self, config: RunConfig, name: str = "", tags: dict[str, Any] | None = None) -> str:
        """Make the run's folder with its config and a queued status; returns the new id.

        `tags` are kept in status.json beside the state (a sweep's trial carries its sweep and index;
        a doctor's fix the run it tries to fix, `fix_of`, and what it changed, `fix`).

        If the folder cannot be written, nothing half-made is left behind and RunsDirError says why.
        """
        run_id = ""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            while True:
                run_id = self.new_run_id(config)
                try:
                    self.path(run_id).mkdir()
                    break
                except FileExistsError:
                    continue
            self.write_config(run_id, config)
            display = clean_name(name) or default_name(config)
            self.write_status(
                run_id,
                {**(tags or {}), "state": str(RunState.QUEUED), "name": display, "created_at": now_iso()},
            )
        except OSError as e:
            if run_id:
                shutil.rmtree(self.root / run_id, ignore_errors=True)
            raise RunsDirError(
                f"cannot save a new run in {self.root.resolve()}: {e.strerror or e}. Make the folder "
                "writable (and check the disk has space), or set RNNLAB_RUNS_DIR to another folder."
            ) from None
        return run_id

    def write_config(self, run_id: str, config: RunConfig) -> None:
        atomic_write_text(self.path(run_id) / CONFIG_FILE, config.to_json())

    def write_status(self, run_id: str, status: dict[str, Any]) -> None:
        """Replace status.json; keys not given are kept from the previous status.

        Whoever sets the state owns the run, so its pid is stamped beside the state: a reader in
        another process can tell a live run from one whose process died (interrupted).
        """
        with self._status_lock, folder_lock(self.path(run_id)):
            self._merge_status(run_id, status)

    def claim(self, run_id: str, status: dict[str, Any]) -> None:
        """Write an active state only if no live process holds the run: one continue at a time.

        The check and the write happen under the status lock, so of two processes (or threads)
        continuing the same run at once exactly one gets it; the other gets RunBusy.
        """
        with self._status_lock, folder_lock(self.path(run_id)):
            current = self.read_status_or_empty(run_id)
            if is_active(current.get("state")) and _process_alive(current.get("pid")):
                pid = current.get("pid")
                where = "this process" if pid == os.getpid() else "another process"
                raise RunBusy(
                    f"this run is already {current['state']} in {where} (pid {pid}); "
                    "it can be continued once that ends"
                )
            self._merge_status(run_id, status)

    def _merge_status(self, run_id: str, status: dict[str, Any]) -> None:
        """Read, merge and write status.json; the caller holds the status lock."""
        owner = {"pid": os.getpid()} if "state" in status else {}
        merged = {**self.read_status_or_empty(run_id), **status, **owner, "updated_at": now_iso()}
        path, text = self.path(run_id) / STATUS_FILE, json.dumps(merged, indent=2, default=str)
        try:
            atomic_write_text(path, text)
        except OSError:
            if not path.is_file() or path.is_symlink():
                raise
            overwrite_in_place(path, text)  # a full disk: the state on disk must still be true

    def remove_stale_temp_files(self) -> list[Path]:
        """Temp files that killed writers left behind (run_lock.py says how live ones are told apart)."""
        return remove_stale_temp_files(self.root)

    def append_metrics(self, run_id: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
        """Append rows to metrics.csv (header written once); a line is either whole or absent."""
        if not rows:
            return
        path = self.path(run_id) / METRICS_FILE
        new_file = not path.exists() or path.stat().st_size == 0
        out = io.StringIO()  # the csv module, not pandas: a worker writes rows and never imports pandas
        writer = csv.writer(out, lineterminator="\n")
        if new_file:
            writer.writerow(columns)
        writer.writerows([_csv_cell(row.get(column)) for column in columns] for row in rows)
        with open(path, "a", encoding="utf-8") as f:
            f.write(out.getvalue())
            f.flush()

    def replace_metrics(self, run_id: str, frame: pd.DataFrame) -> None:
        """Rewrite metrics.csv atomically (a continued run drops rows written after its checkpoint)."""
        atomic_write_text(self.path(run_id) / METRICS_FILE, frame.to_csv(index=False, float_format="%.6g"))

    def save_checkpoint(self, run_id: str, checkpoint: dict[str, Any]) -> None:
        """Write model.pt atomically (temp file, fsync, rename) so a crash leaves the last good one."""
        if unknown := sorted(set(checkpoint) - CHECKPOINT_KEYS):
            raise ValueError(f"a checkpoint may not hold {unknown}: loading would refuse it")
        payload = {**checkpoint, "format": CHECKPOINT_FORMAT}
        with atomic_path(self.path(run_id) / CHECKPOINT_FILE, durable=True) as tmp:
            torch.save(payload, tmp)

    def rename(self, run_id: str, name: str) -> str:
        display = clean_name(name)
        if not display:
            raise ValueError("a run name needs at least one visible character")
        self._require(run_id)
        try:
            self.write_status(run_id, {"name": display})
        except OSError as e:
            raise RunsDirError(f"cannot rename run {run_id} in {self.root}: {e.strerror or e}") from None
        return display

    def delete(self, run_id: str) -> None:
        folder = self._require(run_id)
        shutil.rmtree(folder)

    # -- reading -----------------------------------------------------------------------------
    def read_file(self, run_id: str, name: str, limit: int = MAX_JSON_BYTES) -> bytes:
        """A file of a run read with the safe_files checks: regular, inside the runs folder, bounded.

        Raises FileNotFoundError when it is missing and BrokenRun when it is anything else.
        """
        path = self._require(run_id) / name
        try:
            return read_regular(path, self.root, limit)
        except FileNotFoundError:
            raise
        except (UnsafeFile, OSError) as e:
            raise BrokenRun(f"{name} of run {run_id} is unreadable: {e}") from None

    def load_config(self, run_id: str) -> RunConfig:
        try:
            raw = self.read_file(run_id, CONFIG_FILE)
            parse_json(raw, CONFIG_FILE)  # bounded depth and numbers before the config sees it
            return RunConfig.from_json(raw.decode("utf-8"))
        except (OSError, ValueError, TypeError, OverflowError) as e:
            raise BrokenRun(f"{CONFIG_FILE} of run {run_id} is unreadable: {e}") from None

    def read_status(self, run_id: str) -> dict[str, Any]:
        """status.json as a typed, bounded record (status_record.py); {} when it does not exist yet."""
        try:
            return clean_status(parse_json(self.read_file(run_id, STATUS_FILE), STATUS_FILE))
        except FileNotFoundError:
            return {}
        except ValueError as e:
            raise BrokenRun(f"{STATUS_FILE} of run {run_id} is unreadable: {e}") from None

    def read_status_or_empty(self, run_id: str) -> dict[str, Any]:
        """The status to merge a write into: an unreadable one is replaced (rewriting it repairs it)."""
        try:
            return self.read_status(run_id)
        except (BrokenRun, RunNotFound):
            return {}

    def load_metrics(self, run_id: str) -> pd.DataFrame:
        """Every complete line of metrics.csv: a line torn by a killed writer is left out."""
        import pandas as pd  # here, not at the top: a worker imports this module and needs no pandas

        try:
            data = complete_lines(self.read_file(run_id, METRICS_FILE, MAX_METRICS_BYTES))
        except FileNotFoundError:
            return pd.DataFrame()
        if not data:
            return pd.DataFrame()
        if data[: data.find(b"\n")].count(b",") >= MAX_METRICS_COLUMNS:
            raise BrokenRun(f"{METRICS_FILE} of run {run_id} has more than {MAX_METRICS_COLUMNS} columns")
        try:
            return pd.read_csv(io.BytesIO(data), on_bad_lines="skip")
        except (ValueError, pd.errors.ParserError) as e:
            raise BrokenRun(f"{METRICS_FILE} of run {run_id} is unreadable: {e}") from None

    def has_checkpoint(self, run_id: str) -> bool:
        return (self._require(run_id) / CHECKPOINT_FILE).is_file()

    def load_checkpoint(self, run_id: str, map_location: str | torch.device = "cpu") -> dict[str, Any]:
        """The run's checkpoint, checked against its config (checkpoint.py says what is refused)."""
        config = self.load_config(run_id)
        try:
            path = self._require(run_id) / CHECKPOINT_FILE
            return load_checkpoint_file(path, self.root, config, map_location)
        except BrokenCheckpoint as e:
            raise BrokenRun(str(e)) from None

    def summary(self, run_id: str) -> RunSummary:
        """One run's row; any unreadable file makes it "broken" with the reason, never an exception."""
        try:
            status = self.read_status(run_id)
        except BrokenRun as e:
            return RunSummary(run_id, run_id, "broken", None, {}, str(e))
        name = status.get("name") or run_id
        try:
            config = self.load_config(run_id)
        except BrokenRun as e:
            return RunSummary(run_id, name, "broken", None, status, str(e))
        state = status.get("state", "unknown")
        if is_active(state) and not _process_alive(status.get("pid")):
            state = RunState.INTERRUPTED
        return RunSummary(run_id, name, state, config, status)

    def list_runs(self) -> list[RunSummary]:
        """Every run folder, newest first; a broken one is listed with its reason, never raised."""
        summaries = []
        for run_id in sorted(self._run_ids(), reverse=True):
            with contextlib.suppress(RunNotFound):  # deleted since the folder was listed
                summaries.append(self.summary(run_id))
        return summaries

    def _run_ids(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for entry in self.root.iterdir():
            if RUN_ID_PATTERN.match(entry.name) and entry.is_dir() and not entry.is_symlink():
                yield entry.name

    def _require(self, run_id: str) -> Path:
        folder = self.path(run_id)
        if not folder.is_dir() or folder.is_symlink():
            raise RunNotFound(f"no run {run_id!r} in {self.root}")
        return folder


def complete_lines(data: bytes) -> bytes:
    """The whole lines of an appended file: a line torn by a killed writer is left out."""
    return data[: data.rfind(b"\n") + 1]


def default_name(config: RunConfig) -> str:
    return (
        f"{config.dataset} {config.order} {config.cell_label} h{config.hidden_size}x{config.num_layers} "
        f"{config.optimizer}"
    )


def unique_name(base: str, taken: set[str]) -> str:
    """`base`, or `base #2`, `#3`…: the first that no run has, so made-up names tell runs apart."""
    if base not in taken:
        return base
    return next(f"{base} #{n}" for n in range(2, len(taken) + 3) if f"{base} #{n}" not in taken)


def now_iso() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def atomic_write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(text)


@contextlib.contextmanager
def atomic_path(path: Path, durable: bool = False) -> Iterator[Path]:
    """Yield a temp path beside `path`; on success rename it over `path`, so readers see old or new.

    The rename alone survives a killed process. `durable` also fsyncs file and folder so the
    file survives a power cut; checkpoints pay for that, small status files do not need to.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        claim_temp(fd)  # held until the rename: a cleaner never removes a file still being written
        yield tmp
        if durable:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
        if durable:
            _fsync_dir(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _process_alive(pid: Any) -> bool:
    """Whether the process that wrote an active status still runs; if not, the run was interrupted."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A process that has exited but not been reaped (its new parent may never reap it) is dead too."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def _csv_cell(value: Any) -> str:
    """One metrics.csv cell as pandas' `to_csv(float_format="%.6g")` wrote it: NaN and None empty."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float):
        return format(value, ".6g")
    return str(value)
