"""A cache of parsed IDX files, memory-mapped: a worker's first run skips gunzip (about 1 s per dataset).

Each gzipped IDX file is parsed once per version (its path, size and modification time name the
cache entry) into raw uint8 bytes plus a small JSON of its shape, under $RNNLAB_CACHE_DIR (else
$XDG_CACHE_HOME/rnnlab, else ~/.cache/rnnlab). Later loads map that file copy-on-write: no parse,
no copy until something writes, and the source files are never touched. A cache that cannot be
written or read is skipped, never an error.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable
from pathlib import Path

import torch


def cache_dir() -> Path:
    if os.environ.get("RNNLAB_CACHE_DIR"):
        return Path(os.environ["RNNLAB_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rnnlab"


def cached_idx(path: Path, parse: Callable[[Path], torch.Tensor]) -> torch.Tensor:
    """`parse(path)`, from the cache when this version of a gzipped file was parsed before."""
    if not path.name.endswith(".gz"):
        return parse(path)  # an unpacked file already reads at disk speed
    try:
        stat = path.stat()
        key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:24]
    except OSError:
        return parse(path)
    data, meta = cache_dir() / f"{key}.u8", cache_dir() / f"{key}.json"
    mapped = _load(data, meta)
    if mapped is not None:
        return mapped
    tensor = parse(path)
    if tensor.dtype == torch.uint8:
        _store(tensor, data, meta)
    return tensor


def _load(data: Path, meta: Path) -> torch.Tensor | None:
    try:
        shape = json.loads(meta.read_text(encoding="utf-8"))["shape"]
        size = math.prod(shape)
        if not all(isinstance(n, int) and n >= 0 for n in shape) or data.stat().st_size != size:
            return None
        return torch.from_file(str(data), shared=False, size=size, dtype=torch.uint8).view(shape)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError):
        return None


def _store(tensor: torch.Tensor, data: Path, meta: Path) -> None:
    """Write the bytes, then the shape: an entry without its JSON is never read."""
    try:
        data.parent.mkdir(parents=True, exist_ok=True)
        tmp = data.with_name(f".{data.name}.{os.getpid()}.tmp")
        tmp.write_bytes(tensor.contiguous().numpy().tobytes())
        os.replace(tmp, data)
        tmp = meta.with_name(f".{meta.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"shape": list(tensor.shape)}), encoding="utf-8")
        os.replace(tmp, meta)
    except OSError:
        return
