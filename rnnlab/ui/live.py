"""The Train page's run panel: pick a run, steer it while it trains, watch it live, continue it."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import streamlit as st

from rnnlab.config import LIMITS, ORDER_WORDS, RunConfig
from rnnlab.lab import Lab
from rnnlab.models import count_parameters
from rnnlab.run_events import LrRecord, lr_record
from rnnlab.run_status import RunStatus
from rnnlab.store import BrokenRun, RunNotFound, RunsDirError
from rnnlab.ui import live_feed
from rnnlab.ui.doctor_view import doctor_panel
from rnnlab.ui.follow import follow_new_runs, remember_live, watch_for_new_runs
from rnnlab.ui.format import plain
from rnnlab.ui.owner import NOT_YOURS, may_change
from rnnlab.ui.train_form import LABELS, fill_from_run
from rnnlab.ui.widgets import pick_run

# While a run trains, the browser's work competes with it for the same cores (on a 2-core machine
# a redraw of a Plotly chart costs a software-rendered browser about 0.2 CPU-seconds, which the
# run loses twice over). So the progress and charts are one panel that polls the live feed and
# updates in place (rnnlab/ui/live_feed.py); the doctor's verdict changes slowly and redraws every
# DOCTOR_REFRESH_S.
DOCTOR_REFRESH_S = 10.0
DEFAULT_SMOOTHING = 0.6
PICK_KEY = "train_run_pick"
SEEN_KEY = "train_run_seen"  # the run state the page was drawn for
CONTINUABLE = ("finished", "stopped", "interrupted")
_HERE = Path(__file__).parent
PANEL_JS = (_HERE / "live_panel.js").read_text()
PANEL_CSS = (_HERE / "live_panel.css").read_text()
PANEL_HTML = f"""
<div class="rnnlab-live">
  <div class="progress" data-part="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100"
       data-testid="rnnlabProgress">
    <p class="line"><span data-part="badge"><span class="icon" data-part="icon"></span>
      <span data-part="state"></span></span> · <span data-part="line"></span></p>
    <div class="track"><div class="bar" data-part="bar"></div></div>
  </div>
  <table class="cells" data-part="cells"></table>
  <label class="smoothing" title="Exponential moving average over the logged losses, as in TensorBoard: 0
shows the raw curve, 0.9 and above shows the trend. The raw curve stays faint behind it.">
    Loss smoothing
    <input type="range" data-part="smoothing" min="0" max="0.99" step="0.01" value="{DEFAULT_SMOOTHING}">
    <output data-part="smoothing-value"></output>
  </label>
  <p class="error" data-part="error" role="alert" hidden></p>
  <div class="chart" data-part="chart-loss" data-testid="rnnlabChart"></div>
  <div class="pair">
    <div class="chart" data-part="chart-accuracy" data-testid="rnnlabChart"></div>
    <div class="chart" data-part="chart-lr" data-testid="rnnlabChart"></div>
  </div>
