"""Curve arithmetic shared by every chart and comparison: smoothing a series, thinning it for display."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

MAX_POINTS = 400  # per series: enough for a smooth line, small enough to redraw every few seconds


def downsample(frame: pd.DataFrame, max_points: int = MAX_POINTS) -> pd.DataFrame:
    """At most `max_points` rows of each kind but "epoch" (all kept), evenly spread, ends included.

    Memory and drawing time then stay bounded however long a run lasts, and the latest point
    is always on the chart.
    """
    if max_points < 2:
        raise ValueError(f"max_points={max_points}: keep at least the first and the last point")
    kinds = frame["kind"].to_numpy()
    keep = kinds == "epoch"
    for kind in dict.fromkeys(kinds.tolist()):  # each kind once, in order of appearance
        if kind == "epoch":
            continue
        rows = np.flatnonzero(kinds == kind)
        if len(rows) > max_points:
            rows = rows[np.unique(np.linspace(0, len(rows) - 1, max_points).round().astype(int))]
        keep[rows] = True
    return frame[keep]


def smooth(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's smoothing: an exponential moving average, debiased so the start is not pulled to 0.

    weight 0 returns the values; 0.99 averages over roughly the last hundred.
    """
    if not 0 <= weight < 1:
        raise ValueError(f"smoothing weight={weight!r}: use a value from 0 to below 1")
    if len(values) == 0:
        return np.asarray(values, dtype=float)
    import pandas as pd  # here, not at the top: workers import schedules, which import MAX_POINTS

    # adjust=True divides by the sum of the weights used so far: the debiased EMA.
    return pd.Series(values, dtype=float).ewm(alpha=1 - weight, adjust=True).mean().to_numpy()
