"""The Inside page's sample picker: a test image by index, a random one, the next mistake, or a drawing."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from rnnlab.data import SIDE, ImageDataset
from rnnlab.replay_stats import next_mistake
from rnnlab.ui.format import shown_id
from rnnlab.ui.subjects import DRAWING_KEY, Subject, model_for

SOURCE_KEY = "inside_source"
INDEX_KEY = "inside_index"
NOTICE_KEY = "inside_notice"
INDEX_PARAM = "index"  # ?index=<n> opens test image n (the Evaluate page links here with it)
INDEX_SEEN_KEY = "inside_index_url"  # the ?index= this session last applied or wrote
SOURCES = {"test": "Test image", "drawing": "Your drawing"}


@dataclass(frozen=True)
class Sample:
    """The image to replay and what is known about it."""

    image: np.ndarray  # uint8 (28, 28)
    label: int | None  # the true class; None for a drawing
    description: str


def last_drawing() -> np.ndarray | None:
    """The Draw page's last drawing as uint8 (28, 28), or None when there is none (or it is malformed)."""
    drawing = st.session_state.get(DRAWING_KEY)
    if drawing is None:
        return None
    array = drawing.detach().cpu().numpy() if isinstance(drawing, torch.Tensor) else np.asarray(drawing)
    return array if array.shape == (SIDE, SIDE) and array.dtype == np.uint8 else None


def pick_sample(shown: Subject, dataset: ImageDataset) -> Sample:
    """Widgets choosing the sample; the test-set controls share one index that Random and Next move.

    A new ?index= (a link) picks that test image; the URL then follows the image shown, so a reload
    or a shared link shows it too.
    """
    drawing = last_drawing()
    count = len(dataset.test_images)
    _index_from_url(count)
    source = "test"
    if drawing is not None:
        source = st.segmented_control(
            "Image",
            list(SOURCES),
            format_func=SOURCES.get,
            default="drawing",  # the Draw page sends people here to look at their drawing
            required=True,
            key=SOURCE_KEY,
            help="Replay a test image, or the digit you drew last on the Draw page.",
        )
    if source == "drawing" and drawing is not None:
        _write_index(None)
        return Sample(drawing, None, "your drawing from the Draw page (no true class)")

    index_col, random_col, mistake_col = st.columns([4, 3, 4], vertical_alignment="bottom")
    with index_col:
        index = st.number_input(
            f"Test image (0 to {count - 1:,})",
            min_value=0,
            max_value=count - 1,
            step=1,
            key=INDEX_KEY,
            help="Which image of the run's test set to replay, by its position in the test split.",
        )
    with random_col:
        st.button(
            "Random",
            icon=":material/casino:",
            key="inside_random",
            on_click=_random_index,
            args=(count,),
            help="Jump to a random test image.",
            width="stretch",
        )
    with mistake_col:
        st.button(
            "Next mistake",
            icon=":material/skip_next:",
            key="inside_next_mistake",
            on_click=_next_mistake,
            args=(shown, int(index)),
            help="Jump to the next test image (after this one) that the network gets wrong.",
            width="stretch",
        )
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.success(notice)
    _write_index(int(index))
    label = int(dataset.test_labels[index])
    name = dataset.classes[label]
    return Sample(dataset.test_images[index].numpy(), label, f"test image {index:,} (true class: {name})")


def _index_from_url(count: int) -> None:
    """Apply a ?index= this session has not seen yet; one that names no test image is said, not used."""
    raw = st.query_params.get(INDEX_PARAM)
    if raw is None or raw == st.session_state.get(INDEX_SEEN_KEY):
        return
    st.session_state[INDEX_SEEN_KEY] = raw
    text = raw.strip()
    if text.isdigit() and int(text) < count:
        st.session_state[INDEX_KEY] = int(text)
        st.session_state[SOURCE_KEY] = "test"  # the link names a test image, not the drawing
        return
    st.warning(
        f"There is no test image `{shown_id(raw)}` in this run's test set (0 to {count - 1:,}); showing "
        "the one chosen below instead.",
        icon=":material/link_off:",
    )


def _write_index(index: int | None) -> None:
    """The URL names the test image shown (no ?index= for a drawing)."""
    if index is None:
        if INDEX_PARAM in st.query_params:
            del st.query_params[INDEX_PARAM]
        st.session_state[INDEX_SEEN_KEY] = None
        return
    if st.query_params.get(INDEX_PARAM) != str(index):
        st.query_params[INDEX_PARAM] = str(index)
    st.session_state[INDEX_SEEN_KEY] = str(index)


def _random_index(count: int) -> None:
    st.session_state[INDEX_KEY] = random.randrange(count)


def _next_mistake(shown: Subject, current: int) -> None:
    model, config, dataset = model_for(*shown.key)
    found = next_mistake(model, dataset.test_images, dataset.test_labels, config.order, current)
    if found is None:
        st.session_state[NOTICE_KEY] = "No mistakes: the network classifies every test image right."
    else:
        st.session_state[INDEX_KEY] = found
