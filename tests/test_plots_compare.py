"""Overlay figures: one trace per run, named and coloured the same way in every figure."""

from __future__ import annotations

import numpy as np

from rnnlab.compare import Curve
from rnnlab.plots.compare import (
    ACCURACY_TITLE,
    LOSS_TITLE,
    PALETTE,
    accuracy_figure,
    loss_figure,
    run_colours,
)


def curve(run_id: str, label: str, n: int = 5) -> Curve:
    x = np.arange(1, n + 1, dtype=float)
    return Curve(run_id, label, x, 1.0 / x)


def test_colours_are_distinct_and_follow_the_selection_order():
    colours = run_colours([f"r{i}" for i in range(10)])
    assert len(set(colours.values())) == 10
    assert run_colours(["b", "a"]) == {"b": PALETTE[0], "a": PALETTE[1]}


def test_loss_figure_overlays_one_named_line_per_run():
    colours = run_colours(["a", "b"])
    fig = loss_figure([curve("a", "lstm"), curve("b", "gru")], colours, "step", smoothing=0.6)
    assert fig.layout.title.text == LOSS_TITLE == "Loss"
    assert [t.name for t in fig.data] == ["lstm", "gru"]
    assert [t.line.color for t in fig.data] == [colours["a"], colours["b"]]
    assert fig.layout.xaxis.title.text == "step"
    assert fig.layout.yaxis.type == "log"
    assert "0.6" in fig.layout.title.subtitle.text
    np.testing.assert_allclose(fig.data[1].y, 1.0 / np.arange(1, 6))


def test_raw_loss_has_no_smoothing_note():
    fig = loss_figure([curve("a", "a")], run_colours(["a"]), "epoch", smoothing=0.0)
    assert not fig.layout.title.subtitle.text


def test_accuracy_figure_pairs_train_lines_with_their_run():
    colours = run_colours(["a", "b"])
    fig = accuracy_figure(
        [curve("a", "lstm"), curve("b", "gru")],
        colours,
        "epoch",
        train=[curve("a", "lstm"), curve("b", "gru")],
    )
    assert fig.layout.title.text == ACCURACY_TITLE == "Test accuracy"
    assert [t.name for t in fig.data] == ["lstm", "gru", "lstm (train)", "gru (train)"]
    assert [t.line.dash for t in fig.data] == ["solid", "solid", "dash", "dash"]
    assert fig.data[0].line.color == fig.data[2].line.color == colours["a"]
    assert fig.data[0].legendgroup == fig.data[2].legendgroup == "a"
    assert [t.showlegend for t in fig.data] == [True, True, False, False]  # one legend entry per run
    assert fig.layout.yaxis.tickformat == ".0%"


def test_same_run_same_colour_in_both_figures():
    colours = run_colours(["x", "y"])
    curves = [curve("x", "first"), curve("y", "second")]
    loss = loss_figure(curves, colours, "step", 0.0)
    accuracy = accuracy_figure(curves, colours, "step")
    assert [t.line.color for t in loss.data] == [t.line.color for t in accuracy.data]


def test_empty_figures_say_why_instead_of_drawing_blank_axes():
    empty = Curve("a", "a", np.array([]), np.array([]))
    fig = accuracy_figure([empty], run_colours(["a"]), "epoch")
    assert "epoch" in fig.layout.annotations[0].text
    assert loss_figure([], {}, "step", 0.0).layout.annotations[0].text.startswith("No loss")
    assert not loss_figure([curve("a", "a")], run_colours(["a"]), "step", 0.0).layout.annotations
