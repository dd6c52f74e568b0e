"""RunConfig: the one description of a training run, validated once and saved with every run."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, fields
from typing import Any

from rnnlab.values import is_number

DATASETS = ("mnist", "fashion-mnist", "kmnist")
ORDERS = ("rows", "row-pairs", "columns", "pixels", "permuted")
CELLS = ("rnn", "lstm", "gru")
NONLINEARITIES = ("tanh", "relu")
READOUTS = ("last", "mean", "all")
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "rmsprop")
DEVICES = ("auto", "cpu", "cuda", "mps")
SCHEDULES = ("constant", "one-cycle", "cosine", "step")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
AUGMENTS = ("none", "shift", "flip", "flip-shift")
# What a config saved before `precision` existed trained with: continuing it must not change that.
LEGACY_PRECISION = "fp32"

# Numeric fields: (minimum, maximum), both inclusive.
LIMITS: dict[str, tuple[float, float]] = {
    "hidden_size": (1, 1024),
    "num_layers": (1, 4),
    "dropout": (0.0, 0.9),
    "lr": (1e-6, 10.0),
    "warmup": (0.0, 0.9),
    "decay_every": (1, 1000),
    "decay_factor": (0.01, 1.0),
    "weight_decay": (0.0, 1.0),
    "batch_size": (1, 4096),
    "epochs": (1, 1000),
    "grad_clip": (0.0, 1000.0),
    "train_subset": (0, 10_000_000),
    "seed": (0, 2**31 - 1),
    "log_every": (1, 10_000),
    "eval_every": (0, 1_000_000),
    "eval_subset": (10, 100_000),
}
CHOICES: dict[str, tuple[str, ...]] = {
    "dataset": DATASETS,
    "order": ORDERS,
    "cell": CELLS,
    "nonlinearity": NONLINEARITIES,
    "readout": READOUTS,
    "optimizer": OPTIMIZERS,
    "schedule": SCHEDULES,
    "device": DEVICES,
    "precision": PRECISIONS,
    "augment": AUGMENTS,
}


@dataclass(frozen=True)
class OrderWords:
    """How every page speaks of one sequence order, so that a new order is worded in one place."""

    steps: str  # what the steps read, plural: "After 5 rows"
    step: str  # one of them: "row 5 of 28"
    name: str  # the order itself, in a run's one-line description: "by permuted pixels"
    choice: str  # the Train form's option, with the sequence's shape
    reading: str  # how the network reads a drawing: "reads your drawing row by row"


ORDER_WORDS: dict[str, OrderWords] = {
    "rows": OrderWords("rows", "row", "rows", "rows: 28 steps of 28 pixels", "row by row, top to bottom"),
    "row-pairs": OrderWords(
        "row pairs",
        "row pair",
        "row pairs",
        "row pairs: 14 steps of 56 pixels",
        "two rows at a time, top to bottom",
    ),
    "columns": OrderWords(
        "columns", "column", "columns", "columns: 28 steps of 28 pixels", "column by column, left to right"
    ),
    "pixels": OrderWords("pixels", "pixel", "pixels", "pixels: 784 steps of 1 pixel", "pixel by pixel"),
    "permuted": OrderWords(
        "pixels",
        "pixel",
        "permuted pixels",
        "permuted pixels: 784 steps of 1",
        "pixel by pixel, in a fixed shuffled order",
    ),
}


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides what a run learns, plus how often it reports.

    The defaults are a quick, strong start: the tutorials' row-by-row LSTM with Adam, at a rate and
    batch size that learn visibly in the first seconds, with a quick test every 25 steps so that a
    first run shows its accuracy climbing within half a minute on a 2-core CPU.
    `grad_clip` 0 means no clipping; `train_subset` 0 means the whole training set;
    `eval_every` 0 turns off the quick test-subset accuracy between epochs. `lr` is the peak of
    the learning-rate `schedule` (rnnlab/schedules.py); `warmup` applies to one-cycle and cosine,
    `decay_every` and `decay_factor` to step decay, and each is ignored by the other schedules.
    """

    dataset: str = "mnist"
    order: str = "rows"
    cell: str = "lstm"
    nonlinearity: str = "tanh"
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    readout: str = "last"
    optimizer: str = "adam"
    lr: float = 3e-3
    schedule: str = "constant"
    warmup: float = 0.1
    decay_every: int = 1
    decay_factor: float = 0.5
    weight_decay: float = 0.0
    batch_size: int = 64
    epochs: int = 2
    grad_clip: float = 0.0
    augment: str = "none"
    train_subset: int = 0
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    log_every: int = 20
    eval_every: int = 25
    eval_subset: int = 1000

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            _check_type(f.name, f.type, value)
            if f.name in LIMITS:
                low, high = LIMITS[f.name]
                # Compared before any float(): an int of 400 digits is out of range, not an OverflowError.
                if not (low <= value <= high) or (isinstance(value, float) and not math.isfinite(value)):
                    allowed = f"allowed: {low:g} to {high:g}"
                    raise ValueError(f"{f.name}={_shown(value)} is out of range; {allowed}")
            if f.type == "float":
                value = float(value)
                object.__setattr__(self, f.name, value)  # 1 and 1.0 are the same config
            if f.name in CHOICES and value not in CHOICES[f.name]:
                allowed = ", ".join(CHOICES[f.name])
                raise ValueError(f"{f.name}={_shown(value)} is not allowed; choose one of: {allowed}")
        if self.cell != "rnn" and self.nonlinearity != "tanh":
            raise ValueError(
                f"nonlinearity={self.nonlinearity!r} applies only to cell='rnn'; "
                f"{self.cell.upper()} cells use their own gates (use nonlinearity='tanh')"
            )
        if self.dropout > 0 and self.num_layers == 1:
            raise ValueError(
                f"dropout={self.dropout:g} acts between stacked layers; "
                "with num_layers=1 set dropout to 0 or use 2+ layers"
            )

        if self.schedule == "step" and self.decay_every >= self.epochs:
            raise ValueError(
                f"decay_every={self.decay_every} epochs is not shorter than the run (epochs={self.epochs}), "
                "so the step schedule would never lower the learning rate; use fewer epochs between "
                "decays or more epochs"
            )

    @property
    def cell_label(self) -> str:
        """The cell in one word: rnn-tanh, rnn-relu, lstm or gru (tables, names, filters)."""
        return f"rnn-{self.nonlinearity}" if self.cell == "rnn" else self.cell

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with some fields changed, validated like a new config."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """Build from a mapping; unknown keys are an error, so a typo never passes silently."""
        if not isinstance(data, dict):
            raise ValueError(f"a run config must be a JSON object, not {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown config field(s): {', '.join(map(str, unknown))}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        """Read a saved config.json; one saved before `precision` existed trained in fp32 and stays so."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"config is not valid JSON: {e}") from None
        if isinstance(data, dict) and "precision" not in data:
            data = {**data, "precision": LEGACY_PRECISION}
        return cls.from_dict(data)


