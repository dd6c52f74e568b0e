"""The Doctor panel (Train and Runs pages): a run's diagnoses, their evidence, one-click fixes, and how
the fixes tried so far compare with the original."""

from __future__ import annotations

import streamlit as st

from rnnlab.compare import accuracy_curves, loss_curves, run_labels
from rnnlab.doctor import Diagnosis, diagnose
from rnnlab.lab import Lab
from rnnlab.plots.compare import accuracy_figure, loss_figure, run_colours
from rnnlab.store import BrokenRun, RunNotFound, RunsDirError
from rnnlab.ui.format import plain, state_badge
from rnnlab.ui.widgets import RUN_PARAM

DONE = ("finished", "stopped", "diverged", "failed", "interrupted")


def doctor_panel(lab: Lab, run_id: str, where: str) -> None:
    """What the doctor sees in a run (live while it trains) and a button per fix; `where` keys widgets.

    A fix starts a new run with exactly that change, named after it and linked to this run; the
    page then shows the new run (?run=), and this run's panel overlays the two once both trained.
    """
    try:
        status = lab.status(run_id)
        config = lab.config(run_id)
        frame = lab.metrics(run_id)
    except (RunNotFound, BrokenRun) as e:
        st.caption(f"The doctor cannot read this run: {e}")
        return
    origin = lab.summary(run_id).status
    if origin.get("fix_of") and lab.exists(str(origin["fix_of"])):
        parent = lab.status(str(origin["fix_of"]))
        st.caption(f"This run tries the fix *{plain(str(origin.get('fix', '')))}* on {plain(parent.name)}.")
    diagnoses = diagnose(frame, config, status.state)
    if not diagnoses:
        if status.state in DONE and len(frame):
            st.success("No problems found: the run looks healthy.", icon=":material/check_circle:")
        elif len(frame):
            st.caption("So far nothing looks wrong; the doctor watches every logging interval.")
        else:
            st.caption("The doctor speaks once the first steps are logged.")
    for n, diagnosis in enumerate(diagnoses):
        _diagnosis(lab, run_id, diagnosis, where, f"{where}_fix_{n}")
    _tried(lab, run_id, where)


def _diagnosis(lab: Lab, run_id: str, diagnosis: Diagnosis, where: str, key: str) -> None:
    with st.container(border=True, key=f"{key}_box"):
        st.markdown(f"**:orange[:material/stethoscope:] {diagnosis.title}**  \n{diagnosis.explanation}")
        cells = diagnosis.evidence
        st.markdown(
            "| "
            + " | ".join(cells)
            + " |\n|"
            + "---|" * len(cells)
            + "\n| "
            + " | ".join(cells.values())
            + " |"
        )
        with st.container(horizontal=True):
            for i, fix in enumerate(diagnosis.fixes):
                changes = ", ".join(f"{k} = {v}" for k, v in fix.changes.items())
                if st.button(
                    f"Try: {fix.label}",
                    key=f"{key}_{i}",
                    icon=":material/healing:",
                    type="primary" if i == 0 else "secondary",
                    help=f"Start a new run with exactly this change ({changes}) and every other setting "
                    "kept, named after the fix and linked to this run, so the two can be compared.",
                ):
                    try:
                        run = lab.start_fix(run_id, fix)
                    except (ValueError, OSError, RunsDirError, RunNotFound, BrokenRun) as e:
                        st.error(f"Could not start the fix: {e}", icon=":material/error:")
                        return
                    # The Train page follows the new run; the Runs page compares it with this one.
                    st.query_params[RUN_PARAM] = [run_id, run.run_id] if where == "runs" else run.run_id
                    st.rerun(scope="app")


def _tried(lab: Lab, run_id: str, where: str) -> None:
    """The fixes already started from this run, and, once both trained, their curves over the original's."""
    children = lab.fixes_of(run_id)
    if not children:
        return
    st.markdown(
        "**Fixes tried**  \n" + "  \n".join(f"{plain(c.name)} · {state_badge(c.state)}" for c in children)
    )
    trained = [c for c in children if c.state in DONE]
    if not trained or lab.status(run_id).state not in DONE:
        st.caption("Their curves are overlaid here once the original and a fix have both trained.")
        return
    ids = [run_id, *(c.run_id for c in trained)]
    names = [lab.status(run_id).name, *(c.name for c in trained)]
    labels = run_labels(list(zip(ids, names, strict=True)))
    try:
        metrics = {i: lab.metrics(i) for i in ids}
    except (RunNotFound, BrokenRun) as e:
        st.caption(f"The curves cannot be read: {e}")
        return
    colours = run_colours(ids)
    left, right = st.columns(2)
    left.plotly_chart(
        loss_figure(loss_curves(metrics, labels, "step", 0.6), colours, "step", 0.6), key=f"{where}_fix_loss"
    )
    right.plotly_chart(
        accuracy_figure(accuracy_curves(metrics, labels, "epoch"), colours, "epoch"), key=f"{where}_fix_acc"
    )
