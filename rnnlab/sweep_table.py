"""A sweep's trials as one table (the Sweep page, the CLI and tests read the same), its best, what mattered.

The score of a trial is its best full test accuracy at an epoch's end: the number the Runs page
shows for the run. A trial stopped early before its first epoch ended has none, and is scored by
its last quick test accuracy, the number early stopping compared. The best trial is the table's
first row.
"""

from __future__ import annotations

import math

import optuna
import pandas as pd
from optuna.trial import TrialState

from rnnlab.lab import Lab
from rnnlab.store import RunNotFound
from rnnlab.sweep import SweepSpec
from rnnlab.values import finite_or

FIXED_COLUMNS = ["trial", "run id", "state", "epoch", "score", "first cut", "stopped at epoch"]
BINS = 3  # a range axis is split into this many equal-count bins to say whether it mattered


def trials_table(study: optuna.Study, spec: SweepSpec, lab: Lab) -> pd.DataFrame:
    """One row per trial with a run, best score first; a trial continued in a later one is shown once."""
    axes = [axis.field for axis in spec.axes]
    latest: dict[str, dict[str, object]] = {}
    trials = study.get_trials(deepcopy=False)
    replaced = {t.user_attrs.get("replaces") for t in trials}
    for trial in trials:
        run_id = trial.user_attrs.get("run_id")
        if not run_id or run_id in replaced:
            continue
        try:
            status = lab.status(run_id)
        except RunNotFound:
            continue  # the run was deleted on the Runs page
        stopped_at = trial.user_attrs.get("stopped_at_epoch")
        row = {
            "trial": trial.number,
            "run id": run_id,
            "state": _state(trial, status.state),
            "epoch": status.epoch,
            "score": finite_or(status.best_test_acc, _quick_score(trial)),
            "first cut": finite_or(trial.user_attrs.get("first_cut"), math.nan),
            "stopped at epoch": finite_or(stopped_at, math.nan),
            **{field: trial.params.get(field) for field in axes},
        }
        if run_id in latest:
            row["trial"] = latest[run_id]["trial"]  # a continued run keeps the index it was started as
        latest[run_id] = row
    table = pd.DataFrame(list(latest.values()), columns=FIXED_COLUMNS + axes)
    return table.sort_values(
        ["score", "trial"], ascending=[False, True], na_position="last", ignore_index=True
    )


def _state(trial: optuna.trial.FrozenTrial, run_state: str) -> str:
    """The run's state, except for a trial pruned, or stopped at a rung to wait for the others."""
    if trial.user_attrs.get("outcome") == "pruned":
        return "pruned"
    waits = trial.state is TrialState.RUNNING and trial.user_attrs.get("waiting_score") is not None
    return "waiting" if waits and run_state == "stopped" else run_state


def _quick_score(trial: optuna.trial.FrozenTrial) -> float:
    """A trial stopped before its first epoch ended has no full test: its last quick test accuracy."""
    if trial.last_step is not None:
        return float(trial.intermediate_values[trial.last_step])
    return finite_or(trial.user_attrs.get("waiting_score"), math.nan)


def best_trial(table: pd.DataFrame) -> pd.Series | None:
    """The first row of the table when it has a score, else None."""
    if table.empty or not math.isfinite(float(table["score"].iloc[0])):
        return None
    return table.iloc[0]


def what_mattered(table: pd.DataFrame, spec: SweepSpec) -> pd.DataFrame:
    """Mean score per value of each axis, and each axis's spread (best mean less worst): larger mattered more.

    With early stopping the trials are compared at the first cut, the one point all of them reached
    (their quick test accuracy there): by final score, the few that went on would make their own
    settings look good for the epochs they were given. A range axis is cut into equal-count bins.
    Rows: axis, value, mean score, trials, spread.
    """
    measure = "first cut" if spec.prune and table["first cut"].notna().any() else "score"
    scored = table.dropna(subset=[measure]).assign(score=lambda t: t[measure])
    rows = []
    for axis in spec.axes:
        if scored.empty:
            break
        column = scored[axis.field]
        if axis.is_range and column.nunique() > BINS:
            column = pd.qcut(column.astype(float), BINS, duplicates="drop").astype(str)
        groups = scored.groupby(column.astype(str))["score"].agg(["mean", "count"])
        spread = float(groups["mean"].max() - groups["mean"].min())
        rows += [
            {
                "axis": axis.field,
                "value": value,
                "mean score": g["mean"],
                "trials": int(g["count"]),
                "spread": spread,
            }
            for value, g in groups.iterrows()
        ]
    frame = pd.DataFrame(rows, columns=["axis", "value", "mean score", "trials", "spread"])
    return frame.sort_values(
        ["spread", "axis", "mean score"], ascending=[False, True, False], ignore_index=True
    )


def curves(table: pd.DataFrame, lab: Lab, top: int = 5) -> pd.DataFrame:
    """Quick test accuracy against epoch of the `top` best trials (long form: trial, epoch, accuracy)."""
    frames = []
    for row in table.head(top).itertuples(index=False):
        metrics = lab.metrics(row[1])
        if metrics.empty or "quick_test_acc" not in metrics:
            continue
        points = metrics.dropna(subset=["quick_test_acc"])[["epoch", "quick_test_acc"]]
        frames.append(points.rename(columns={"quick_test_acc": "accuracy"}).assign(trial=row[0]))
    if not frames:
        return pd.DataFrame(columns=["trial", "epoch", "accuracy"])
    return pd.concat(frames, ignore_index=True)[["trial", "epoch", "accuracy"]]


def best_over_time(table: pd.DataFrame, lab: Lab) -> pd.DataFrame:
    """The best test accuracy so far after each epoch's end of any trial, in seconds since the first.

    An epoch's wall-clock time is its run's creation time plus the training time the row carries.
    """
    points = []
    for run_id in table["run id"]:
        created = pd.to_datetime(lab.store.read_status_or_empty(run_id).get("created_at"), errors="coerce")
        metrics = lab.metrics(run_id)
        if pd.isna(created) or metrics.empty or "test_acc" not in metrics:
            continue
        for row in metrics.query("kind == 'epoch'").itertuples():
            points.append((created.timestamp() + float(row.time), float(row.test_acc)))
    frame = pd.DataFrame(sorted(points), columns=["at", "score"])
    if frame.empty:
        return pd.DataFrame(columns=["seconds", "best"])
    return pd.DataFrame({"seconds": frame["at"] - frame["at"].iloc[0], "best": frame["score"].cummax()})
