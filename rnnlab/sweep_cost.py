"""What a sweep will cost before it starts: trials x epochs x seconds per epoch measured on this machine."""

from __future__ import annotations

import statistics
from collections.abc import Callable

from rnnlab.cost import DATASET_SIZES, Speed, estimate
from rnnlab.sweep import SweepSpec, corner_points

MAX_POINTS = 64  # settings costed to stand for the sweep: its grid, or its ranges' ends with the lists


def sweep_seconds(
    spec: SweepSpec, speed_of: Callable[[str], Speed], parallel: int, sizes: tuple[int, int] = DATASET_SIZES
) -> float:
    """Seconds until the last trial ends if every trial trains all its epochs (early stopping cuts it).

    `speed_of(cell)` is this machine's measured speed for a cell; the mean epoch of the sweep's
    corner points stands for a trial's, and `parallel` trials train at once.
    """
    configs = [spec.trial_config(point) for point in corner_points(spec, MAX_POINTS)]
    epoch_s = statistics.fmean(estimate(c, speed_of(c.cell), *sizes).epoch_s for c in configs)
    return epoch_s * spec.epochs * spec.trials / max(1, parallel)
