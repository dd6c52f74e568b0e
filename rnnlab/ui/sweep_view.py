"""One sweep on the Sweep page: Stop all, Continue, live table and charts, what mattered, the best on."""

from __future__ import annotations

import streamlit as st

from rnnlab.plots.sweep import best_over_time, parallel_coordinates, top_curves, what_mattered
from rnnlab.store import RunNotFound, RunsDirError
from rnnlab.sweep_lab import SweepLab
from rnnlab.sweep_store import SweepRecord
from rnnlab.sweep_table import best_over_time as best_frame
from rnnlab.sweep_table import best_trial, curves
from rnnlab.sweep_table import what_mattered as mattered_frame
from rnnlab.ui.pages import EVALUATE, INSIDE, TRAIN
from rnnlab.ui.widgets import RUN_PARAM

KEY = "sweep_view_"
REFRESH_S = 2.0


def sweep_view(sweeps: SweepLab, record: SweepRecord) -> None:
    """The controls, then a fragment that redraws every few seconds while the sweep runs."""
    if record.spec is None:
        st.error(f"This sweep cannot be read: {record.message}", icon=":material/error:")
        return
    alive = sweeps.alive(record.sweep_id)
    left, right = st.columns([3, 1])
    axes = ", ".join(f"{a.field} {a.text()}" for a in record.spec.axes)
    left.caption(
        f"{record.spec.trials} trials of {record.spec.epochs} epochs over {axes}; "
        f"early stopping {'on' if record.spec.prune else 'off'}; engine {record.spec.engine}."
    )
    if alive:
        if right.button(
            "Stop all", key=KEY + "stop", help="Stop every trial, weights saved; Continue resumes"
        ):
            sweeps.stop(record.sweep_id)
            st.rerun()
    elif record.state in ("stopped", "interrupted", "failed") and right.button(
        "Continue",
        key=KEY + "continue",
        help="Cut-off trials train on from their checkpoints, then new ones",
    ):
        try:
            sweeps.continue_sweep(record.sweep_id)
        except (ValueError, OSError, RunsDirError, RuntimeError) as e:
            st.error(f"Could not continue the sweep: {e}", icon=":material/error:")
        else:
            st.rerun()
    _live(sweeps, record.sweep_id, alive)


def _live(sweeps: SweepLab, sweep_id: str, alive: bool) -> None:
    @st.fragment(run_every=REFRESH_S if alive else None)
    def panel() -> None:
        record = sweeps.store.record(sweep_id)
        table = sweeps.trials(sweep_id)
        done = int(table["state"].isin(("finished", "pruned", "stopped", "diverged", "failed")).sum())
        st.progress(
            min(1.0, done / record.spec.trials), text=f"{record.state}: {done} of {record.spec.trials} done"
        )
        if record.message:
            st.warning(record.message, icon=":material/warning:")
        engine_lab = sweeps.trials_lab(record.sweep_id)
        st.plotly_chart(parallel_coordinates(table, record.spec), key=KEY + "parcoords")
        left, right = st.columns(2)
        with left:
            st.plotly_chart(best_over_time(best_frame(table, engine_lab)), key=KEY + "best")
        with right:
            st.plotly_chart(top_curves(curves(table, engine_lab), table), key=KEY + "curves")
        shown = table.assign(score=table["score"] * 100, **{"first cut": table["first cut"] * 100})
        st.dataframe(
            shown,
            hide_index=True,
            key=KEY + "table",
            column_config={
                "score": st.column_config.NumberColumn(
                    "test accuracy %",
                    format="%.2f",
                    help="Best full test accuracy at an epoch's end; for a trial stopped before its first "
                    "epoch ended, its last quick test accuracy",
                ),
                "first cut": st.column_config.NumberColumn(
                    "first cut %",
                    format="%.2f",
                    help="Quick test accuracy where early stopping first judged the trial (after a ninth "
                    "of its epochs): the one point every trial reached, so what mattered compares them there",
                ),
                "stopped at epoch": st.column_config.NumberColumn(
                    format="%.2f", help="Where early stopping ended it (epoch progress)"
                ),
            },
        )
        _open_trial(table)
        if not sweeps.alive(sweep_id) and not table.empty:
            _afterwards(sweeps, record, table)
        if alive and not sweeps.alive(sweep_id):
            st.rerun(scope="app")  # it just ended: redraw the controls too

    panel()


def _open_trial(table) -> None:
    if table.empty:
        return
    labels = {
        f"trial {row.trial} ({row.state}, {row.score:.2%})": row._1 for row in table.itertuples(index=False)
    }
    left, middle, right = st.columns([3, 1, 1])
    chosen = left.selectbox("Open a trial", list(labels), key=KEY + "open", help="A trial is an ordinary run")
    run_id = labels[chosen]
    middle.page_link(INSIDE, label="Inside", icon=":material/visibility:", query_params={RUN_PARAM: run_id})
    right.page_link(
        EVALUATE, label="Evaluate", icon=":material/fact_check:", query_params={RUN_PARAM: run_id}
    )


def _afterwards(sweeps: SweepLab, record: SweepRecord, table) -> None:
    frame = mattered_frame(table, record.spec)
    measure = "quick test accuracy at the first cut" if record.spec.prune else "test accuracy"
    st.plotly_chart(what_mattered(frame, measure), key=KEY + "mattered")
    best = best_trial(table)
    if best is None:
        return
    left, right = st.columns([1, 2])
    extra = left.number_input(
        "More epochs",
        1,
        1000,
        max(2, record.spec.epochs),
        key=KEY + "extra",
        help="How many more epochs the best trial trains, from where it ended",
    )
    if right.button(
        f"Train the best (trial {best['trial']}) for longer",
        type="primary",
        key=KEY + "longer",
        help="Continue the best trial's run from its checkpoint and watch it on the Train page",
    ):
        try:
            sweeps.lab.continue_run(str(best["run id"]), int(extra))
        except (ValueError, OSError, RunNotFound, RunsDirError) as e:
            st.error(f"Could not continue the best trial: {e}", icon=":material/error:")
            return
        st.switch_page(TRAIN, query_params={RUN_PARAM: str(best["run id"])})
