"""Figures of the Inside page: what each one draws, checked on small hand-made inputs."""

import numpy as np
import pytest

from rnnlab.plots.replay import (
    CURSOR_COLOUR,
    TRUE_COLOUR,
    gates_step_figure,
    gates_time_figure,
    heatmap_figure,
    input_figure,
    probability_lines_figure,
    probability_step_figure,
    reading_figure,
    state_figure,
)
from rnnlab.plots.replay_stats import GradientSeries, gate_stats_figure, gradient_figure, unit_figure
from rnnlab.replay_stats import GateStats

CLASSES = ("zero", "one", "two")
IMAGE = np.arange(784, dtype=np.uint8).reshape(28, 28)


def boxes(fig) -> list[tuple[float, float, float, float]]:
    return [(s.x0, s.x1, s.y0, s.y1) for s in fig.layout.shapes if s.type == "rect"]


def test_reading_figure_reveals_the_rows_read_and_boxes_the_current_one():
    saliency = np.linspace(0, 1, 28)
    fig = reading_figure(IMAGE, "rows", 5, saliency)
    faint, seen, strip = fig.data
    assert faint.opacity < 0.5 and faint.hoverinfo == "skip"
    assert not np.isnan(seen.z[:5]).any() and np.isnan(seen.z[5:]).all()
    assert strip.z.shape == (28, 1) and list(strip.x) == [29]  # one cell beside each row
    assert (-0.5, 27.5, 3.5, 4.5) in boxes(fig)  # row 5 of the image
    assert (28.5, 29.5, 3.5, 4.5) in boxes(fig)  # and its saliency cell
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.title.text == "After 5 rows"


def test_reading_figure_for_row_pairs_boxes_both_rows_of_a_step_and_repeats_its_saliency():
    saliency = np.arange(14, dtype=np.float32)
    fig = reading_figure(IMAGE, "row-pairs", 3, saliency)
    seen, strip = fig.data[1].z, fig.data[2]
    assert not np.isnan(seen[:6]).any() and np.isnan(seen[6:]).all()  # 3 steps: rows 1 to 6
    assert strip.z.shape == (28, 1) and list(strip.x) == [29]
    assert np.array_equal(np.asarray(strip.z)[:, 0], np.repeat(saliency, 2))  # both rows of a pair alike
    assert (-0.5, 27.5, 3.5, 5.5) in boxes(fig)  # rows 5 and 6
    assert (28.5, 29.5, 3.5, 5.5) in boxes(fig)  # and their saliency cells
    assert fig.layout.title.text == "After 3 row pairs"


@pytest.mark.parametrize("order", ["columns", "pixels", "permuted"])
def test_reading_figure_for_other_orders(order):
    steps = 28 if order == "columns" else 784
    fig = reading_figure(IMAGE, order, 3, np.ones(steps))
    seen = fig.data[1].z
    assert (~np.isnan(seen)).sum() == (3 * 28 if order == "columns" else 3)
    strip = fig.data[2]
    if order == "columns":
        assert strip.z.shape == (1, 28) and list(strip.y) == [29]  # below the image
        assert (1.5, 2.5, 28.5, 29.5) in boxes(fig)
    else:
        assert strip.z.shape == (28, 28) and min(strip.x) == 30  # a map beside the image
        (x0, x1, y0, y1), *_ = boxes(fig)
        assert x1 - x0 == 1 and y1 - y0 == 1  # one pixel outlined
    assert len(reading_figure(IMAGE, order, 3).data) == 2  # without saliency: the image alone


def test_heatmap_cursor_moves_and_veils_the_unread_steps():
    h = np.zeros((10, 4), dtype=np.float32)
    fig = heatmap_figure(h, 3, zmax=2.0)
    assert fig.data[0].z.shape == (4, 10) and fig.data[0].zmin == -2.0  # units x steps
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    veils = [s for s in fig.layout.shapes if s.type == "rect"]
    assert lines[0].x0 == 3 and lines[0].line.color == CURSOR_COLOUR
    assert (veils[0].x0, veils[0].x1) == (3.5, 10.5)
    assert not [s for s in heatmap_figure(h, 10).layout.shapes if s.type == "rect"]  # all read: no veil


