"""The Runs page's actions on one run: open it elsewhere, rename, export, continue training, delete."""

from __future__ import annotations

import functools

import streamlit as st

from rnnlab.compare import run_labels
from rnnlab.config import LIMITS
from rnnlab.lab import Lab
from rnnlab.status_record import MAX_NAME_LENGTH
from rnnlab.store import ACTIVE_STATES, RunNotFound, RunsDirError, RunSummary
from rnnlab.ui.format import plain, shown_id, state_badge
from rnnlab.ui.owner import NOT_YOURS, may_change
from rnnlab.ui.pages import DRAW, EVALUATE, INSIDE, TRAIN
from rnnlab.ui.runs_view import forget
from rnnlab.ui.widgets import RUN_PARAM, has_weights

FLASH_KEY = "runs_flash"  # (kind, text, run id to link to or None): a result shown after the rerun
MANAGED_KEY = "runs_managed"  # the run id the actions apply to when several are selected
MANAGE_KEY = "runs_manage"  # its select box
RENAMED_KEY = "runs_renamed"  # (run id, new name): said under the rename form after the rerun
DELETE_KEY = "runs_delete_pending"  # the run whose deletion waits for a second click
CONTINUABLE = ("finished", "stopped", "interrupted")


def show_flash() -> None:
    """The outcome of the last action, at the top of the page, with a link to follow a continued run."""
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash is None:
        return
    kind, text, run_id = flash
    (st.success if kind == "success" else st.error)(text)
    if run_id is not None:
        st.page_link(
            TRAIN,
            label="Watch it train on the Train page",
            icon=":material/monitoring:",
            query_params={RUN_PARAM: run_id},
            help="Live charts, pause, stop and learning-rate control for this run",
        )


def pick_managed(selected: list[RunSummary]) -> RunSummary:
    """The run the actions apply to: the only selected one, or the one chosen among several.

    Options are labelled by name only (the state, which changes, is shown below), and the choice
    is kept by run id and set again on every run: the browser remembers a choice by its label, so
    after a rename it would still show (and send back) the old name.
    """
    if len(selected) == 1:
        return selected[0]
    by_id = {s.run_id: s for s in selected}
    labels = run_labels([(s.run_id, s.name) for s in selected])
    ids = list(by_id)
    kept = st.session_state.get(MANAGED_KEY)
    st.session_state[MANAGE_KEY] = kept if kept in by_id else ids[0]
    run_id = st.selectbox(
        "Run to manage",
        ids,
        key=MANAGE_KEY,
        on_change=_remember_managed,
        format_func=labels.__getitem__,
        help="Rename, export, continue or delete one of the selected runs",
    )
    st.session_state[MANAGED_KEY] = run_id
    return by_id[run_id]


def _remember_managed() -> None:
    st.session_state[MANAGED_KEY] = st.session_state[MANAGE_KEY]


def manage_run(lab: Lab, summary: RunSummary) -> None:
    run_id = summary.run_id
    try:
        checkpoint = lab.has_checkpoint(run_id)
    except RunNotFound:
        st.warning(f"{plain(summary.name)} is no longer in the runs folder (deleted elsewhere?).")
        return
    st.markdown(f"**{plain(summary.name)}** · {state_badge(summary.state)} · `{shown_id(run_id)}`")
    if summary.broken:
        st.error(
            f"This run's files are broken: {plain(summary.error)}. Rename or delete it.",
            icon=":material/error:",
        )
    else:
        _links(run_id, has_weights(lab)(summary))
    if not may_change(summary):  # ownership.py: only its owner or an admin changes a run
        st.caption(NOT_YOURS)
        if not summary.broken:
            with st.container(border=True):
                _exports(lab, run_id, checkpoint)
        return
    rename, more, export = st.columns(3)
    with rename.container(border=True, height="stretch"):
        _rename(lab, summary)
    if not summary.broken:
        with more.container(border=True, height="stretch"):
            _continue(lab, summary, checkpoint)
        with export.container(border=True, height="stretch"):
            _exports(lab, run_id, checkpoint)
    _delete(lab, summary)


def _links(run_id: str, weights: bool) -> None:
    why = "" if weights else " (needs weights: available once the run finishes its first epoch)"
    cols = st.columns(4)
    pages = [
        (TRAIN, "Train", ":material/model_training:", "Live charts, controls, train again", True),
        (INSIDE, "Inside", ":material/visibility:", "Step through its hidden state and gates" + why, weights),
        (EVALUATE, "Evaluate", ":material/fact_check:", "Confusion matrix and mistakes" + why, weights),
        (DRAW, "Draw", ":material/draw:", "Draw a digit for it to read" + why, weights),
    ]
    for col, (page, label, icon, help_text, enabled) in zip(cols, pages, strict=True):
        col.page_link(
            page,
            label=f"Open on {label}",
            icon=icon,
            query_params={RUN_PARAM: run_id},
            help=help_text,
            disabled=not enabled,
        )


def _rename(lab: Lab, summary: RunSummary) -> None:
    """The rename form; its outcome is said right under it, where the person is looking."""
    st.markdown("**Rename**")
    renamed = st.session_state.pop(RENAMED_KEY, None)
    # The button beside the field, not under it: its tooltip opens above it, over the field's label
    # at most, never over the field while a person types the next name.
    with st.form(key=f"runs_rename_form_{summary.run_id}", border=False):
        field, button = st.columns([3, 2], vertical_alignment="bottom")
        name = field.text_input(
            "Name",
            value=summary.name,
            key=f"runs_rename_{summary.run_id}",
            max_chars=MAX_NAME_LENGTH,
            help="A display name for tables and legends; the run's folder (its id) does not change.",
        )
        pressed = button.form_submit_button(
            "Rename", key="runs_rename_button", help="Save the new name", width="stretch"
        )
    if renamed is not None and renamed[0] == summary.run_id:
        st.success(f"Renamed to **{plain(renamed[1])}**.", icon=":material/check:")
    if not pressed:
        return
    try:
        new_name = lab.rename(summary.run_id, name)
    except (ValueError, RunNotFound, RunsDirError) as e:
        st.warning(f"Not renamed: {plain(str(e))}.", icon=":material/edit_off:")
        return
    st.session_state[RENAMED_KEY] = (summary.run_id, new_name)
    st.rerun()  # the table, the menus and the legends take the new name


