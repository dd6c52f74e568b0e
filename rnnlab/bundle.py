"""A run as one zip file: export it to share, import one from elsewhere without trusting it."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

import pandas as pd

from rnnlab.checkpoint import BrokenCheckpoint, load_checkpoint_file, max_checkpoint_bytes
from rnnlab.config import RunConfig
from rnnlab.metrics import COLUMNS
from rnnlab.run_events import EVENT_KINDS
from rnnlab.safe_files import MAX_JSON_BYTES, parse_json
from rnnlab.status_record import clean_status
from rnnlab.store import (
    CHECKPOINT_FILE,
    CONFIG_FILE,
    MAX_METRICS_BYTES,
    METRICS_FILE,
    STATUS_FILE,
    BrokenRun,
    RunStore,
    atomic_write_text,
    clean_name,
    complete_lines,
    default_name,
)
from rnnlab.values import finite_or

BUNDLE_FILES = (CHECKPOINT_FILE, CONFIG_FILE, STATUS_FILE, METRICS_FILE)
MAX_TEXT_BYTES = 20 * 2**20  # config, status and metrics together
_MEMBER = re.compile(
    r"^(?:[A-Za-z0-9][A-Za-z0-9_.-]{0,99}/)?(model\.pt|config\.json|status\.json|metrics\.csv)$"
)
_FINAL_STATES = ("finished", "stopped", "diverged")


class BundleError(ValueError):
    """An uploaded file is not an importable rnnlab run; the message says what is wrong."""


# -- export ------------------------------------------------------------------------------------
def metrics_csv(store: RunStore, run_id: str) -> bytes:
    """The run's metrics.csv as written so far: complete lines only (a writer may be mid-line)."""
    data = complete_lines(_read_run_file(store, run_id, METRICS_FILE) or b"")
    return data or (",".join(COLUMNS) + "\n").encode()


def export_bundle(store: RunStore, run_id: str) -> bytes:
    """A zip of the run's weights, config, status and metrics, in a folder named after the run.

    Everything is read through the store's checked run path; files that do not exist yet are left
    out, and symlinks are never followed, so a crafted run folder cannot leak other files.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in BUNDLE_FILES:
            data = metrics_csv(store, run_id) if name == METRICS_FILE else _read_run_file(store, run_id, name)
            if data is not None:
                archive.writestr(f"{run_id}/{name}", data)
    return buffer.getvalue()


def max_bundle_bytes(config: RunConfig) -> int:
    """The most a genuine bundle of `config` unpacks to: its checkpoint's bound and the text files'."""
    return max_checkpoint_bytes(config) + MAX_TEXT_BYTES


def _read_run_file(store: RunStore, run_id: str, name: str) -> bytes | None:
    """A run file through the store's checks (no links out, no FIFOs, bounded); None when missing."""
    limit = MAX_METRICS_BYTES if name == METRICS_FILE else MAX_JSON_BYTES
    if name == CHECKPOINT_FILE:
        limit = max_checkpoint_bytes(store.load_config(run_id))
    try:
        return store.read_file(run_id, name, limit)
    except FileNotFoundError:
        return None


# -- import ------------------------------------------------------------------------------------
def import_bundle(store: RunStore, data: bytes) -> str:
    """Add the run inside an exported zip to the store under a new id; returns that id.

    Nothing in the archive is trusted: member names are matched against the four known files and
    never used as paths, sizes are bounded before anything is unpacked, the config is validated,
    the weights are loaded with weights_only=True and must fit the config, and the metrics are
    re-parsed and rewritten. Any problem raises BundleError and leaves the store as it was.
    """
    config, files = _read_members(data)
    status = _parse_status(files.get(STATUS_FILE))
    metrics = _parse_metrics(files.get(METRICS_FILE))

    original = clean_name(status["name"]) if isinstance(status.get("name"), str) else ""
    run_id = store.create(config, name=f"{original or default_name(config)} (imported)")
    folder = store.path(run_id)
    try:
        (folder / CHECKPOINT_FILE).write_bytes(files[CHECKPOINT_FILE])
        checkpoint = load_checkpoint_file(folder / CHECKPOINT_FILE, store.root, config)
        if metrics is not None:
            atomic_write_text(folder / METRICS_FILE, metrics.to_csv(index=False, float_format="%.6g"))
        store.write_status(run_id, {**_kept_status(status, checkpoint), "imported": True})
    except (BrokenRun, BrokenCheckpoint) as e:
        store.delete(run_id)
        reason = str(e).replace("does not match this run's config", "does not fit the config in the zip")
        raise BundleError(reason) from None
    except BaseException:
        store.delete(run_id)
        raise
    return run_id


