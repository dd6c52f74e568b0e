"""What to try when training goes wrong: the same advice for the trainer, the CLI and the pages."""

from __future__ import annotations

import math

from rnnlab.config import RunConfig


def instability_fixes(config: RunConfig, lr: float) -> list[str]:
    """Remedies for a loss that explodes or a network that stops learning, most likely first."""
    fixes = [f"a lower learning rate (now {lr:g}; try {lr / 10:g})"]
    if config.grad_clip == 0:
        fixes.append("gradient clipping (max norm 1.0)")
    if config.cell == "rnn" and config.nonlinearity == "relu":
        fixes.append("tanh instead of ReLU, or an LSTM/GRU cell")
    return fixes


def divergence_message(config: RunConfig, lr: float, loss: float, step: int, epoch: int) -> str:
    return (
        f"The loss became {loss} at step {step} (epoch {epoch + 1}): training diverged. "
        f"Try {', or '.join(instability_fixes(config, lr))}. The last saved checkpoint was kept."
    )


def near_chance_message(
    config: RunConfig, lr: float, best_test_acc: float, num_classes: int = 10
) -> str | None:
    """A finished run whose test accuracy never left chance learned nothing; say so and what to try.

    Below 1.5x chance (15% for ten classes) counts: a network that learned anything at all from
    these datasets passes that within an epoch.
    """
    chance = 1.0 / num_classes
    if not math.isfinite(best_test_acc) or best_test_acc >= 1.5 * chance:
        return None
    return (
        f"Test accuracy stayed at chance level ({best_test_acc:.1%}, where guessing gives {chance:.0%}): "
        f"the network did not learn. Try {', or '.join(instability_fixes(config, lr))}."
    )
