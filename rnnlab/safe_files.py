"""Reading files nobody vouches for: regular files only, inside their folder, bounded in size and shape.

A run folder can be written by anyone who shares the runs directory, or arrive inside an imported
zip. One crafted file there (a FIFO, a symlink to /dev/zero or to another user's file, a JSON
document nested 200,000 deep, a 4,000-digit number) must cost a reader one refused file, never a
hang, a crash or another file's contents.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any, BinaryIO

MAX_JSON_BYTES = 2**20  # config.json and status.json are a few hundred bytes
MAX_JSON_DEPTH = 16  # rnnlab writes flat objects (depth 1)
MAX_INT_DIGITS = 24  # any count, step or seed rnnlab keeps fits in far fewer digits
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")


class UnsafeFile(ValueError):
    """A file that is not a plain, bounded file inside its folder; the message says what it is."""


def open_regular(path: Path, root: Path, limit: int) -> BinaryIO:
    """Open `path` for reading if it is a regular file of at most `limit` bytes under `root`.

    A symlink is followed only when its target stays inside `root`; FIFOs, devices, sockets and
    folders are refused without blocking (O_NONBLOCK), and the size is checked on the opened file,
    so the file read is the file checked. A missing file raises FileNotFoundError as open() would.
    """
    target = path
    if path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(Path(root).resolve()):
            raise UnsafeFile(f"{path.name} is a link to a file outside the runs folder")
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(target, flags)
    except OSError as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise UnsafeFile(f"{path.name} cannot be opened: {e.strerror or e}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile(f"{path.name} is not a regular file ({_kind(info.st_mode)})")
        if info.st_size > limit:
            raise UnsafeFile(f"{path.name} is {info.st_size:,} bytes, more than the {limit:,} allowed")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: Path, root: Path, limit: int) -> bytes:
    """The bytes of a file `open_regular` accepts; never more than `limit` even if it grows meanwhile."""
    with open_regular(path, root, limit) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise UnsafeFile(f"{path.name} grew past the {limit:,} bytes allowed while it was read")
    return data


def parse_json(data: bytes, what: str) -> Any:
    """JSON with bounded nesting and bounded integers; ValueError naming `what` for anything else."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{what} is not UTF-8 text") from None
    if _depth(text) > MAX_JSON_DEPTH:
        raise ValueError(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        return json.loads(text, parse_int=_bounded_int)
    except (ValueError, RecursionError) as e:
        raise ValueError(f"{what} is not valid JSON: {str(e)[:200]}") from None


def load_json_file(path: Path, root: Path, limit: int = MAX_JSON_BYTES) -> Any:
    """A small JSON file from a run folder, read with every check above."""
    return parse_json(read_regular(path, root, limit), path.name)


def _depth(text: str) -> int:
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return 0  # too few brackets to be deep: the common case costs two counts
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub('""', text)):
        depth += 1 if match.group() in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"a number of {len(digits):,} digits is longer than any rnnlab value")
    return int(digits)


def _kind(mode: int) -> str:
    for test, word in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return word
    return "not a plain file"
