"""Draw: sketch a digit and watch a trained network read it, the way it reads MNIST."""

import streamlit as st

from rnnlab.drawing import best_digit_run
from rnnlab.ui import draw_view
from rnnlab.ui.state import get_lab
from rnnlab.ui.widgets import NO_WEIGHTS, RUN_PARAM, has_weights, pick_run

lab = get_lab()
st.title("Draw")
st.caption(
    "Draw a digit and see what a trained network reads: the 28x28 image it receives, its answer, and how "
    "the answer formed as it read the image step by step."
)

usable = has_weights(lab)
best = best_digit_run([s for s in lab.list_runs() if usable(s)])
if best is None:
    draw_view.offer_quick_digits(lab)

chosen = pick_run(
    lab,
    key="draw_run",
    label="Model",
    where=usable,
    unusable=NO_WEIGHTS,
    default=best.run_id if best else None,  # the best finished digit run, unless a link names another
    help="The run that reads your drawing, with its latest weights. By default the finished MNIST or "
    "KMNIST run with the best test accuracy.",
)
if chosen is None:  # nothing has weights, so there is no best digit run: the offer above says what to do
    st.stop()
st.query_params[RUN_PARAM] = chosen.run_id  # the URL names the model shown, so it can be shared or reloaded

loaded = draw_view.load_model(lab, chosen)
if loaded is None:
    st.stop()
model, config = loaded
draw_view.describe_model(config)
draw_view.drawing_panel(model, config, chosen.run_id)
