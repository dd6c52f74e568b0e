"""Whether a dataset is on this machine and, if not, exactly how to get it: said before any click."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rnnlab.data import (
    APT_PACKAGES,
    FILES,
    SYSTEM_DIRS,
    find_file,
    find_source,
    idx_count,
    missing_message,
    offline,
    raw_dir,
)


@dataclass(frozen=True)
class Availability:
    """What the pages tell a person about one dataset before anything is loaded."""

    name: str
    available: bool
    source: str | None  # the folder the files are read from, when available
    message: str  # one paragraph: where it was found, or what is missing and where it belongs
    status: str  # one short line: "ready · <folder>" or "not here yet · 2 of 4 files"
    steps: tuple[str, ...]  # markdown steps to get it, best first; empty when available
    images: tuple[int, int] | None = None  # (train, test) images in the files found, when available


def availability(name: str, data_dir: str | Path | None = None) -> Availability:
    """Look on disk only (never download) and say what to do, counting files already in place.

    "2 of 4 files" (the MNIST test set alone, say) tells a person far more than "not available".
    """
    folder = find_source(name, data_dir)
    if folder is not None:
        found = f"Found in {folder}."
        return Availability(name, True, str(folder), found, f"ready · {folder}", (), _sizes(folder))
    raw = raw_dir(name, data_dir)
    present = [f for f in FILES if (raw / f).is_file() or (raw / f"{f}.gz").is_file()]
    missing = [f for f in FILES if f not in present]
    status = f"not here yet · {len(present)} of {len(FILES)} files" if present else "not here yet"
    message = missing_message(name, raw.parent.parent)
    if not offline():
        message = f"Downloads automatically on first use when online. {message}"
    return Availability(name, False, None, message, status, _steps(name, raw, present, missing))


def _steps(name: str, raw: Path, present: list[str], missing: list[str]) -> tuple[str, ...]:
    steps = [
        f"Put {'the missing' if present else 'the four'} IDX files (plain or `.gz`) in `{raw}/`: "
        + ", ".join(f"`{f}`" for f in missing)
        + "."
    ]
    for folder in SYSTEM_DIRS.get(name, ()):
        package = APT_PACKAGES.get(name)
        how = f" (on Debian or Ubuntu: `apt-get install {package}`)" if package else ""
        steps.append(f"Or install them in `{folder}/`{how}; rnnlab looks there too.")
    if offline():
        steps.append("Automatic download is off here (`RNNLAB_OFFLINE=1`).")
    else:
        steps.append(
            "Or do nothing: on a machine with internet it downloads by itself the first time a run uses it."
        )
    return tuple(steps)


def _sizes(folder: Path) -> tuple[int, int] | None:
    """(train, test) image counts from the files' headers: a few bytes each, read on every page run."""
    train, test = (find_file(folder, file) for file in (FILES[0], FILES[2]))
    counts = (idx_count(train) if train else None, idx_count(test) if test else None)
    return (counts[0], counts[1]) if None not in counts else None
