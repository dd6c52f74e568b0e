"""MetricsLog: a run's metrics, bounded in memory for charts and complete on disk."""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


# One table for every kind of row, so one CSV holds a whole run:
#   "step"  every log_every steps: mean loss over the interval, lr, samples/s
#   "eval"  every eval_every steps: accuracy on a fixed test subset (quick feedback inside an epoch)
#   "epoch" at each epoch's end: train loss/accuracy over the epoch, full test loss/accuracy
#   "event" when something happens besides steps: `event` names it ("lr": set by hand, new rate in `lr`)
# Step rows also carry the training signals (rnnlab/signals.py), epoch rows the epoch-end ones; runs
# written before these columns existed load with them empty.
SIGNAL_COLUMNS = [
    "grad_norm",  # global gradient norm before clipping
    "grad_norm_l0",  # per recurrent layer (both directions), before clipping
    "grad_norm_l1",
    "grad_norm_l2",
    "grad_norm_l3",
    "grad_norm_head",  # the linear readout
    "update_ratio",  # ||w_after - w_before|| / ||w_before|| of one optimiser step
    "saturated",  # fraction of tanh/sigmoid units saturated on the probe batch
    "dead_relu",  # fraction of ReLU units never active on the probe batch
    "hidden_norm",  # mean ||h_t|| of the top layer over the probe batch and its steps
    "loss_slope",  # least-squares slope of the per-step loss over the last steps (loss per step)
    "grad_ratio_time",  # epoch rows: ||dL/dh_1|| / ||dL/dh_T|| on the probe batch
    "acc_gap",  # epoch rows: train accuracy minus test accuracy
]
COLUMNS = [
    "kind",
    "step",
    "epoch",
    "time",
    "loss",
    "lr",
    "samples_per_s",
    "quick_test_acc",
    "train_loss",
    "train_acc",
    "test_loss",
    "test_acc",
    "event",
    *SIGNAL_COLUMNS,
]
DEFAULT_MAX_ROWS = 4000


def make_row(kind: str, **values: Any) -> dict[str, Any]:
    """One metrics row with every column (NaN where the kind has no value)."""
    row = {column: values.get(column, math.nan) for column in COLUMNS}
    row["kind"] = kind
    return row


class MetricsLog:
    """Thread-safe append-only log; readers get DataFrame copies, the writer never waits on them.

    Memory stays bounded however long a run lasts: past `max_rows`, every other step/eval row is
    dropped (epoch rows are always kept), so the in-memory series is the whole run at a coarser
    stride. The CSV on disk keeps every row.
    """

    def __init__(self, max_rows: int = DEFAULT_MAX_ROWS) -> None:
        self.max_rows = max_rows
        self._rows: list[dict[str, Any]] = []
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def append(self, kind: str, **values: Any) -> None:
        row = make_row(kind, **values)
        with self._lock:
            self._rows.append(row)
            self._pending.append(row)
            if len(self._rows) > self.max_rows:
                self._thin()

    def extend(self, rows: list[dict[str, Any]]) -> None:
        """Add rows that someone else writes to disk (a worker's rows, as the handle receives them)."""
        with self._lock:
            for row in rows:
                self._rows.append({column: row.get(column, math.nan) for column in COLUMNS})
                if len(self._rows) > self.max_rows:
                    self._thin()

    def load(self, frame: pd.DataFrame) -> None:
        """Start from rows already on disk (a continued run shows its whole history)."""
        rows = frame.reindex(columns=COLUMNS).to_dict("records") if len(frame) else []
        with self._lock:
            self._rows = rows
            while len(self._rows) > self.max_rows:
                before = len(self._rows)
                self._thin()
                if len(self._rows) == before:  # only epoch rows left: nothing more to drop
                    break

    def frame(self) -> pd.DataFrame:
        import pandas as pd  # here, not at the top: a worker imports this module and needs no pandas

        with self._lock:
            rows = list(self._rows)
        return pd.DataFrame(rows, columns=COLUMNS)

    def take_pending(self) -> list[dict[str, Any]]:
        """Rows not yet written to disk; the caller writes them."""
        with self._lock:
            pending, self._pending = self._pending, []
        return pending

    def __len__(self) -> int:
        with self._lock:
            return len(self._rows)

    def _thin(self) -> None:
        kept, toggle = [], False
        for row in self._rows:
            if row["kind"] == "epoch":
                kept.append(row)
                continue
            if not toggle:
                kept.append(row)
            toggle = not toggle
        self._rows = kept