def _read_members(data: bytes) -> tuple[RunConfig, dict[str, bytes]]:
    """The config and the files of the zip; its size is bounded by what a run of that config holds."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        raise BundleError(
            "the file is not a zip archive (export a run from the Runs page to get one)"
        ) from None
    files: dict[str, bytes] = {}
    with archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        unknown = [info.filename for info in infos if not _MEMBER.match(info.filename)]
        if unknown:
            shown = ", ".join(repr(name[:60]) for name in unknown[:3])
            raise BundleError(f"the zip holds files an rnnlab run never has: {shown}")
        by_name: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            name = _MEMBER.match(info.filename).group(1)
            if name in by_name:
                raise BundleError(f"the zip holds more than one {name}")
            by_name[name] = info
        if CONFIG_FILE not in by_name or CHECKPOINT_FILE not in by_name:
            raise BundleError("the zip holds no rnnlab run: it needs at least config.json and model.pt")
        if by_name[CONFIG_FILE].file_size > MAX_JSON_BYTES:
            raise BundleError("config.json in the zip is larger than any run config")
        config = _parse_config(_member(archive, by_name[CONFIG_FILE]))
        limit = max_bundle_bytes(config)
        if sum(info.file_size for info in infos) > limit:
            raise BundleError(
                f"the zip unpacks to more than {limit // 2**20} MB, more than a run of its config holds"
            )
        text_bytes = sum(info.file_size for name, info in by_name.items() if name != CHECKPOINT_FILE)
        if text_bytes > MAX_TEXT_BYTES:
            raise BundleError(f"config, status and metrics are larger than {MAX_TEXT_BYTES // 2**20} MB")
        for name, info in by_name.items():
            files[name] = _member(archive, info)
    return config, files


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    name = _MEMBER.match(info.filename).group(1)
    try:
        with archive.open(info) as member:
            content = member.read(info.file_size + 1)  # never more than the header claims
    except (zipfile.BadZipFile, OSError, RuntimeError, EOFError, ValueError) as e:
        raise BundleError(f"{name} in the zip cannot be read: {e}") from None
    if len(content) != info.file_size:
        raise BundleError(f"{name} in the zip is not the size its header says")
    return content


def _parse_config(raw: bytes) -> RunConfig:
    try:
        parse_json(raw, CONFIG_FILE)
        return RunConfig.from_json(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, TypeError, OverflowError) as e:
        raise BundleError(f"config.json in the zip is not a valid run config: {e}") from None


def _parse_status(raw: bytes | None) -> dict[str, Any]:
    if raw is None:
        return {}
    if len(raw) > MAX_JSON_BYTES:
        raise BundleError("status.json in the zip is larger than any run status")
    try:
        return clean_status(parse_json(raw, STATUS_FILE))
    except ValueError:
        raise BundleError("status.json in the zip is not valid JSON") from None


def _parse_metrics(raw: bytes | None) -> pd.DataFrame | None:
    """Only the known columns, as numbers (kind and event as their known words): nothing else survives."""
    if raw is None:
        return None
    try:
        frame = pd.read_csv(io.BytesIO(raw), on_bad_lines="skip")
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError):
        raise BundleError("metrics.csv in the zip is not a readable CSV file") from None
    frame = frame.reindex(columns=COLUMNS)
    known_event = (frame["kind"] == "event") & frame["event"].isin(EVENT_KINDS)
    frame = frame[frame["kind"].isin(["step", "eval", "epoch"]) | known_event]
    numeric = [c for c in COLUMNS if c not in ("kind", "event")]
    frame[numeric] = frame[numeric].apply(pd.to_numeric, errors="coerce")
    return frame.reset_index(drop=True)


def _kept_status(status: dict[str, Any], checkpoint: dict[str, Any]) -> dict[str, Any]:
    """Progress facts worth keeping, as plain numbers; the state is final, never live."""

    state = status.get("state") if status.get("state") in _FINAL_STATES else "stopped"
    kept: dict[str, Any] = {"state": state, "message": "imported from a zip"}
    for key in ("best_test_acc", "elapsed_s", "lr"):
        if (value := finite_or(status.get(key), None)) is not None:
            kept[key] = value
    for key in ("epoch", "step", "epochs", "total_steps"):
        if (value := finite_or(checkpoint.get(key, status.get(key)), None)) is not None:
            kept[key] = int(value)
    return kept
