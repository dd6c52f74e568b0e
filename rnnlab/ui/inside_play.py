"""The Inside page's step controls: the step slider, single steps, and Play at a chosen speed.

Playing follows the clock, not the number of redraws: step = first step + speed x seconds since Play,
so the chosen speed holds however long a redraw takes on a busy machine (frames are skipped instead).
"""

from __future__ import annotations

import math
import time

import streamlit as st

STEP_KEY = "inside_step"
PLAY_KEY = "inside_playing"
STARTED_KEY = "inside_play_started"  # (clock time, step) when Play was pressed
SPEED_KEY = "inside_speed"  # + the sequence length: rows and pixel runs keep their own speed
SPEEDS = (1, 2, 5, 10, 20, 50, 100, 200)  # steps per second
PLAY_S = 20.0  # the default speed plays a whole sequence in about this long
MIN_TICK_S = 0.3  # the fastest redraw asked for: the machine must keep up with the charts
clock = time.monotonic  # the playback clock (tests replace it)


def default_speed(steps: int) -> int:
    """The listed speed closest to a whole sequence in PLAY_S seconds: 1 step/s for 28 rows, 50 for 784."""
    return min(SPEEDS, key=lambda s: abs(math.log(s) - math.log(steps / PLAY_S)))


def speed_key(steps: int) -> str:
    return f"{SPEED_KEY}_{steps}"


def tick_s(steps: int) -> float | None:
    """How often the step view redraws itself: while playing, once per step up to MIN_TICK_S; else never."""
    if not st.session_state.get(PLAY_KEY, False):
        return None
    speed = st.session_state.get(speed_key(steps), default_speed(steps))
    return max(1.0 / speed, MIN_TICK_S)


def step_controls(steps: int, unit: str, playing: bool) -> int:
    """Slider, Step back, Play/Pause, Step forward and the speed; returns the step to show (1..steps).

    While playing the slider stays in view, disabled, and moves with the animation (a slider the
    person could drag while the page sets it would race with the value the browser reports back).
    """
    state = st.session_state
    key = speed_key(steps)
    state.setdefault(key, default_speed(steps))
    if playing:
        started_at, first = state.get(STARTED_KEY, (clock(), 1))
        step = min(first + int((clock() - started_at) * state[key]), steps)
        if step >= steps:  # the last frame: stop there, and leave the slider at the end
            state[PLAY_KEY] = False
        state[STEP_KEY] = step
    state[STEP_KEY] = min(max(int(state.get(STEP_KEY, steps)), 1), steps)  # a new run may be shorter
    slider, back, play, forward, speed = st.columns([8, 2, 2, 2, 2], vertical_alignment="bottom")
    step = slider.slider(
        f"Step t (1 to {steps})",
        min_value=1,
        max_value=steps,
        key=STEP_KEY,
        disabled=playing,
        help=f"How many {unit} the network has read. Drag to replay the reading; every chart below shows "
        "the network at this step. Pause to drag it while playing.",
    )
    back.button(
        "Back",
        key="inside_step_back",
        icon=":material/chevron_left:",
        on_click=_step_by,
        args=(-1, steps),
        disabled=step <= 1,
        width="stretch",
        help="One step back (pauses the animation).",
    )
    play.button(
        "Pause" if playing else "Play",
        icon=":material/pause:" if playing else ":material/play_arrow:",
        key="inside_play",
        on_click=_toggle_play,
        args=(steps,),
        width="stretch",
        help="Animate the reading at the speed chosen beside it; from the start when at the last step.",
    )
    forward.button(
        "Next",
        key="inside_step_forward",
        icon=":material/chevron_right:",
        on_click=_step_by,
        args=(1, steps),
        disabled=step >= steps,
        width="stretch",
        help="One step on (pauses the animation).",
    )
    speed.selectbox(
        "Speed",
        SPEEDS,
        key=key,
        format_func=lambda s: f"{s} step{'s' if s > 1 else ''}/s",
        on_change=_restart_clock,
        args=(steps,),
        help=f"{unit.capitalize()} per second while playing. Past {1 / MIN_TICK_S:.0f} per second the "
        "charts redraw a few times a second and skip the steps in between.",
    )
    return step


def _toggle_play(steps: int) -> None:
    """Play starts from the slider's step (from 1 at the end); Pause leaves the slider where play was."""
    state = st.session_state
    playing = not state.get(PLAY_KEY, False)
    if playing:
        start = int(state.get(STEP_KEY, steps))
        first = 1 if start >= steps else start
        state[STEP_KEY] = first
        state[STARTED_KEY] = (clock(), first)
    state[PLAY_KEY] = playing


def _restart_clock(steps: int) -> None:
    """A new speed counts from the step shown now, so the animation does not jump."""
    if st.session_state.get(PLAY_KEY, False):
        st.session_state[STARTED_KEY] = (clock(), int(st.session_state.get(STEP_KEY, 1)))


def _step_by(delta: int, steps: int) -> None:
    state = st.session_state
    state[PLAY_KEY] = False
    state[STEP_KEY] = min(max(int(state.get(STEP_KEY, steps)) + delta, 1), steps)