def _check_type(name: str, annotation: str, value: Any) -> None:
    """Reject wrong types with a readable message (JSON and URLs hand us anything)."""
    if annotation == "bool":
        ok = isinstance(value, bool)
    elif annotation == "int":
        ok = isinstance(value, int) and is_number(value)
    elif annotation == "float":
        ok = is_number(value)
    else:
        ok = isinstance(value, str)
    if not ok:
        raise ValueError(f"{name}={_shown(value)} must be of type {annotation}")


def _shown(value: Any) -> str:
    """A value for an error message: its repr, cut short (a 400-digit number is not worth a screen)."""
    if isinstance(value, int) and value.bit_length() > 200:  # str() of a huge int is slow or refused
        return f"{'-' if value < 0 else ''}an integer of {int(value.bit_length() * 0.30103) + 1} digits"
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


# What each knob does, in words for a learner: the CLI's --help and the Train page's tooltips.
HELP: dict[str, str] = {
    "dataset": "Which images to learn: MNIST handwritten digits, Fashion-MNIST clothing photos, "
    "or KMNIST cursive Japanese characters. All are 28x28 grey images in 10 classes.",
    "order": "How an image becomes a sequence. rows: 28 steps of 28 pixels, top to bottom (the classic "
    "tutorials' view). row-pairs: 14 steps of 56 pixels, two rows at a time, top to bottom: half the "
    "steps, so an epoch trains about twice as fast. columns: 28 steps, left to right. pixels: 784 "
    "steps of one pixel, a hard long-memory task. permuted: the same 784 pixels in a fixed shuffled "
    "order, so nearby steps are no longer nearby pixels.",
    "cell": "The recurrent unit. rnn: one tanh/ReLU layer, simple but forgets over long sequences "
    "(vanishing gradients). lstm: input, forget and output gates around a cell state that carries "
    "memory. gru: reset and update gates, fewer parameters than an LSTM, similar memory.",
    "nonlinearity": "Plain RNN only. tanh squashes the state into [-1, 1] and trains stably; ReLU keeps "
    "gradients alive longer but the state can grow without bound, so it diverges more easily "
    "(use a smaller learning rate or gradient clipping).",
    "hidden_size": "Units in the hidden state h_t: the network's memory. More units learn more but "
    "train slower (1 to 1024).",
    "num_layers": "Recurrent layers stacked: each layer reads the sequence of states of the layer "
    "below (1 to 4).",
    "bidirectional": "Also read the sequence backwards (bottom row first) and combine both directions. "
    "Doubles the state size and the cost.",
    "dropout": "Fraction of activations zeroed between stacked layers while training, against "
    "overfitting (0 to 0.9; needs 2+ layers).",
    "readout": "What the classifier sees. last: the final hidden state (the network must remember the "
    "whole image). mean: the average state over all steps. all: every step's state concatenated "
    "into one long vector, as one classic tutorial does with Linear(hidden*28, 10).",
    "optimizer": "How weights are updated. sgd: plain gradient steps. momentum: SGD with momentum 0.9. "
    "adam / adamw: per-weight adaptive steps (a good default at lr 1e-3). rmsprop: adaptive steps "
    "without momentum.",
    "lr": "Learning rate: the step size of each update (1e-6 to 10). Too high and the loss explodes; "
    "too low and nothing moves. Adam likes about 1e-3, SGD about 0.01 to 0.1. With a schedule other than "
    "constant, this is the schedule's peak.",
    "schedule": "How the learning rate moves during the run; the rate above is its peak. constant: "
    "the same rate at every step. one-cycle: rises from lr/25 to lr over the warm-up, then falls "
    "along a cosine to almost 0 (often the fastest way to a good network). cosine: rises linearly "
    "from near 0 to lr over the warm-up, then falls along a half cosine to near 0 at the last step. "
    "step: multiplies the rate by the decay factor every few epochs. A rate set by hand while the run "
    "trains rescales the rest of the schedule by the same ratio.",
    "warmup": "Fraction of all steps (0 to 0.9) spent rising to the peak learning rate, for the "
    "one-cycle and cosine schedules (ignored by the others). A short warm-up keeps the first, "
    "noisy steps from throwing the weights far off.",
    "decay_every": "Step schedule only: lower the learning rate after every this many epochs "
    "(1 to 1000, fewer than the run's epochs).",
    "decay_factor": "Step schedule only: what each decay multiplies the learning rate by "
    "(0.01 to 1; 0.5 halves it).",
    "weight_decay": "L2 penalty on the weights (0 to 1), which keeps them small and can reduce overfitting.",
    "batch_size": "Images per training step (1 to 4096). Larger batches are faster per image and smoother, "
    "smaller ones give more updates per epoch.",
    "epochs": "Passes over the training set (1 to 1000).",
    "grad_clip": "If above 0, rescale gradients whose total norm exceeds this value before each step: "
    "the standard cure for exploding gradients in RNNs. 0 turns clipping off.",
    "augment": "Show the network a new view of each training image every epoch, against overfitting. "
    "shift: move it up to 2 pixels in each direction. flip: mirror half the images left to right "
    "(right for clothes; it turns digits into other shapes). flip-shift: both. Test images are "
    "never changed.",
    "train_subset": "Train on only this many training images (a fixed random subset), for quick "
    "exploration. 0 uses them all.",
    "seed": "Fixes the initial weights and the order of the training data, so two runs that differ in "
    "one setting compare like with like.",
    "device": "Where to train. auto picks a CUDA GPU, then Apple MPS, then the CPU.",
    "precision": "Number format of the training step. auto: bf16 where this machine computes it "
    "natively (CPUs with AVX512-BF16 or AMX, most CUDA GPUs; fp16 on older GPUs), fp32 elsewhere. "
    "bf16 / fp16: the step in 16 bits, about 1.5x faster where the hardware has it; weights, optimizer "
    "state and test accuracy stay fp32. On a CPU without bf16 instructions only the readout can run in "
    "16 bits (the recurrent layers stay fp32), so there it gains nothing. fp32: full precision.",
    "log_every": "Record the mean training loss, learning rate and speed every this many steps.",
    "eval_every": "Measure accuracy on a fixed test subset every this many steps, so the accuracy "
    "chart moves before an epoch ends. 0 turns it off.",
    "eval_subset": "How many test images the quick accuracy uses (10 to 100000).",
}
