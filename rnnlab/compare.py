"""Comparing runs: filter the runs table, line up configs and curves side by side."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from rnnlab.config import RunConfig
from rnnlab.curves import downsample, smooth
from rnnlab.metrics import COLUMNS

# x axis name -> (metrics column, axis title). "wall time" is training time: pauses are not counted.
X_AXES: dict[str, tuple[str, str]] = {
    "step": ("step", "step"),
    "epoch": ("epoch", "epoch"),
    "wall time": ("time", "training time (s)"),
}
MAX_POINTS = 1000  # per curve: enough for a smooth line, few enough that several runs redraw quickly


# -- the runs table ----------------------------------------------------------------------------
def base_state(table: pd.DataFrame) -> pd.Series:
    """The state word of each row: runs_table writes 'broken: <reason>', filters want 'broken'."""
    return table["state"].astype(str).str.split(":", n=1).str[0]


def filter_runs(
    table: pd.DataFrame,
    *,
    states: Iterable[str] = (),
    datasets: Iterable[str] = (),
    cells: Iterable[str] = (),
    text: str = "",
) -> pd.DataFrame:
    """Rows of `runs_table` that match every filter given; an empty filter keeps everything.

    `text` matches the name or run id, case-insensitively and literally (no regex surprises).
    Broken runs have no dataset or cell, so a dataset or cell filter hides them.
    """
    keep = pd.Series(True, index=table.index)
    if states := list(states):
        keep &= base_state(table).isin(states)
    if datasets := list(datasets):
        keep &= table["dataset"].isin(datasets)
    if cells := list(cells):
        keep &= table["cell"].isin(cells)
    if needle := text.strip().lower():
        names = table["name"].astype(str).str.lower() + " " + table["run id"].astype(str).str.lower()
        keep &= names.str.contains(needle, regex=False)
    return table[keep]


def run_labels(runs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """run id -> a label for legends and table columns: the name, made unique with the id if shared."""
    names = [name for _, name in runs]
    return {run_id: name if names.count(name) == 1 else f"{name} · {run_id}" for run_id, name in runs}


# -- configs side by side ----------------------------------------------------------------------
@dataclass(frozen=True)
class ConfigComparison:
    """Rows are config fields (plus the parameter count), columns are runs, values are display text."""

    table: pd.DataFrame
    differs: pd.Series  # bool per row: the runs do not all agree on this field

    def only_differences(self) -> pd.DataFrame:
        return self.table[self.differs]


def compare_configs(
    configs: Mapping[str, RunConfig],
    parameters: Mapping[str, int],
    extra: Mapping[str, Mapping[str, object]] | None = None,
) -> ConfigComparison:
    """Line up configs (label -> config) so a person sees at once what changed between runs.

    `extra` adds rows after the parameter count (row name -> label -> value): what a run did
    besides its settings, such as its last learning rate. Values are compared as typed values
    (0.001 == 1e-3) and shown as text, so each column of the table has one type however mixed
    the fields are.
    """
    names = [f.name for f in fields(RunConfig)]
    rows = dict(extra or {})
    raw = {
        label: [*config.to_dict().values(), parameters[label], *(rows[r][label] for r in rows)]
        for label, config in configs.items()
    }
    index = pd.Index([*names, "parameters", *rows], name="setting")
    differs = pd.Series(
        [len({values[i] for values in raw.values()}) > 1 for i in range(len(index))], index=index, dtype=bool
    )
    text = {label: [_display(v) for v in values] for label, values in raw.items()}
    return ConfigComparison(pd.DataFrame(text, index=index), differs)


def _display(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# -- curves side by side -----------------------------------------------------------------------
@dataclass(frozen=True)
class Curve:
    """One run's line in an overlay figure; x and y are 1-D and the same length."""

    run_id: str
    label: str
    x: np.ndarray
    y: np.ndarray


def loss_curves(
    metrics: Mapping[str, pd.DataFrame],
    labels: Mapping[str, str],
    x: str = "step",
    smoothing: float = 0.0,
    max_points: int = MAX_POINTS,
) -> list[Curve]:
    """Training loss of each run (run id -> metrics) against x; smoothed on every point, then thinned.

    Smoothing and thinning are the Train page's own (plots.training), so both pages draw alike.
    """
    curves = []
    for run_id, frame in metrics.items():
        rows = _rows(frame, "step", x, "loss")
        rows = downsample(rows.assign(loss=smooth(rows["loss"].to_numpy(), smoothing)), max_points)
        curves.append(Curve(run_id, labels[run_id], rows[X_AXES[x][0]].to_numpy(), rows["loss"].to_numpy()))
    return curves


def accuracy_curves(
    metrics: Mapping[str, pd.DataFrame], labels: Mapping[str, str], x: str = "epoch", split: str = "test"
) -> list[Curve]:
    """Accuracy per completed epoch of each run, on the test set or (split='train') the training set."""
    column = {"test": "test_acc", "train": "train_acc"}.get(split)
    if column is None:
        raise ValueError(f"split={split!r}: choose 'test' or 'train'")
    curves = []
    for run_id, frame in metrics.items():
        rows = _rows(frame, "epoch", x, column)
        curves.append(
            Curve(run_id, labels[run_id], rows[X_AXES[x][0]].to_numpy(dtype=float), rows[column].to_numpy())
        )
    return curves


def _rows(frame: pd.DataFrame, kind: str, x: str, column: str) -> pd.DataFrame:
    """Rows (kind, x, column) of one kind with a finite x, sorted by x; tolerant of empty or partial files."""
    if x not in X_AXES:
        raise ValueError(f"x={x!r}: choose one of {', '.join(X_AXES)}")
    x_column = X_AXES[x][0]
    frame = frame.reindex(columns=COLUMNS)
    picked = frame[frame["kind"] == kind]
    numbers = {c: pd.to_numeric(picked[c], errors="coerce").astype(float) for c in (x_column, column)}
    rows = pd.DataFrame({"kind": picked["kind"], **numbers})
    rows = rows[np.isfinite(rows[x_column]) & rows[column].notna()]
    return rows.sort_values(x_column, kind="stable")
