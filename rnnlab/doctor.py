"""The training doctor: what went wrong in a run, the figures that show it, and fixes as config changes.

`diagnose` is pure: a run's metrics frame (rnnlab/metrics.py, signals from rnnlab/signals.py) and
its config in, a list of diagnoses out, most serious first; a healthy run gets none. Runs written
before the signal columns existed still get the diagnoses their losses and accuracies support.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from rnnlab.config import LIMITS, RunConfig
from rnnlab.data import sequence_shape
from rnnlab.remedies import Fix, clipping, gated, longer, lower_lr, raise_lr, relu_to_tanh

EXPLODING_GRAD_NORM = 100.0  # a gradient norm before clipping above this is exploding
VANISHING_RATIO = 1e-4  # ||dL/dh_1|| / ||dL/dh_T|| below this: the first steps get no signal
EXPLODING_RATIO = 1e4
LOW_UPDATE_RATIO = 1e-4  # steps this small barely move the weights (healthy is about 1e-3)
SATURATED_SHARE = 0.5
DEAD_SHARE = 0.3
OVERFIT_GAP = 0.2
SHORT_RUN_STEPS = 100  # no run on these datasets has converged in fewer steps
LONG_SEQUENCE = 100
ACTIVE = ("queued", "running", "paused")


@dataclass(frozen=True)
class Diagnosis:
    """What went wrong (`code` is stable, `title` and `explanation` are for people)."""

    code: str
    title: str
    explanation: str
    evidence: dict[str, str] = field(default_factory=dict)  # figure name -> value, as shown
    fixes: list[Fix] = field(default_factory=list)  # most likely first, at most three


def diagnose(
    frame: pd.DataFrame, config: RunConfig, state: str = "finished", num_classes: int = 10
) -> list[Diagnosis]:
    """Every diagnosis the run's own signals support, most serious first; [] for a healthy run.

    `state` is the run's state: a diverged run's last loss never reaches its metrics, and a live
    run is not told it stopped too early.
    """
    facts = _Facts(frame, config, state, num_classes)
    found = [d for check in _CHECKS if (d := check(facts)) is not None]
    codes = {d.code for d in found}
    # Training longer would not help a run whose steps are wrong, nor one that already learns by heart.
    if (
        not codes & {"lr_too_low", "lr_too_high", "exploding", "overfitting"}
        and (still := _still_learning(facts)) is not None
    ):
        found.append(still)
    if not found and (stuck := _stuck(facts)) is not None:
        found.append(stuck)
    return found


class _Facts:
    """The figures the checks share, read once from the frame (NaN where a column or row is missing)."""

    def __init__(self, frame: pd.DataFrame, config: RunConfig, state: str, num_classes: int) -> None:
        self.config, self.state, self.num_classes = config, state, num_classes
        self.chance_loss, self.chance_acc = math.log(num_classes), 1.0 / num_classes
        frame = frame if len(frame) else pd.DataFrame(columns=["kind"])
        kind = frame["kind"] if "kind" in frame else pd.Series(dtype=str)
        self.steps = frame[kind == "step"]
        self.epochs = frame[kind == "epoch"]
        losses = self.column(self.steps, "loss")
        self.losses = losses[losses.map(math.isfinite)].tolist() if len(losses) else []
        self.total_steps = int(self.column(frame, "step").max()) if len(frame) and "step" in frame else 0
        self.last_epoch = self.epochs.iloc[-1] if len(self.epochs) else None

    @staticmethod
    def column(rows: pd.DataFrame, name: str) -> pd.Series:
        if name not in rows:
            return pd.Series(dtype=float)
        return pd.to_numeric(rows[name], errors="coerce").dropna()

    def last(self, name: str, rows: int = 3) -> float:
        """Median of the last few recorded values of a step-row signal."""
        values = self.column(self.steps, name).tail(rows)
        return float(values.median()) if len(values) else math.nan

    def epoch_value(self, name: str) -> float:
        values = self.column(self.epochs, name)
        return float(values.iloc[-1]) if len(values) else math.nan

    def smoothed(self, at: str) -> float:
        """Mean of the first or last three interval losses."""
        window = self.losses[:3] if at == "start" else self.losses[-3:]
        return sum(window) / len(window) if window else math.nan

    @property
    def best_test_acc(self) -> float:
        values = self.column(self.epochs, "test_acc")
        return float(values.max()) if len(values) else math.nan


def _figure(value: float, kind: str = "g") -> str:
    if not math.isfinite(value):
        return "–"
    return f"{value:.1%}" if kind == "%" else f"{value:.3g}"


def _exploding(f: _Facts) -> Diagnosis | None:
    grad = f.column(f.steps, "grad_norm")
    peak = float(grad.max()) if len(grad) else math.nan
    ratio = f.epoch_value("grad_ratio_time")
    diverged = f.state == "diverged" or any(not math.isfinite(x) for x in f.column(f.steps, "loss"))
    if not (diverged or peak > EXPLODING_GRAD_NORM or ratio > EXPLODING_RATIO):
        return None
    cfg = f.config
    fixes = [*clipping(cfg), lower_lr(cfg), *relu_to_tanh(cfg)]
    what = "the loss became infinite or NaN" if diverged else "the gradients grew huge"
    return Diagnosis(
        "exploding",
        "Diverged: exploding gradients" if diverged else "Exploding gradients",
        f"Training blew up: {what}. Each step was so large that the next one was larger still.",
        {
            "largest gradient norm (before clipping)": _figure(peak),
            "gradient at step 1 / at the last step": _figure(ratio),
            "learning rate": f"{cfg.lr:g}",
            "gradient clipping": f"{cfg.grad_clip:g}" if cfg.grad_clip else "off",
        },
        fixes[:3],
    )


def _lr_too_high(f: _Facts) -> Diagnosis | None:
    if len(f.losses) < 3:
        return None
    start, end, lowest = f.smoothed("start"), f.smoothed("end"), min(f.losses)
    climbed = end > f.chance_loss * 1.05 or end > start * 1.1  # worse than guessing, or than at the start
    lost_gains = start - lowest > 0.3 and end > lowest + 0.5 * (start - lowest)  # fell, then gave it back
    if not (climbed or lost_gains):
        return None
    return Diagnosis(
        "lr_too_high",
        "Learning rate too high",
        "The loss climbs instead of falling: the steps overshoot, so the network ends worse than it was"
        + (" (worse than guessing)." if climbed else "."),
        {
            "loss at the start": _figure(start),
            "lowest loss": _figure(lowest),
            "loss at the end": _figure(end),
            "update / weight": _figure(f.last("update_ratio", 10)),
        },
        [lower_lr(f.config), *clipping(f.config)][:3],
    )


def _vanishing(f: _Facts) -> Diagnosis | None:
    cfg, ratio = f.config, f.epoch_value("grad_ratio_time")
    long = sequence_shape(cfg.order)[0] >= LONG_SEQUENCE
    if not (cfg.readout == "last" and (long or cfg.cell == "rnn") and ratio < VANISHING_RATIO):
        return None
    if f.best_test_acc >= 0.5:
        return None
    fixes = gated(cfg)
    if long:
        fixes.append(Fix("read rows (28 steps) instead", {"order": "rows"}))
    fixes.append(Fix("read out the mean state", {"readout": "mean"}))
    steps = sequence_shape(cfg.order)[0]
    return Diagnosis(
        "vanishing",
        "Gradients vanish through time",
        f"The gradient shrinks on its way back through {steps} steps, so the first steps of each "
        "sequence teach the network almost nothing.",
        {
            "gradient at step 1 / at the last step": _figure(ratio),
            "sequence length": str(steps),
            "best test accuracy": _figure(f.best_test_acc, "%"),
        },
        fixes[:3],
    )


def _saturated(f: _Facts) -> Diagnosis | None:
    share = f.last("saturated")
    if not share > SATURATED_SHARE:
        return None
    cfg = f.config
    return Diagnosis(
        "saturated",
        "Saturated units",
        "Most tanh/sigmoid units sit at their flat ends, where their gradient is almost zero, so they "
        "have stopped learning.",
        {"saturated units": _figure(share, "%"), "mean |h|": _figure(f.last("hidden_norm"))},
        [lower_lr(cfg), *clipping(cfg), *gated(cfg)][:3],
    )


def _dead_relu(f: _Facts) -> Diagnosis | None:
    share = f.last("dead_relu")
    if not share > DEAD_SHARE:
        return None
    cfg = f.config
    return Diagnosis(
        "dead_relu",
        "Dead ReLU units",
        "Many ReLU units output zero for every image at every step: no gradient reaches them again.",
        {"dead units": _figure(share, "%"), "mean |h|": _figure(f.last("hidden_norm"))},
        [*relu_to_tanh(cfg), lower_lr(cfg), *gated(cfg)][:3],
    )


def _overfitting(f: _Facts) -> Diagnosis | None:
    gap = f.epoch_value("acc_gap")
    if not math.isfinite(gap):  # a run from before the signals: the same figure from its columns
        gap = f.epoch_value("train_acc") - f.epoch_value("test_acc")
    test_loss = f.column(f.epochs, "test_loss")
    rising = len(test_loss) >= 2 and test_loss.iloc[-1] > test_loss.min() * 1.05
    if not (gap > OVERFIT_GAP and rising):
        return None
    cfg = f.config
    fixes = []
    if cfg.train_subset:
        fixes.append(Fix("train on all images", {"train_subset": 0}))
    if cfg.augment == "none":  # shifting is safe for every dataset; mirroring suits clothes only
        fixes.append(Fix("augment: shift the images", {"augment": "shift"}))
    fixes.append(
        Fix(
            f"weight decay {max(cfg.weight_decay * 10, 1e-4):g}",
            {"weight_decay": max(cfg.weight_decay * 10, 1e-4)},
        )
    )
    best_epoch = int(f.epochs.iloc[int(test_loss.values.argmin())]["epoch"]) if len(test_loss) else cfg.epochs
    if 1 <= best_epoch < cfg.epochs:
        fixes.append(Fix(f"stop at epoch {best_epoch}", {"epochs": best_epoch}))
    return Diagnosis(
        "overfitting",
        "Overfitting",
        "The network learns the training images by heart: train accuracy is well above test accuracy "
        "and the test loss is rising.",
        {
            "train accuracy": _figure(f.epoch_value("train_acc"), "%"),
            "test accuracy": _figure(f.epoch_value("test_acc"), "%"),
            "lowest test loss": _figure(float(test_loss.min())),
            "test loss at the end": _figure(float(test_loss.iloc[-1])),
        },
        fixes[:3],
    )


def _lr_too_low(f: _Facts) -> Diagnosis | None:
    ratio = f.last("update_ratio", 10)
    if not ratio < LOW_UPDATE_RATIO or len(f.losses) < 2:
        return None
    start, end = f.smoothed("start"), f.smoothed("end")
    if start - end > 0.1 * start:
        return None
    cfg = f.config
    fixes = [raise_lr(cfg, 10)]
    if cfg.optimizer in ("sgd", "momentum"):
        fixes.append(Fix("Adam at lr 0.001", {"optimizer": "adam", "lr": 1e-3}))
    return Diagnosis(
        "lr_too_low",
        "Learning rate too low",
        "Each step moves the weights by a tiny fraction, so the loss hardly changes.",
        {
            "update / weight": _figure(ratio),
            "loss at the start": _figure(start),
            "loss at the end": _figure(end),
        },
        fixes[:3],
    )


def _still_learning(f: _Facts) -> Diagnosis | None:
    if f.state in ACTIVE or len(f.losses) < 1:
        return None
    slopes = f.column(f.steps, "loss_slope")
    slope = float(slopes.iloc[-1]) if len(slopes) else math.nan
    if not math.isfinite(slope) and len(f.losses) >= 3:  # an older run: the trend of its interval losses
        slope = (f.losses[-1] - f.losses[0]) / max(f.total_steps, 1)
    end = f.smoothed("end")
    if not (slope < 0 and end > 0.1):
        return None
    projected = -slope * f.total_steps  # what as many steps again would take off, were the trend to hold
    falling = len(slopes) < 3 or bool((slopes.tail(3) < 0).all())
    if not (f.total_steps < SHORT_RUN_STEPS or (projected > 0.1 * end and falling)):
        return None
    cfg = f.config
    fixes = [longer(cfg)]
    if f.last("update_ratio", 10) < 3e-3 or not math.isfinite(f.last("update_ratio")):
        fixes.append(raise_lr(cfg, 3))
    if cfg.train_subset:
        fixes.append(Fix("train on all images", {"train_subset": 0}))
    return Diagnosis(
        "still_learning",
        "Still learning when it stopped",
        f"The loss was still falling after {f.total_steps:,} steps: the run ended before the network "
        "finished learning. Train longer, or take bigger steps.",
        {
            "steps trained": f"{f.total_steps:,}",
            "loss at the end": _figure(end),
            "loss slope (per 100 steps)": _figure(slope * 100),
            "best test accuracy": _figure(f.best_test_acc, "%"),
        },
        fixes[:3],
    )


def _stuck(f: _Facts) -> Diagnosis | None:
    best = f.best_test_acc
    if f.state in ACTIVE or not best < 1.5 * f.chance_acc:
        return None
    cfg = f.config
    fixes = [*gated(cfg)]
    if cfg.optimizer != "adam":
        fixes.append(Fix("Adam at lr 0.001", {"optimizer": "adam", "lr": 1e-3}))
    if cfg.hidden_size * 4 <= LIMITS["hidden_size"][1]:
        fixes.append(
            Fix(
                f"hidden size {cfg.hidden_size} to {cfg.hidden_size * 4}",
                {"hidden_size": cfg.hidden_size * 4},
            )
        )
    fixes.append(longer(cfg))
    return Diagnosis(
        "stuck",
        "Stuck at chance",
        f"Test accuracy stayed at chance ({best:.1%}, where guessing gives {f.chance_acc:.0%}) although "
        "no gradient, step-size or unit problem shows: the network did not find the signal.",
        {
            "best test accuracy": _figure(best, "%"),
            "loss at the end": _figure(f.smoothed("end")),
            "chance loss": _figure(f.chance_loss),
        },
        fixes[:3],
    )


_CHECKS = (_exploding, _lr_too_high, _vanishing, _saturated, _dead_relu, _overfitting, _lr_too_low)


def report(diagnoses: list[Diagnosis]) -> str:
    """The diagnoses as plain text, for the CLI."""
    if not diagnoses:
        return "doctor: no problems found; the run looks healthy."
    lines = []
    for n, d in enumerate(diagnoses, 1):
        lines.append(f"{n}. {d.title}: {d.explanation}")
        lines += [f"     {name}: {value}" for name, value in d.evidence.items()]
        lines += [
            f"     fix: {fix.label}  ({', '.join(f'{k}={v}' for k, v in fix.changes.items())})"
            for fix in d.fixes
        ]
    return "\n".join(lines)