def _continue(lab: Lab, summary: RunSummary, checkpoint: bool) -> None:
    config = summary.config
    assert config is not None  # broken runs never get here
    room = int(LIMITS["epochs"][1]) - config.epochs
    can = summary.state in CONTINUABLE and checkpoint and room >= 1
    if summary.state in ACTIVE_STATES:
        why = "It is still training; stop it or wait for it to finish first."
    elif summary.state not in CONTINUABLE:
        why = f"A {summary.state} run does not continue; start a new run from its settings on the Train page."
    elif not checkpoint:
        why = "It has no checkpoint yet (it never finished an epoch)."
    else:
        why = "" if room >= 1 else "It already has the most epochs a run may have."
    st.markdown("**Continue training**")
    with st.form(key=f"runs_continue_form_{summary.run_id}", border=False):
        field, button = st.columns([3, 2], vertical_alignment="bottom")
        # No min/max: a browser refuses an out-of-range value silently and the old one would be used.
        extra = field.number_input(
            "More epochs",
            value=min(2, max(1, room)),
            key=f"runs_more_epochs_{summary.run_id}",
            disabled=not can,
            help=f"Train this many more epochs (1 to {max(1, room)}) from the saved checkpoint, with the "
            "same settings; the curves carry on where they stopped.",
        )
        pressed = button.form_submit_button(
            "Continue",
            key="runs_continue_button",
            disabled=not can,
            width="stretch",
            help=why or "Resume from the last saved epoch and train on",
        )
    if why:
        st.caption(why)
    if not pressed:
        return
    if not 1 <= extra <= room:
        st.warning(
            f"Not continued: **More epochs** must be 1 to {room}, not {extra}.", icon=":material/block:"
        )
        return
    try:
        lab.continue_run(summary.run_id, int(extra))
    except (ValueError, RunNotFound, RunsDirError) as e:
        st.warning(f"Cannot continue: {plain(str(e))}.", icon=":material/block:")
        return
    st.session_state[FLASH_KEY] = (
        "success",
        f"**{plain(summary.name)}** trains {int(extra)} more epoch(s).",
        summary.run_id,
    )
    st.rerun()


def _exports(lab: Lab, run_id: str, checkpoint: bool) -> None:
    st.markdown("**Export**")
    st.download_button(
        "Download model + config (.zip)",
        data=functools.partial(lab.export_bundle, run_id),
        file_name=f"{run_id}.zip",
        mime="application/zip",
        key="runs_download_bundle",
        on_click="ignore",
        disabled=not checkpoint,
        icon=":material/download:",
        help="model.pt (weights), config.json, status.json and metrics.csv in one zip; load the weights "
        "with torch.load(..., weights_only=True)."
        if checkpoint
        else "No weights yet: model.pt is saved at the end of each epoch.",
    )
    st.download_button(
        "Export metrics (.csv)",
        data=functools.partial(lab.metrics_csv, run_id),
        file_name=f"{run_id}-metrics.csv",
        mime="text/csv",
        key="runs_download_csv",
        on_click="ignore",
        icon=":material/table_view:",
        help="Every logged step, quick evaluation and epoch result, one row each (columns: kind, step, "
        "epoch, time, loss, lr, accuracies).",
    )


def _delete(lab: Lab, summary: RunSummary) -> None:
    live = summary.state in ACTIVE_STATES
    elsewhere = live and lab.get(summary.run_id) is None  # trained by another process (the CLI, say)
    if st.session_state.get(DELETE_KEY) != summary.run_id:
        st.button(
            "Delete run…",
            key="runs_delete",
            icon=":material/delete:",
            on_click=st.session_state.__setitem__,
            args=(DELETE_KEY, summary.run_id),
            disabled=elsewhere,
            help="Another process is training this run: stop it there first, then delete it here."
            if elsewhere
            else "Remove the run's folder: weights, metrics and settings. Asks before deleting.",
        )
        return
    stop_first = " It is training now: it will be stopped first." if live else ""
    st.warning(
        f"Delete **{plain(summary.name)}** and all its files? This cannot be undone.{stop_first}",
        icon=":material/warning:",
    )
    buttons = st.container(horizontal=True)
    buttons.button(
        "Yes, delete",
        key="runs_delete_confirm",
        type="primary",
        on_click=_do_delete,
        args=(lab, summary),
        help="Delete the run now",
    )
    buttons.button(
        "Cancel",
        key="runs_delete_cancel",
        on_click=st.session_state.pop,
        args=(DELETE_KEY, None),
        help="Keep the run",
    )


def _do_delete(lab: Lab, summary: RunSummary) -> None:
    st.session_state.pop(DELETE_KEY, None)
    try:
        lab.delete(summary.run_id)
    except (RuntimeError, RunNotFound, OSError) as e:
        text = f"{plain(summary.name)} was not deleted: {plain(str(e))}"
        st.session_state[FLASH_KEY] = ("error", text, None)
        return
    forget(summary.run_id)
    st.session_state[FLASH_KEY] = ("success", f"Deleted **{plain(summary.name)}**.", None)
