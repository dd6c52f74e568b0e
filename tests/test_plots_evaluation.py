"""Evaluate page figures: the data lands where a reader looks for it, and clicks carry what the page needs."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch

from rnnlab.plots.evaluation import (
    Series,
    confusion_figure,
    hidden_map_figure,
    per_class_figure,
    robustness_figure,
    steps_figure,
    thumbnail,
)

CLASSES = ("a", "b", "c")
COLOURS = {"r1": "#111111", "r2": "#222222"}


def test_confusion_figure_colours_by_row_share_and_makes_every_cell_clickable() -> None:
    confusion = torch.tensor([[3, 1, 0], [0, 2, 2], [0, 0, 0]])
    fig = confusion_figure(confusion, CLASSES)
    heatmap, cells = fig.data
    assert isinstance(heatmap, go.Heatmap) and isinstance(cells, go.Scatter)
    assert np.allclose(heatmap.z, [[0.75, 0.25, 0], [0, 0.5, 0.5], [0, 0, 0]])  # an empty row stays 0
    assert heatmap.text[0].tolist() == ["3", "1", ""]  # counts written, zeros left blank
    assert len(cells.x) == 9
    # customdata row k: [true, predicted, count, share]; cell (1, 2) holds 2 images, half of row b
    row = next(r for r in cells.customdata if r[0] == 1 and r[1] == 2)
    assert row[2] == 2 and row[3] == 0.5
    assert list(fig.layout.yaxis.ticktext) == list(CLASSES) and fig.layout.yaxis.autorange == "reversed"
    assert not fig.layout.shapes
    outlined = confusion_figure(confusion, CLASSES, selected=(1, 2)).layout.shapes[0]
    assert (outlined.x0, outlined.x1, outlined.y0, outlined.y1) == (1.5, 2.5, 0.5, 1.5)


def test_per_class_figure_groups_one_bar_per_run() -> None:
    series = [Series("r1", "one", range(3), [1.0, 0.5, 0.0]), Series("r2", "two", range(3), [0.9, 0.8, 0.7])]
    fig = per_class_figure(series, CLASSES, COLOURS)
    assert [t.name for t in fig.data] == ["one", "two"]
    assert list(fig.data[0].x) == list(CLASSES) and list(fig.data[1].y) == [0.9, 0.8, 0.7]
    assert fig.data[0].marker.color == "#111111" and fig.layout.barmode == "group"


def test_steps_figure_uses_steps_for_one_length_and_shares_for_mixed_lengths() -> None:
    rows = Series("r1", "rows", [14, 28], [0.5, 0.9])
    pixels = Series("r2", "pixels", [392, 784], [0.3, 0.8])
    same = steps_figure([rows], {"r1": "rows"}, COLOURS, chance=0.1)
    assert list(same.data[0].x) == [14, 28] and same.layout.xaxis.title.text == "rows read"
    columns = Series("r2", "columns", [14, 28], [0.4, 0.8])
    mixed_units = steps_figure([rows, columns], {"r1": "rows", "r2": "columns"}, COLOURS, chance=0.1)
    assert mixed_units.layout.xaxis.title.text == "steps read"  # both 28 steps, of different kinds
    mixed = steps_figure([rows, pixels], {"r1": "rows", "r2": "pixels"}, COLOURS, chance=0.1)
    assert list(mixed.data[1].x) == [0.5, 1.0] and list(mixed.data[1].customdata) == [392, 784]
    assert mixed.layout.xaxis.title.text == "share of the sequence read"
    assert mixed.layout.shapes[0].y0 == 0.1  # the chance line


def test_hidden_map_figure_has_a_trace_per_present_class_and_crosses_for_mistakes() -> None:
    coords = torch.tensor([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]])
    labels = torch.tensor([0, 0, 2, 2])
    predictions = torch.tensor([0, 1, 2, 2])
    fig = hidden_map_figure(
        coords, torch.tensor([0.6, 0.3]), labels, predictions, torch.tensor([5, 6, 7, 8]), CLASSES
    )
    assert [t.name for t in fig.data] == ["a", "c"]  # class b has no samples
    first = fig.data[0]
    assert list(first.marker.symbol) == ["circle", "x"]
    assert np.asarray(first.customdata).tolist() == [[5, 0, 0], [6, 0, 1]]  # [test index, true, predicted]
    assert "60%" in fig.layout.xaxis.title.text and "30%" in fig.layout.yaxis.title.text


def test_robustness_figure_draws_a_line_per_run() -> None:
    series = [Series("r1", "one", [0, 10], [0.9, 0.5])]
    fig = robustness_figure("rotation", series, COLOURS, chance=0.1)
    assert list(fig.data[0].y) == [0.9, 0.5] and "degrees" in fig.layout.xaxis.title.text


def test_thumbnail_scales_pixels_into_blocks() -> None:
    image = torch.zeros(28, 28, dtype=torch.uint8)
    image[3, 5] = 200
    big = thumbnail(image, scale=4)
    assert big.shape == (112, 112) and big.dtype == np.uint8
    assert (big[12:16, 20:24] == 200).all() and big.sum() == 200 * 16