def test_probability_figures_mark_the_answer_and_the_truth():
    probabilities = np.array([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]], dtype=np.float32)  # (T, C)
    fig = probability_lines_figure(probabilities, CLASSES, 1, prediction=2, label=1)
    assert [t.name for t in fig.data][-1] == "two"  # the answer is drawn on top
    colours = {t.name: t.line.color for t in fig.data}
    assert colours["two"] == CURSOR_COLOUR and colours["one"] == TRUE_COLOUR
    assert [a.text for a in fig.layout.annotations] == ["one", "two"]
    bars = probability_step_figure(probabilities[0], CLASSES, label=1)
    assert "one (true)" in bars.layout.yaxis.ticktext[1] and bars.layout.yaxis.ticktext[0] == "zero"
    assert probability_step_figure(probabilities[0], CLASSES).layout.yaxis.ticktext is None


def test_state_and_input_strips():
    fig = state_figure([("layer 1", np.ones(6)), ("layer 2", -np.ones(6))], zmax=3.0)
    assert fig.data[0].z.shape == (2, 6) and (fig.data[0].zmin, fig.data[0].zmax) == (-3.0, 3.0)
    assert list(fig.data[0].y) == ["layer 1", "layer 2"]
    row = input_figure(np.linspace(0, 1, 28), "rows", 4)
    assert row.data[0].z.shape == (1, 28) and row.data[0].texttemplate is None
    pixel = input_figure(np.array([0.25]), "pixels", 4)
    assert pixel.data[0].texttemplate and "pixel 4" in pixel.layout.title.text


def test_lstm_gates_come_first_then_candidate_and_cell_each_on_its_scale():
    gates = {name: np.full(5, 0.5) for name in ("input", "forget", "cell", "output")}
    fig = gates_step_figure(gates, np.full(5, 3.0), c_max=3.0)
    names = list(fig.layout.yaxis.ticktext)
    assert names == [
        "input gate i (write)",
        "forget gate f (keep)",
        "output gate o (show)",
        "candidate g",
        "cell state c",
    ]
    assert [t.coloraxis for t in fig.data] == ["coloraxis"] * 3 + ["coloraxis2", "coloraxis3"]
    assert fig.layout.coloraxis3.cmax == 3.0 and fig.layout.coloraxis.cmin == 0
    over_time = gates_time_figure({"update": np.full((7, 3), 0.25), "new": np.zeros((7, 3))}, 2)
    (line,) = over_time.data  # the candidate is not a gate
    np.testing.assert_allclose(line.y, 0.25)


def test_gradient_figure_overlays_runs_on_a_log_axis():
    mean, sample = np.array([0.0, 1e-3, 1.0]), np.array([1e-2, 0.1, 1.0])
    fig = gradient_figure([GradientSeries("rnn", mean, sample), GradientSeries("lstm", np.ones(3))])
    assert [t.name for t in fig.data] == ["rnn · batch mean", "rnn · this sample", "lstm · batch mean"]
    assert np.isnan(fig.data[0].y[0])  # a gradient of 0 has no place on a log axis
    assert fig.layout.yaxis.type == "log"
    assert list(fig.layout.yaxis.ticktext) == ["0.001", "0.01", "0.1", "1"]
    assert fig.data[0].line.color != fig.data[2].line.color and fig.data[1].line.dash == "dot"
    steep = gradient_figure([GradientSeries("pixels", np.logspace(-24, 0, 50))])
    assert 4 <= len(steep.layout.yaxis.tickvals) <= 8  # 24 decades: a power of ten every few


def test_gate_stats_figure_splits_each_units_time():
    stats = [
        GateStats(0, 0, "forget", shut=np.array([0.1, 0.0, 0.5]), open=np.array([0.2, 0.9, 0.1])),
        GateStats(0, 0, "input", shut=np.zeros(3), open=np.ones(3)),
    ]
    fig = gate_stats_figure(stats)
    assert len(fig.data) == 6 and fig.layout.barmode == "stack"
    shut, between, wide = fig.data[:3]
    np.testing.assert_allclose(np.array(shut.y) + np.array(between.y) + np.array(wide.y), 1)
    assert list(wide.y) == [0.9, 0.2, 0.1] and list(shut.customdata) == ["unit 1", "unit 0", "unit 2"]
    assert "forget gate f (keep)" in fig.layout.annotations[0].text


def test_unit_figure_draws_a_few_samples_and_every_class_mean():
    values = np.arange(24, dtype=np.float32).reshape(8, 3)  # (N, T)
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 1])
    fig = unit_figure(values, labels, CLASSES, "Unit 0", lines_per_class=2)
    means = [t for t in fig.data if t.showlegend is not False]
    assert [t.name for t in means] == ["zero", "one"]  # class "two" has no sample
    np.testing.assert_allclose(means[0].y, values[:3].mean(0))
    assert len(fig.data) == 2 + 2 + 2  # two faint lines per class, one mean each
