"""Widgets more than one page needs: choosing a run, consistently labelled and linked by URL."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from rnnlab.compare import run_labels
from rnnlab.lab import Lab
from rnnlab.store import RunSummary
from rnnlab.ui.format import plain, shown_id, state_badge
from rnnlab.values import finite_or

RUN_PARAM = "run"  # ?run=<run id> selects a run on any page that shows one
NO_WEIGHTS = "has no saved weights yet: a run saves them when it finishes its first epoch"


def run_label(summary: RunSummary) -> str:
    best = finite_or(summary.status.get("best_test_acc"), None)
    acc = f" · best {best:.1%}" if best is not None else ""
    return f"{plain(summary.name)} · {state_badge(summary.state)}{acc}"


def pick_run(
    lab: Lab,
    *,
    key: str,
    label: str = "Run",
    help: str = "Choose a run. Live runs show their latest weights; finished runs their saved checkpoint.",
    where: Callable[[RunSummary], bool] | None = None,
    unusable: str = "cannot be shown here",
    default: str | None = None,
) -> RunSummary | None:
    """A selectbox of runs (newest first, by name), preselected from ?run= when that run qualifies.

    `where` filters the runs offered (for example, only runs with saved weights); `unusable` says
    why a run it leaves out cannot be shown; `default` is the run shown when nothing else says
    which (else the newest). Returns None when there is nothing to choose; the
    caller explains what to do. The URL follows the choice; a new ?run= (a link, a Start) selects
    that run, else the person's last choice stays selected. A ?run= that names no run offered is
    said above the selectbox, with the run shown instead, on every page alike.
    """
    summaries = [s for s in lab.list_runs() if not s.broken and (where is None or where(s))]
    wanted = st.query_params.get(RUN_PARAM)
    notice = st.empty()
    if not summaries:
        if wanted:
            message = unknown_run_message(lab, wanted, unusable, instead=None)
            notice.warning(message, icon=":material/link_off:")
        return None
    by_id = {s.run_id: s for s in summaries}
    # Labels must not change while a run trains: the browser remembers a selectbox's choice by its
    # label, so a label that moved (running -> finished, a new best accuracy) would lose the choice.
    labels = run_labels([(s.run_id, s.name) for s in summaries])
    chosen, url_seen = st.session_state.get(f"{key}__chosen"), st.session_state.get(f"{key}__url")
    if wanted in by_id and (wanted != url_seen or chosen not in by_id):
        chosen = wanted
    # Re-select by id on every run, so a renamed run or a new namesake keeps the choice too.
    fallback = default if default in by_id else next(iter(by_id))
    st.session_state[key] = chosen if chosen in by_id else fallback
    picked = st.selectbox(
        label,
        list(by_id),
        key=key,
        help=help,
        format_func=labels.__getitem__,
        on_change=_remember_choice,
        args=(key,),
    )
    if wanted and wanted not in by_id:
        message = unknown_run_message(lab, wanted, unusable, instead=labels[picked])
        notice.warning(message, icon=":material/link_off:")
    if picked != wanted:
        st.query_params[RUN_PARAM] = picked  # the URL names the run shown: a reload or a shared link shows it
    st.session_state[f"{key}__chosen"] = st.session_state[f"{key}__url"] = picked
    return by_id.get(picked)


def unknown_run_message(lab: Lab, wanted: str, unusable: str, instead: str | None) -> str:
    """What a page says when a link names a run it cannot show, and what it shows instead."""
    if lab.exists(wanted):
        what = f"Run **{plain(lab.status(wanted).name)}** (`{shown_id(wanted)}`) {unusable}."
    else:
        what = no_such_runs([wanted])
    return what + (f" Showing **{plain(instead)}** instead." if instead else "")


def no_such_runs(run_ids: list[str]) -> str:
    """The sentence for ids a link names that are not in this runs folder."""
    named = ", ".join(f"`{shown_id(i)}`" for i in run_ids)
    return f"There is no run {named} here: deleted, or the link comes from another runs folder."


def compare_with(
    lab: Lab,
    chosen: RunSummary,
    *,
    key: str,
    where: Callable[[RunSummary], bool],
    max_selections: int,
    placeholder: str,
    nothing: str,
    help: str,
) -> list[RunSummary]:
    """A "Compare with" multiselect of the other runs that pass `where`; `nothing` shows when none does."""
    others = {s.run_id: s for s in lab.list_runs() if s.run_id != chosen.run_id and not s.broken and where(s)}
    picked = st.multiselect(
        "Compare with",
        list(others),
        format_func=run_labels([(i, s.name) for i, s in others.items()]).__getitem__,
        key=key,
        max_selections=max_selections,
        placeholder=placeholder if others else nothing,
        disabled=not others,
        help=help,
    )
    return [others[i] for i in picked if i in others]


def _remember_choice(key: str) -> None:
    st.session_state[f"{key}__chosen"] = st.session_state[key]


def has_weights(lab: Lab) -> Callable[[RunSummary], bool]:
    """Runs whose weights can be loaded now: live with a model, or with a checkpoint on disk."""

    def check(summary: RunSummary) -> bool:
        run = lab.get(summary.run_id)
        if run is not None and run.alive and run.status().step > 0:
            return True
        return lab.has_checkpoint(summary.run_id)

    return check
