"""Successive halving as first written (Jamieson and Talwalkar, 2016): where trials are compared, who goes on.

Why not Optuna's SuccessiveHalvingPruner (or Ray Tune's ASHA): it decides the moment a trial
reaches a rung, against the trials that happen to have got there already, because Optuna cannot
suspend a trial (its source says so); so the first trials to arrive go on against one or two
rivals. In bench/sweep.py's 12-trial grid it sent 4 trials to the end where the rule keeps 1 or
2, and which ones went on depended on timing. rnnlab can suspend a trial: its run stops with its
weights saved and later continues from that checkpoint at the batch it stopped at. So trials wait
at a rung until every trial still in the sweep has reached it, and the best third of them go on.
"""

from __future__ import annotations

import math

# Each rung keeps the best third of the trials that reached it: the eta of Hyperband's and ASHA's
# papers. Halving (2) keeps so many trials that a sweep of a few epochs saves little time.
REDUCTION_FACTOR = 3
# Rungs below a trial's whole budget, as in successive halving's most aggressive bracket: a trial is
# judged after a ninth and a third of its epochs, so a sweep of 3-epoch trials has its first cut
# after a third of an epoch rather than after a whole one that leaves little of the budget to save.
RUNGS_BELOW_BUDGET = 2


def rung_epochs(epochs: int) -> tuple[float, ...]:
    """The epoch progress at which trials are compared, lowest first: epochs/9 and epochs/3."""
    return tuple(epochs / REDUCTION_FACTOR**k for k in range(RUNGS_BELOW_BUDGET, 0, -1))


def going_on(scores: dict[int, float]) -> set[int]:
    """The trials (by number) that go on from a rung: the best third of those there, at least one.

    A score that is not a number (a trial whose loss diverged) ranks last; a tie goes to the trial
    started first, so the same scores always give the same answer.
    """
    keep = max(1, len(scores) // REDUCTION_FACTOR)
    ranked = sorted(scores, key=lambda n: (-scores[n] if math.isfinite(scores[n]) else math.inf, n))
    return set(ranked[:keep])
