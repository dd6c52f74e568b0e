"""Home's dataset panel: one short status line per dataset and, for a missing one, exactly what to do."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from rnnlab.data import CLASSES, DATASETS, FILES, FOLDERS, SYSTEM_DIRS, availability

# Packages that install a dataset into its SYSTEM_DIRS folder (Debian and Ubuntu).
APT_PACKAGES = {"fashion-mnist": "dataset-fashion-mnist"}


@dataclass(frozen=True)
class DatasetAdvice:
    """What a person needs to know about one dataset, at a glance and then in detail."""

    name: str
    ready: bool
    status: str  # one short line
    steps: tuple[str, ...]  # markdown, in the order worth trying; empty when ready


def dataset_advice(name: str, data_dir: str | Path) -> DatasetAdvice:
    """Say whether a dataset is here; if not, which files go in which folder, and the other ways in.

    Counts the files already in place, because "2 of 4 files" (the MNIST test set alone, say)
    tells a person far more than "not available".
    """
    found = availability(name, data_dir)
    if found.available:
        return DatasetAdvice(name, True, f"ready · {found.source}", ())
    raw = Path(data_dir).expanduser().resolve() / FOLDERS[name] / "raw"
    present = [f for f in FILES if (raw / f).is_file() or (raw / f"{f}.gz").is_file()]
    missing = [f for f in FILES if f not in present]
    status = f"not here yet · {len(present)} of {len(FILES)} files" if present else "not here yet"
    steps = [
        f"Put {'the missing' if present else 'the four'} IDX files (plain or `.gz`) in `{raw}/`: "
        + ", ".join(f"`{f}`" for f in missing)
        + "."
    ]
    for folder in SYSTEM_DIRS.get(name, ()):
        package = APT_PACKAGES.get(name)
        how = f" (on Debian or Ubuntu: `apt-get install {package}`)" if package else ""
        steps.append(f"Or install them in `{folder}/`{how}; rnnlab looks there too.")
    if os.environ.get("RNNLAB_OFFLINE") == "1":
        steps.append("Automatic download is off here (`RNNLAB_OFFLINE=1`).")
    else:
        steps.append(
            "Or do nothing: on a machine with internet it downloads by itself the first time a run uses it."
        )
    return DatasetAdvice(name, False, status, tuple(steps))


def datasets_panel(data_dir: str | Path) -> None:
    """One line per dataset; an expander with the steps under each missing one."""
    st.caption(
        f"Data folder `{Path(data_dir).expanduser().resolve()}` (set `RNNLAB_DATA_DIR` to use another)."
    )
    for name in DATASETS:
        advice = dataset_advice(name, data_dir)
        classes = ", ".join(CLASSES[name][:3])
        if advice.ready:
            st.markdown(
                f":green[:material/check_circle:] **{name}** · {classes}, …  \n:gray[{advice.status}]"
            )
            continue
        st.markdown(f":orange[:material/downloading:] **{name}** · {classes}, …  \n:orange[{advice.status}]")
        with st.expander(f"How to get {name}", icon=":material/help:"):
            st.markdown("\n".join(f"{i}. {step}" for i, step in enumerate(advice.steps, 1)))
