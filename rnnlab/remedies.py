"""Fixes the doctor offers: each is one change to a RunConfig, named for the run that tries it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rnnlab.config import LIMITS, RunConfig


@dataclass(frozen=True)
class Fix:
    """One change to try: `changes` are RunConfig fields and their new values."""

    label: str
    changes: dict[str, Any]

    def apply(self, config: RunConfig) -> RunConfig:
        """The config of the run that tries this fix (validated like any config)."""
        return config.replace(**self.changes)


def lower_lr(config: RunConfig, factor: float = 10.0) -> Fix:
    lr = max(config.lr / factor, LIMITS["lr"][0])
    return Fix(f"lower learning rate {config.lr:g} to {lr:.2g}", {"lr": float(f"{lr:.2g}")})


def raise_lr(config: RunConfig, factor: float) -> Fix:
    lr = min(config.lr * factor, LIMITS["lr"][1])
    return Fix(f"higher learning rate {config.lr:g} to {lr:.2g}", {"lr": float(f"{lr:.2g}")})


def clipping(config: RunConfig) -> list[Fix]:
    return [Fix("gradient clipping at 1", {"grad_clip": 1.0})] if config.grad_clip == 0 else []


def longer(config: RunConfig, factor: int = 4) -> Fix:
    epochs = min(config.epochs * factor, int(LIMITS["epochs"][1]))
    return Fix(f"train {factor}x longer ({config.epochs} to {epochs} epochs)", {"epochs": epochs})


def gated(config: RunConfig) -> list[Fix]:
    if config.cell != "rnn":
        return []
    return [Fix("an LSTM instead of a plain RNN", {"cell": "lstm", "nonlinearity": "tanh"})]


def relu_to_tanh(config: RunConfig) -> list[Fix]:
    if config.cell == "rnn" and config.nonlinearity == "relu":
        return [Fix("tanh instead of ReLU", {"nonlinearity": "tanh"})]
    return []


def divergence_message(config: RunConfig, lr: float, loss: float, step: int, epoch: int) -> str:
    """What a diverged run says when it ends: where, and the exploding-gradient fixes in words."""
    fixes = [*clipping(config), lower_lr(config.replace(lr=lr)), *relu_to_tanh(config)]
    return (
        f"The loss became {loss} at step {step} (epoch {epoch + 1}): training diverged. "
        f"Try {', or '.join(fix.label for fix in fixes)}. The last saved checkpoint was kept."
    )


def fix_name(run_name: str, fix: Fix) -> str:
    """The name of the run that tries a fix: the original's, plus what changed."""
    return f"{run_name} · {fix.label}"
