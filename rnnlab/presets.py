"""Named starting points: the classic tutorials' setups and a few strong ones, as RunConfig values."""

from __future__ import annotations

from dataclasses import dataclass

from rnnlab.config import RunConfig


@dataclass(frozen=True)
class Preset:
    """A RunConfig with a title for menus, one line on why a person would pick it, and what it was
    measured to reach: `claim` holds only figures that bench/time_to_accuracy.py printed, with the
    machine, and stays empty for a preset that benchmark has not measured."""

    key: str
    title: str
    description: str
    config: RunConfig
    claim: str = ""


# The time-to-accuracy presets share one recipe: an LSTM of 128 units, Adam at a high peak rate
# under a schedule, batch 128 and gradient clipping at 1 (which a peak of 1e-2 needs).
_FAST_LSTM = RunConfig(
    dataset="fashion-mnist",
    cell="lstm",
    hidden_size=128,
    optimizer="adam",
    lr=1e-2,
    batch_size=128,
    grad_clip=1.0,
    log_every=20,
    eval_every=100,
)

_PRESETS = (
    Preset(
        "fashion-fast",
        "Fashion-MNIST, fast",
        "The quickest way to a strong clothing classifier: LSTM-128 reading all 28 row states, Adam "
        "peaking at 0.01 on a cosine schedule with a 5% warm-up, clipped at 1, for 10 epochs.",
        _FAST_LSTM.replace(readout="all", schedule="cosine", warmup=0.05, epochs=10),
        claim="90.0% test 90 s after launch, 90.8% after its 10 epochs (146 s), whole process, fp32 on a "
        "2-core x86 CPU (bench/time_to_accuracy.py, 2026-12-02)",
    ),
    Preset(
        "fashion-best",
        "Fashion-MNIST, best",
        "The most accurate recipe measured here: a bidirectional GRU-128 reading all 14 row pairs, on "
        "clothes mirrored at random, Adam on a one-cycle schedule peaking at 0.005, for 13 epochs.",
        _FAST_LSTM.replace(
            order="row-pairs",
            cell="gru",
            bidirectional=True,
            readout="all",
            augment="flip",
            lr=5e-3,
            schedule="one-cycle",
            warmup=0.25,
            epochs=13,
            eval_every=200,
        ),
        claim="91.0% test 202 s after launch, 91.3% after its 13 epochs (238 s), whole process, fp32 on a "
        "2-core x86 CPU (bench/time_to_accuracy.py, 2026-12-02)",
    ),
    Preset(
        "digits-fast",
        "Digits, fast",
        "Handwritten digits fast: LSTM-128 on 8,000 training digits, batch 64, Adam on a one-cycle "
        "schedule peaking at 0.003, clipped at 1, for 10 epochs.",
        _FAST_LSTM.replace(
            dataset="mnist",
            lr=3e-3,
            batch_size=64,
            schedule="one-cycle",
            warmup=0.3,
            epochs=10,
            train_subset=8000,
            eval_every=50,
        ),
        claim="97.3% test 20 s after launch, 97.4% after its 10 epochs (24 s), on the MNIST test set split "
        "8,000 train / 2,000 test, whole process, fp32 on a 2-core x86 CPU (bench/time_to_accuracy.py, "
        "2026-12-02)",
    ),
    Preset(
        "tutorial-rnn",
        "Tutorial RNN (ReLU, SGD)",
        "The classic first RNN: 100 ReLU units read 28 rows, SGD at lr 0.1, batch 100, "
        "the last state classifies.",
        RunConfig(
            cell="rnn",
            nonlinearity="relu",
            hidden_size=100,
            optimizer="sgd",
            lr=0.1,
            batch_size=100,
            epochs=5,
        ),
    ),
    Preset(
        "tutorial-rnn-all-steps",
        "Tutorial 2-layer RNN, all steps",
        "Two stacked tanh RNN layers of 256 units; every step's state feeds one Linear(256*28, 10), "
        "trained with Adam.",
        RunConfig(
            cell="rnn",
            hidden_size=256,
            num_layers=2,
            readout="all",
            optimizer="adam",
            lr=1e-3,
            batch_size=100,
            epochs=2,
        ),
    ),
    Preset(
        "tutorial-lstm",
        "Tutorial LSTM",
        "One LSTM layer of 128 units with Adam at lr 0.001, batch 100: the tutorials' reliable digit reader.",
        RunConfig(cell="lstm", hidden_size=128, optimizer="adam", lr=1e-3, batch_size=100, epochs=2),
    ),
    Preset(
        "strong-gru",
        "Strong 2-layer GRU",
        "Two GRU layers of 128 with light dropout, Adam and gradient clipping at 1: a stable, "
        "strong recurrent baseline for 5 epochs.",
        RunConfig(
            cell="gru",
            hidden_size=128,
            num_layers=2,
            dropout=0.1,
            optimizer="adam",
            lr=1e-3,
            batch_size=128,
            epochs=5,
            grad_clip=1.0,
        ),
    ),
    Preset(
        "pixel-mnist",
        "Pixel-by-pixel sequential MNIST",
        "The long-memory benchmark: 784 steps of one pixel each. An LSTM with clipping and a small "
        "learning rate; 28 times the steps of reading rows, so slow on a CPU: a task for a GPU.",
        RunConfig(
            order="pixels",
            cell="lstm",
            hidden_size=128,
            optimizer="adam",
            lr=5e-4,
            batch_size=128,
            epochs=10,
            grad_clip=1.0,
            log_every=10,
            eval_every=50,
            eval_subset=500,
        ),
    ),
    Preset(
        "quick-digits",
        "Quick digits",
        "A small LSTM (64 units) on 6,000 training digits for 2 epochs: enough to read most digits, "
        "fast enough to watch.",
        RunConfig(
            cell="lstm",
            hidden_size=64,
            optimizer="adam",
            lr=2e-3,
            batch_size=64,
            epochs=2,
            train_subset=6000,
            log_every=10,
            eval_every=50,
            eval_subset=500,
        ),
    ),
)

PRESETS: dict[str, Preset] = {preset.key: preset for preset in _PRESETS}
QUICK_DIGITS = PRESETS["quick-digits"]  # what other pages offer as one-click training
QUICK_DIGITS_NAME = "quick digits"  # the run name of that one click, so pages can find its runs


def matching_preset(config: RunConfig) -> Preset | None:
    """The preset this config equals, if any, so a form can say "unchanged from <preset>"."""
    return next((preset for preset in _PRESETS if preset.config == config), None)
