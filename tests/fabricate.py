"""Run folders written directly, for page tests that need a run in a known state without training it."""

from __future__ import annotations

from rnnlab.config import RunConfig
from rnnlab.metrics import COLUMNS
from rnnlab.store import RunStore

# The under-trained run in small: 16 steps of an LSTM at Adam's default rate, still near chance.
UNDER_TRAINED = RunConfig(
    hidden_size=8, batch_size=16, epochs=1, train_subset=256, log_every=2, eval_every=4, eval_subset=32
)
UNDER_TRAINED_ROWS = [
    {
        "kind": "step",
        "step": 16,
        "epoch": 1,
        "time": 1,
        "loss": 2.25,
        "lr": 1e-3,
        "loss_slope": -0.004,
        "grad_norm": 0.4,
        "update_ratio": 2e-3,
        "saturated": 0.0,
        "hidden_norm": 0.5,
    },
    {
        "kind": "epoch",
        "step": 16,
        "epoch": 1,
        "time": 1,
        "lr": 1e-3,
        "train_loss": 2.28,
        "train_acc": 0.12,
        "test_loss": 2.26,
        "test_acc": 0.149,
        "acc_gap": -0.029,
        "grad_ratio_time": 1e-3,
    },
]


def fabricated_run(store: RunStore, rows: list[dict], status: dict, config: RunConfig) -> str:
    """A run folder written directly: its config, a status and metrics rows."""
    run_id = store.create(config, "")
    store.write_status(run_id, status)
    store.append_metrics(run_id, rows, COLUMNS)
    return run_id


def under_trained_run(store: RunStore, name: str = "short run") -> str:
    status = {"state": "finished", "name": name, "best_test_acc": 0.149, "epoch": 1, "step": 16}
    return fabricated_run(store, UNDER_TRAINED_ROWS, status, UNDER_TRAINED)
