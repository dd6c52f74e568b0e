"""The runs table: one row per run, the same for the Runs page and `python -m rnnlab runs`."""

from __future__ import annotations

import math

import pandas as pd

from rnnlab.models import count_parameters
from rnnlab.store import RunSummary
from rnnlab.values import finite_or

COLUMNS = [
    "run id",
    "name",
    "state",
    "dataset",
    "order",
    "cell",
    "hidden",
    "layers",
    "optimizer",
    "start lr",
    "last lr",
    "parameters",
    "epochs",
    "best test acc",
    "duration s",
    "created",
]


def runs_table(summaries: list[RunSummary]) -> pd.DataFrame:
    """Broken runs stay in the table with their reason in the state column, so nothing silently vanishes.

    "start lr" is the configured learning rate; "last lr" the one the run trained with at its latest
    step (status.json keeps it), which differs when it was set by hand during training.
    """
    rows = [_row(summary) for summary in summaries]
    return pd.DataFrame(rows, columns=COLUMNS)


def _row(summary: RunSummary) -> dict[str, object]:
    status, config = summary.status, summary.config
    best = status.get("best_test_acc")
    row: dict[str, object] = {
        "run id": summary.run_id,
        "name": summary.name,
        "state": f"broken: {summary.error}" if summary.broken else summary.state,
        "best test acc": finite_or(best, math.nan),
        "duration s": _number(status.get("elapsed_s")),
        "created": str(status.get("created_at", "")),
    }
    if config is not None:
        row.update(
            dataset=config.dataset,
            order=config.order,
            cell=config.cell_label,
            hidden=config.hidden_size,
            layers=config.num_layers,
            optimizer=config.optimizer,
            **{"start lr": config.lr, "last lr": finite_or(status.get("lr"), config.lr)},
            parameters=count_parameters(config),
            epochs=config.epochs,
        )
    return row


def _number(value: object) -> float:
    return round(finite_or(value, math.nan), 1)
