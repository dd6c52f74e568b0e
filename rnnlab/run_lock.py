"""Locks between the processes sharing a runs folder: status read-modify-write, and temp-file ownership.

The server, its workers and CLI runs may all write one run's status.json. A write is "read the
record, change some keys, write it back"; without a lock across processes, a rename in one
process and the final "finished" in another each start from the same old record and the later
one undoes the other. `folder_lock` serialises those writes with an advisory `flock` on a lock
file in the run folder (threads of one process included: each lock opens its own descriptor).

Temp files of atomic writes are flocked by their writer for as long as it writes, so a temp
file whose lock can be taken was left by a writer that died (a kill during a checkpoint write)
and can be removed; one still being written is never touched.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = ".status.lock"
TEMP_SUFFIX = ".tmp"


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold the run folder's lock (blocking) for a read-modify-write of its status."""
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def claim_temp(fd: int) -> None:
    """Mark a fresh temp file as being written by this process (until `fd` is closed)."""
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def remove_stale_temp_files(root: Path) -> list[Path]:
    """Delete the temp files that writers which died left in run folders; returns what was removed."""
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for path in root.glob(f"*/.*{TEMP_SUFFIX}"):
        if path.is_symlink() or not path.is_file() or path.parent.is_symlink():
            continue
        with contextlib.suppress(OSError):
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a live writer holds it: skip
            except BlockingIOError:
                continue
            finally:
                os.close(fd)
            path.unlink()
            removed.append(path)
    return removed


def overwrite_in_place(path: Path, text: str) -> None:
    """Rewrite an existing small file in place: the fallback when a full disk refuses a new temp file.

    Truncating frees the file's blocks and the new text reuses them, so a status update that a
    full disk would otherwise drop (leaving "running" on disk for a run that ended) still lands.
    Not atomic; only used after the atomic write has failed.
    """
    with open(path, "r+", encoding="utf-8") as f:
        f.truncate(0)
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
