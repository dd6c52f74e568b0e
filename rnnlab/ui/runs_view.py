"""The Runs page's table and comparison: filters, row selection that survives reruns, overlaid curves."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from rnnlab.compare import (
    X_AXES,
    ConfigComparison,
    accuracy_curves,
    base_state,
    compare_configs,
    filter_runs,
    loss_curves,
    run_labels,
)
from rnnlab.lab import Lab
from rnnlab.models import count_parameters
from rnnlab.plots.compare import accuracy_figure, loss_figure, run_colours
from rnnlab.run_events import lr_record
from rnnlab.runs_table import runs_table
from rnnlab.store import BrokenRun, RunNotFound, RunSummary
from rnnlab.ui.format import plain
from rnnlab.ui.widgets import RUN_PARAM, no_such_runs

TABLE_KEY = "runs_table"
SHOWN_KEY = "runs_shown"  # run ids in the order the table last drew them: its row numbers mean these
CHOSEN_KEY = "runs_chosen"  # the selected run ids, the truth behind the table's row numbers
LIVE_KEY = "runs_live_signature"
LIVE_REFRESH_S = 2.0
START_LR, LAST_LR, HAND_LR = "lr at the start", "lr at the last step", "lr set by hand"
DIFF_STYLE = "background-color: rgba(59, 111, 214, 0.14); font-weight: 600"
TABLE_COLUMNS = {
    "name": st.column_config.TextColumn("name", width="medium", pinned=True),
    "state": st.column_config.TextColumn("state", help="Broken runs say why in the note column"),
    "best test acc": st.column_config.NumberColumn(
        "best test acc",
        format="percent",
        help="The best accuracy on the whole test set at the end of any epoch, which may be an earlier "
        "epoch than the last. Evaluate measures the latest weights instead, on the test images it is "
        "asked for, so the two can differ.",
    ),
    "duration": st.column_config.NumberColumn(
        "duration", format="compact", help="Training time so far (pauses not counted)"
    ),
    "dataset": st.column_config.TextColumn("dataset"),
    "order": st.column_config.TextColumn("order", help="How an image becomes a sequence"),
    "cell": st.column_config.TextColumn("cell"),
    "hidden": st.column_config.NumberColumn("hidden", format="%d", help="Hidden units per layer"),
    "layers": st.column_config.NumberColumn("layers", format="%d"),
    "optimizer": st.column_config.TextColumn("optimiser"),
    "start lr": st.column_config.NumberColumn(
        "start lr", format="%g", help="The learning rate the run started with (its settings)"
    ),
    "last lr": st.column_config.NumberColumn(
        "last lr",
        format="%g",
        help="The learning rate at its latest step: different from the start when it was set by hand "
        "while the run trained (Settings side by side lists each change)",
    ),
    "parameters": st.column_config.NumberColumn("parameters", format="localized"),
    "epochs": st.column_config.NumberColumn("epochs", format="%d", help="Epochs planned"),
    "created": st.column_config.TextColumn("created"),
    "note": st.column_config.TextColumn(
        "note", width="large", help="Why a run is broken, diverged or failed"
    ),
    "run id": st.column_config.TextColumn("run id", help="The run's folder under the runs directory"),
}


# -- choosing runs -----------------------------------------------------------------------------
def select_runs(summaries: list[RunSummary]) -> list[RunSummary]:
    """Filters, the table, and the runs ticked in it (or named in ?run=), in the order they were picked.

    Streamlit reports a selection as row numbers, which point at other runs once a filter changes
    or a run is deleted; so the run ids are the truth, and the row numbers are rewritten from them
    before each drawing of the table.
    """
    by_id = {s.run_id: s for s in summaries}
    table = _filters(runs_table(summaries))
    shown = list(table["run id"])
    chosen = _chosen(by_id, shown)
    st.session_state[TABLE_KEY] = {
        "selection": {"rows": [shown.index(i) for i in chosen if i in shown], "columns": [], "cells": []}
    }
    st.session_state[SHOWN_KEY] = shown
    st.dataframe(
        _for_display(table, by_id),
        key=TABLE_KEY,
        on_select="rerun",
        selection_mode="multi-row",
        hide_index=True,
        column_config=TABLE_COLUMNS,
        column_order=list(TABLE_COLUMNS),
        placeholder="–",
    )
    if not shown:
        st.caption("No run matches these filters.")
    if hidden := [by_id[i].name for i in chosen if i not in shown]:
        st.caption(f"Also selected, hidden by the filters: {plain(', '.join(hidden))}.")
    _set_url(chosen)
    return [by_id[i] for i in chosen]


def _filters(table: pd.DataFrame) -> pd.DataFrame:
    search, states, datasets, cells = st.columns([2, 1, 1, 1])
    text = search.text_input(
        "Search",
        key="runs_search",
        placeholder="name or run id",
        help="Show runs whose name or id contains this",
    )

    def options(values: pd.Series) -> list[str]:
        return sorted(str(v) for v in values.dropna().unique())

    return filter_runs(
        table,
        text=text,
        states=states.multiselect(
            "State",
            options(base_state(table)),
            key="runs_states",
            placeholder="all",
            help="Show only runs in these states",
        ),
        datasets=datasets.multiselect(
            "Dataset",
            options(table["dataset"]),
            key="runs_datasets",
            placeholder="all",
            help="Show only runs on these datasets",
        ),
        cells=cells.multiselect(
            "Cell",
            options(table["cell"]),
            key="runs_cells",
            placeholder="all",
            help="Show only runs with these recurrent cells",
        ),
    )


def _chosen(by_id: dict[str, RunSummary], shown: list[str]) -> list[str]:
    state = st.session_state
    chosen = state.get(CHOSEN_KEY, [])
    from_url = st.query_params.get_all(RUN_PARAM)
    if from_url and from_url != chosen:  # arrived by a link that names runs: the link decides
        if missing := [i for i in from_url if i not in by_id]:
            st.warning(f"{no_such_runs(missing)} Pick runs in the table instead.", icon=":material/link_off:")
        chosen = [i for i in dict.fromkeys(from_url) if i in by_id]
    elif TABLE_KEY in state:  # row numbers refer to the table as it was last drawn
        previous = state.get(SHOWN_KEY, shown)
        ticked = [previous[r] for r in state[TABLE_KEY]["selection"]["rows"] if 0 <= r < len(previous)]
        kept = [i for i in chosen if i not in previous or i in ticked]
        chosen = kept + [i for i in ticked if i not in kept]
    chosen = [i for i in chosen if i in by_id]  # deleted runs drop out
    state[CHOSEN_KEY] = chosen
    return chosen


def _for_display(table: pd.DataFrame, by_id: dict[str, RunSummary]) -> pd.DataFrame:
    """Plain states, a clock for durations, and a note column: why a run broke, diverged or failed."""
    shown = table.copy()
    shown["state"] = base_state(table)  # a plain word: table cells show no icons
    shown["duration"] = pd.to_timedelta(table["duration s"], unit="s")
    shown["created"] = table["created"].astype(str).str[:16].str.replace("T", " ")
    shown["note"] = [_note(by_id[run_id]) for run_id in table["run id"]]
    return shown


def _note(summary: RunSummary) -> str:
    return summary.error or str(summary.status.get("message") or "")


def forget(run_id: str) -> None:
    """Drop a run from the selection and the URL (it was deleted)."""
    st.session_state[CHOSEN_KEY] = [i for i in st.session_state.get(CHOSEN_KEY, []) if i != run_id]
    _set_url(st.session_state[CHOSEN_KEY])


def _set_url(chosen: list[str]) -> None:
    """The URL names the selection (?run=a&run=b), so a comparison can be bookmarked or shared."""
    if st.query_params.get_all(RUN_PARAM) == chosen:
        return
    if chosen:
        st.query_params[RUN_PARAM] = chosen
    else:
        del st.query_params[RUN_PARAM]


# -- live runs ---------------------------------------------------------------------------------
def watch_live_runs(lab: Lab) -> None:
    """While runs train, look every couple of seconds and redraw the page when an epoch ends.

    Only a tiny fragment runs on the timer; the whole page (table, curves) redraws only when a
    live run's state or completed epochs change, so watching costs training almost nothing.
    """
    if lab.live_runs():
        _live_fragment(lab)


@st.fragment(run_every=LIVE_REFRESH_S)
def _live_fragment(lab: Lab) -> None:
    runs = lab.live_runs()
    signature = sorted((run.run_id, status.state, status.epoch) for run in runs for status in [run.status()])
    previous = st.session_state.get(LIVE_KEY)
    st.session_state[LIVE_KEY] = signature
    if previous is not None and previous != signature:
        st.rerun(scope="app")
    if runs:
        st.caption(f"{len(runs)} run(s) training: this page refreshes as each epoch ends.")


# -- comparing ---------------------------------------------------------------------------------
def compare_runs(lab: Lab, selected: list[RunSummary]) -> None:
    """Loss and test accuracy of the selected runs on shared axes, then their settings side by side."""
    runs = [s for s in selected if not s.broken]
    for s in selected:
        if s.broken:
            st.caption(f"Not compared: **{plain(s.name)}** is broken (its note in the table says why).")
    if not runs:
        return
    labels = run_labels([(s.run_id, s.name) for s in runs])
    colours = run_colours([s.run_id for s in runs])
    metrics = {}
    for s in runs:
        try:
            metrics[s.run_id] = lab.metrics(s.run_id)
        except (BrokenRun, RunNotFound) as e:
            st.warning(f"{plain(s.name)}: its metrics cannot be read ({plain(str(e))}).")

    axis, smoothing, train = st.columns([2, 2, 1.4], vertical_alignment="bottom")
    x = axis.radio(
        "X axis",
        list(X_AXES),
        horizontal=True,
        key="runs_x",
        help="Steps compare runs update by update; epochs compare passes over the data; wall time "
        "compares how fast each run learns (training time, pauses not counted).",
    )
    weight = smoothing.slider(
        "Loss smoothing",
        0.0,
        0.99,
        0.6,
        0.01,
        key="runs_smoothing",
        help="Exponential moving average of the loss (0 = raw). Smoothing shows the trend through "
        "the noise of single batches.",
    )
    with_train = train.toggle(
        "Training accuracy too",
        key="runs_train_acc",
        help="Add each run's accuracy on the training set, dashed. A widening gap between the "
        "training and test lines is overfitting.",
    )
    x_title = X_AXES[x][1]
    left, right = st.columns(2)
    left.plotly_chart(
        loss_figure(loss_curves(metrics, labels, x, weight), colours, x_title, weight), key="runs_loss_chart"
    )
    train_curves = accuracy_curves(metrics, labels, x, "train") if with_train else []
    right.plotly_chart(
        accuracy_figure(accuracy_curves(metrics, labels, x), colours, x_title, train_curves),
        key="runs_accuracy_chart",
    )
    records = {
        labels[s.run_id]: lr_record(s.config.lr, s.status.get("lr"), metrics.get(s.run_id, pd.DataFrame()))
        for s in runs
    }
    _settings_table(
        compare_configs(
            {labels[s.run_id]: s.config for s in runs},
            {labels[s.run_id]: count_parameters(s.config) for s in runs},
            {
                LAST_LR: {label: r.last for label, r in records.items()},
                HAND_LR: {label: r.history() if r.by_hand else "never" for label, r in records.items()},
            },
        ),
        several=len(runs) > 1,
    )


def _settings_table(comparison: ConfigComparison, several: bool) -> None:
    st.markdown("**Settings side by side**")
    table = comparison.table
    if several and st.toggle(
        "Only the settings that differ",
        value=True,
        key="runs_only_differences",
        help="Hide the settings every selected run shares. Highlighted rows differ between runs.",
    ):
        table = comparison.only_differences()
    if table.empty:
        st.caption("The selected runs share every setting.")
        return
    shown = {"lr": START_LR}  # the configured lr is where the run started
    table, differs = table.rename(index=shown), comparison.differs.rename(index=shown)
    styled = table.style.apply(lambda row: [DIFF_STYLE if differs[row.name] else ""] * len(row), axis=1)
    st.dataframe(styled, key="runs_settings", height="content")