</div>
"""


def run_panel(lab: Lab) -> None:
    """The run named by ?run= (else the newest): controls that fit its state, then its charts."""
    follow_new_runs(lab, PICK_KEY)
    summary = pick_run(
        lab,
        key=PICK_KEY,
        label="Run",
        unusable="has broken files: the Runs page says which and why",
        help="The run shown below. A live run's progress and charts update every 2 seconds.",
    )
    if summary is None:
        st.info(
            "No runs yet. Choose settings on the left (or a preset) and press **Start training**: "
            "the loss, accuracy and learning rate appear here as the network learns.",
            icon=":material/monitoring:",
        )
        watch_for_new_runs(lab)
        return
    try:
        status = lab.status(summary.run_id)
        config = lab.config(summary.run_id)
    except (RunNotFound, BrokenRun) as e:
        st.error(f"This run cannot be shown: {plain(str(e))}", icon=":material/error:")
        return
    st.session_state[SEEN_KEY] = status.state
    st.caption(_describe(config, status))
    live = status.live
    with st.container():  # one element whatever the state, so the charts below keep their place
        if live:
            _live_controls(lab, status)
        else:
            _after_controls(lab, status, config)
    # The progress line and charts are a fragment for every state (ticking only while the run is
    # live), so when a run starts or ends they are replaced in place, never shown twice.
    st.fragment(_live_panel)(lab, summary.run_id, live)
    st.markdown("#### Doctor", help="What went wrong in this run, from its own signals, and fixes to try.")
    st.fragment(doctor_panel, run_every=DOCTOR_REFRESH_S if live else None)(lab, summary.run_id, "train")
    if not live:
        watch_for_new_runs(lab)


def _live_controls(lab: Lab, status: RunStatus) -> None:
    """Pause / Resume / Stop and a live learning-rate change; the run applies them between steps."""
    run = lab.get(status.run_id)
    if run is None:  # listed as live on disk but trained by another process: nothing to steer here
        st.info("This run trains in another process; its charts update when it saves.")
        return
    # The notice keeps its slot in every state: were it inserted only while queued, the buttons
    # below would move, and the page would show the old ones beside the new until it redrew.
    notice = st.empty()
    if status.state == "queued":
        text = (
            f"Waiting for a free training slot: {lab.max_concurrent} run(s) train at once here. It starts "
            "by itself when a running one ends; stop one to start this sooner."
            if run.waiting_for_slot
            else "Starting: a worker process is loading the data and building the network."
        )
        notice.info(text, icon=":material/hourglass_top:")
    with st.container(horizontal=True, vertical_alignment="bottom"):
        pause = st.button(
            "Pause",
            key="train_pause",
            icon=":material/pause:",
            disabled=status.state != "running",
            help="Hold training after the current step; the weights stay in memory.",
        )
        resume = st.button(
            "Resume",
            key="train_resume",
            icon=":material/play_arrow:",
            disabled=status.state != "paused",
            help="Carry on from the step where it paused.",
        )
        mine = may_change(lab.summary(status.run_id))
        stop = st.button(
            "Stop",
            key="train_stop",
            icon=":material/stop:",
            disabled=not mine,
            help="End the run now and save its weights; you can continue it later for more epochs."
            if mine
            else NOT_YOURS,
        )
        # No min/max here: the browser would refuse an out-of-range value without telling the
        # server, and Set would then apply the old one. The run checks the value and says why.
        new_lr = st.number_input(
            "Learning rate (live)",
            value=status.lr,
            step=1e-4,
            format="%g",
            key=f"train_live_lr_{status.run_id}",
            width=150,
            help="Change the learning rate of the running optimiser. The change shows as a step in the "
            "learning-rate chart; try lowering it when the loss stops falling. With a schedule, the rest "
            "of the schedule is scaled by the same ratio: it keeps its shape around the new rate.",
        )
        set_lr = st.button("Set", key="train_set_lr", help="Apply this learning rate from the next step.")
    if pause:
        run.pause()
        st.toast("Pausing after the current step…")
    if resume:
        run.resume()
    if stop and mine:
        run.stop()
        st.toast("Stopping; the weights at this step are saved.")
    if set_lr:
        try:
            run.set_lr(new_lr)
        except ValueError:
            low, high = LIMITS["lr"]
            st.error(
                f"Not set: a learning rate of {new_lr:g} is out of range; use {low:g} to {high:g}. The run "
                f"keeps {status.lr:g}.",
                icon=":material/block:",
            )
        else:
            st.toast(f"Learning rate set to {new_lr:g} from the next step")


def _after_controls(lab: Lab, status: RunStatus, config: RunConfig) -> None:
    """What a finished or failed run offers: its message, training again, and continuing it."""
    if status.state in ("diverged", "failed"):
        st.error(f"**This run {status.state}.** {status.message}", icon=":material/error:")
    elif status.message:
        st.info(status.message, icon=":material/info:")
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.button(
            "Train again with these settings",
            key="train_again",
            icon=":material/content_copy:",
            on_click=fill_from_run,
            args=(config, status.name, _lr_record(lab, status, config)),
            help="Copy this run's settings into the form, with the learning rate it started with (a "
            "rate set by hand while it trained is offered too). Change one thing and start: the same seed "
            "gives the same initial weights and data order, so the comparison is fair.",
        )
        if status.state not in CONTINUABLE or not lab.has_checkpoint(status.run_id):
            return
        if not may_change(lab.summary(status.run_id)):
            st.caption(NOT_YOURS)
            return
        extra = st.number_input(  # no min/max: the run checks, and says why (a browser would not)
            "More epochs",
            value=min(config.epochs, 10),
            key=f"train_more_{status.run_id}",
            width=130,
            help="How many epochs to add, from the saved checkpoint (weights and optimiser state).",
        )
        clicked = st.button(
            f"Continue for {extra} more epoch{'s' if extra != 1 else ''}",
            key="train_continue",
            icon=":material/fast_forward:",
            help="Train this run further from its checkpoint; its curves carry on where they stopped.",
        )
    if clicked:
        try:
            lab.continue_run(status.run_id, int(extra))
        except (ValueError, BrokenRun, RunNotFound, RunsDirError) as e:
            st.error(
                f"Cannot continue this run for {extra} more epochs: {plain(str(e))}", icon=":material/error:"
            )
        else:
            st.rerun()


def _lr_record(lab: Lab, status: RunStatus, config: RunConfig) -> LrRecord:
    try:
        frame = lab.metrics(status.run_id)
    except (RunNotFound, BrokenRun):  # the charts say why; the record falls back to the status
        frame = pd.DataFrame()
    return lr_record(config.lr, status.lr, frame)


def _live_panel(lab: Lab, run_id: str, live: bool) -> None:
    """Progress, figures and the three charts in one panel that updates itself from the live feed
    while the run is live (rnnlab/ui/live_feed.py says why it polls rather than rerunning).

    This fragment reruns only when the panel asks: the run's state changed (the whole page then
    redraws once, for the controls that fit it), or the feed cannot be reached (then it reruns at
    the feed's pace and hands the panel fresh numbers itself).
    """
    try:
        status = lab.status(run_id)
    except (RunNotFound, BrokenRun):
        st.rerun(scope="app")
    if live:
        remember_live(lab)  # runs started while this one is watched wait in the sidebar
        if status.state != st.session_state.get(SEEN_KEY):
            st.rerun(scope="app")
    try:
        news = live_feed.payload(lab, run_id, DEFAULT_SMOOTHING)
    except (RunNotFound, BrokenRun):
        st.rerun(scope="app")
    _panel_component()(
        key="train_live_panel",
        data={
            "payload": news,
            "state": status.state,
            "feed": live_feed.FEED_PATH.format(run_id=run_id),
            "plotly": live_feed.PLOTLY_PATH,
            "poll_ms": round(live_feed.POLL_S * 1000),
            "smoothing": DEFAULT_SMOOTHING,
        },
        # The panel's two requests to rerun this fragment; the rerun itself is the answer.
        on_state_change=_answered,
        on_tick_change=_answered,
    )


def _answered() -> None:
    """The fragment's rerun reads the run afresh; nothing else to do."""


def _panel_component():
    """The live panel's component (registered on every run: each AppTest has its own registry)."""
    return st.components.v2.component(  # in the page, not a shadow root: Plotly styles the document
        "rnnlab_live_panel", html=PANEL_HTML, css=PANEL_CSS, js=PANEL_JS, isolate_styles=False
    )


def _describe(config: RunConfig, status: RunStatus) -> str:
    """One line that says what this run is, under the run picker."""
    cell = LABELS["cell"][config.cell] + (f" ({config.nonlinearity})" if config.cell == "rnn" else "")
    shape = f"{config.hidden_size}×{config.num_layers}" + (" bidirectional" if config.bidirectional else "")
    lr = (
        f"lr {config.lr:g}"
        if config.schedule == "constant"
        else f"{config.schedule} schedule, peak lr {config.lr:g}"
    )
    if config.schedule == "constant" and math.isfinite(status.lr) and not math.isclose(status.lr, config.lr):
        lr = f"lr {config.lr:g} at the start, {status.lr:g} {'at the end' if status.done else 'now'}"
    parts = [
        f"{LABELS['dataset'][config.dataset]} by {ORDER_WORDS[config.order].name}",
        f"{cell} {shape}, readout {config.readout}",
        f"{LABELS['optimizer'][config.optimizer]} {lr}, batch {config.batch_size}",
        f"{count_parameters(config):,} parameters",
        f"seed {config.seed}",
    ]
    if status.device:
        threads = f", {status.threads} thread{'s' if status.threads != 1 else ''}" if status.threads else ""
        parts.append(f"{status.device} {status.precision}".strip() + threads)
    return " · ".join(parts)
