"""The Evaluate page's sections: clickable confusion matrix, example gallery, map preview, comparisons."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st
import torch

from rnnlab.evaluation import (
    Evaluation,
    confusion_matrix,
    examples_table,
    per_class_accuracy,
    select_examples,
)
from rnnlab.hidden_map import HiddenMap
from rnnlab.plots.evaluation import (
    Series,
    confusion_figure,
    hidden_map_figure,
    per_class_figure,
    robustness_figure,
    steps_figure,
    thumbnail,
)
from rnnlab.robustness import LEVELS
from rnnlab.store import RunSummary
from rnnlab.ui.evaluate_cache import robustness
from rnnlab.ui.format import percent, plain
from rnnlab.ui.pages import INSIDE
from rnnlab.ui.subjects import LOAD_ERRORS, Subject, explain
from rnnlab.values import finite_or

TRUE_KEY = "evaluate_true_class"
PREDICTED_KEY = "evaluate_predicted_class"
CONFUSION_KEY = "evaluate_confusion"
MAP_KEY = "evaluate_hidden_map"
GALLERY_COLUMNS = 6
GALLERY_SIZE = 24
READOUT_NOTES = {
    "last": "readout “last” reads the hidden state after step t",
    "mean": "readout “mean” reads the mean of the outputs of steps 1..t",
    "all": "readout “all” sees the outputs of steps 1..t and zeros for the steps not read yet",
}


def confusion_and_examples(
    evaluation: Evaluation, classes: Sequence[str], images: torch.Tensor, run_id: str
) -> None:
    """The matrix, the cell chosen (by a click or the two selectboxes) and that cell's examples."""
    chart, controls = st.columns([3, 2], gap="large")
    with controls:
        st.markdown("**Which examples to show**")
        st.caption(
            "Click a cell of the matrix, or choose the classes here. Leave both on *any* for the mistakes."
        )
        options = [None, *range(len(classes))]

        def name(k: int | None) -> str:
            return "any" if k is None else classes[k]

        true = st.selectbox(
            "True class", options, format_func=name, key=TRUE_KEY, help="Show images of this class only."
        )
        predicted = st.selectbox(
            "Predicted class",
            options,
            format_func=name,
            key=PREDICTED_KEY,
            help="Show images the network assigned to this class only.",
        )
        st.button(
            "Show all mistakes",
            key="evaluate_all_mistakes",
            on_click=_choose_cell,
            args=(None, None),
            help="Forget the chosen cell and list every misclassified image, most confident first.",
            disabled=true is None and predicted is None,
        )
    with chart:
        confusion = confusion_matrix(evaluation.labels, evaluation.predictions, evaluation.num_classes)
        selected = (true, predicted) if true is not None and predicted is not None else None
        st.plotly_chart(
            confusion_figure(confusion, classes, selected),
            key=CONFUSION_KEY,
            on_select=_on_cell_clicked,
            selection_mode="points",
            config={"displayModeBar": False},
        )
    rows = select_examples(examples_table(evaluation), true, predicted)
    st.subheader(_gallery_title(rows, len(evaluation.labels), classes, true, predicted))
    gallery(rows, images, classes, run_id, cell=true is not None or predicted is not None)


def gallery(
    rows: pd.DataFrame, images: torch.Tensor, classes: Sequence[str], run_id: str, cell: bool
) -> None:
    """A grid of thumbnails with truth, prediction and top-3 probabilities, each linked to the Inside page."""
    if rows.empty:
        st.info(
            "No test image falls in this cell." if cell else "No mistakes: every image evaluated is right."
        )
        return
    shown = rows.head(GALLERY_SIZE)
    if len(rows) > len(shown):
        st.caption(f"Showing the {len(shown)} most confident of {len(rows)}.")
    for start in range(0, len(shown), GALLERY_COLUMNS):
        for column, row in zip(
            st.columns(GALLERY_COLUMNS),
            shown.iloc[start : start + GALLERY_COLUMNS].itertuples(),
            strict=False,
        ):
            with column, st.container(border=True):
                example_card(row, images, classes, run_id)


def example_card(row, images: torch.Tensor, classes: Sequence[str], run_id: str) -> None:
    """One test image: what it is, what the network said and how sure it was, and a way inside."""
    st.image(thumbnail(images[row.test_index]), width=112)
    colour = "green" if row.correct else "red"
    st.markdown(f"true **{classes[row.true]}** · said :{colour}[**{classes[row.predicted]}**]")
    guesses = "  \n".join(
        f"**{classes[k]}** {_share(p)}" for k, p in zip(row.top_classes, row.top_probs, strict=True)
    )
    st.caption(f"#{row.test_index} · top 3:  \n{guesses}")
    st.page_link(
        INSIDE,
        label="See inside",
        icon=":material/visibility:",
        query_params={"run": run_id, "index": str(row.test_index)},
        help=f"Replay test image #{row.test_index} step by step on the Inside page",
    )


def hidden_map_view(
    evaluation: Evaluation, hidden: HiddenMap, classes: Sequence[str], images: torch.Tensor, run_id: str
) -> None:
    """The map, and beside it the image of the point last clicked (Plotly cannot show images on hover)."""
    chart, preview = st.columns([4, 1], gap="medium")
    with chart:
        event = st.plotly_chart(
            hidden_map_figure(
                hidden.coords,
                hidden.explained,
                evaluation.labels,
                evaluation.predictions,
                evaluation.indices,
                classes,
            ),
            key=MAP_KEY,
            on_select="rerun",
            selection_mode="points",
        )
    with preview:
        points = event.selection.points if event is not None else []
        table = examples_table(evaluation)
        # A selection made on another run's map may name an image this evaluation does not hold.
        rows = table[table.test_index == int(points[0]["customdata"][0])] if points else table.iloc[:0]
        if rows.empty:
            st.caption("Click a point to see its image here.")
            return
        example_card(next(rows.itertuples()), images, classes, run_id)


def _share(p: float) -> str:
    return "<1%" if p < 0.005 else f"{p:.0%}"


def _on_cell_clicked() -> None:
    """Copy the clicked cell into the two selectboxes, which then hold the choice for every rerun."""
    points = st.session_state[CONFUSION_KEY].selection.points
    if points:
        true, predicted = points[0]["customdata"][:2]
        _choose_cell(int(true), int(predicted))


def _choose_cell(true: int | None, predicted: int | None) -> None:
    st.session_state[TRUE_KEY] = true
    st.session_state[PREDICTED_KEY] = predicted


def _gallery_title(
    rows: pd.DataFrame, total: int, classes: Sequence[str], true: int | None, predicted: int | None
) -> str:
    if true is None and predicted is None:
        return f"Mistakes: {len(rows)} of {total} test images"
    what = " · ".join(
        part
        for part in (
            f"true {classes[true]}" if true is not None else "",
            f"predicted {classes[predicted]}" if predicted is not None else "",
        )
        if part
    )
    return f"{what}: {len(rows)} images"


def metrics_row(subjects: Sequence[Subject], results: dict[str, Evaluation]) -> None:
    """The headline numbers of the run, then each compared run's accuracy against it."""
    main = results[subjects[0].run_id]
    mistakes = int((main.predictions != main.labels).sum())
    latest = (
        "Accuracy of the run's latest weights on the test images evaluated here. The Runs table's *best "
        "test acc* is the best epoch's accuracy on the whole test set: higher when a later epoch got "
        "worse, and different when fewer images are evaluated."
    )
    cards = [
        ("Accuracy, latest weights", percent(main.accuracy), None, latest),
        ("Mistakes", f"{mistakes:,}", None, "Test images evaluated here that the network gets wrong."),
        ("Test loss", f"{main.loss:.3f}", None, "Mean cross-entropy over the test images evaluated here."),
        ("Images evaluated", f"{len(main.labels):,}", None, "The first images of the run's test split."),
    ]
    cards += [
        (
            s.label,
            percent(results[s.run_id].accuracy),
            results[s.run_id].accuracy - main.accuracy,
            f"Accuracy of {s.label}'s latest weights, against {subjects[0].label}",
        )
        for s in subjects[1:]
    ]
    for column, (label, value, delta, about) in zip(st.columns(len(cards)), cards, strict=True):
        change = None if delta is None else f"{100 * delta:+.1f} points"
        column.metric(label, value, change, border=True, help=about)


def against_best(summary: RunSummary, evaluation: Evaluation, live_step: int | None) -> str:
    """One line that says which weights were measured here, beside the run's best epoch (the Runs table)."""
    status = summary.status
    best = finite_or(status.get("best_test_acc"), None)
    if live_step is not None:
        weights = f"its weights at step {live_step:,}, still training"
    else:
        weights = f"its saved weights (step {int(finite_or(status.get('step'), 0)):,})"
    text = f"Measured here: {weights}, on the first {len(evaluation.labels):,} test images."
    if best is not None:
        text += (
            f" Its best epoch scored {percent(best)} on the whole test set: that is the Runs table's "
            "*best test acc*."
        )
    return text


def per_class_view(
    subjects: Sequence[Subject],
    results: dict[str, Evaluation],
    classes: Sequence[str],
    colours: dict[str, str],
) -> None:
    accuracy = {}
    for s in subjects:
        r = results[s.run_id]
        accuracy[s.run_id] = per_class_accuracy(confusion_matrix(r.labels, r.predictions, r.num_classes))
    series = [Series(s.run_id, s.label, range(len(classes)), accuracy[s.run_id].tolist()) for s in subjects]
    st.plotly_chart(per_class_figure(series, classes, colours), key="evaluate_per_class")
    main = subjects[0]
    worst = int(accuracy[main.run_id].nan_to_num(2.0).argmin())
    share = percent(float(accuracy[main.run_id][worst]))
    st.caption(f"Hardest class for {plain(main.label)}: **{classes[worst]}** ({share} right).")


def steps_view(
    subjects: Sequence[Subject],
    results: dict[str, Evaluation],
    classes: Sequence[str],
    colours: dict[str, str],
) -> None:
    series = [
        Series(s.run_id, s.label, results[s.run_id].steps.tolist(), results[s.run_id].step_accuracy.tolist())
        for s in subjects
    ]
    orders = {s.run_id: s.config.order for s in subjects}
    st.plotly_chart(steps_figure(series, orders, colours, 1 / len(classes)), key="evaluate_steps")
    notes = "; ".join(sorted({READOUT_NOTES[s.config.readout] for s in subjects}))
    st.caption(
        f"Each point asks the network for its answer as if the sequence ended after step t: {notes}. "
        "A bidirectional network reads the shortened sequence in both directions. The last point is the "
        "plain accuracy."
    )


def robustness_view(
    subjects: Sequence[Subject], limit: int, classes: Sequence[str], colours: dict[str, str]
) -> None:
    """Noise and rotation curves side by side; each curve is several passes, so each is cached on its own."""
    st.caption(
        "Accuracy when the test images are disturbed: Gaussian noise added to every pixel (σ in units of "
        "full brightness, clipped to the valid range), or the image turned counterclockwise about its centre."
    )
    curves: dict[str, list[Series]] = {kind: [] for kind in LEVELS}
    jobs = [(s, kind) for s in subjects for kind in LEVELS]
    progress = st.progress(0.0)
    for done, (s, kind) in enumerate(jobs):
        progress.progress(
            done / len(jobs), text=f"Measuring {plain(s.label)} under {kind} ({done + 1} of {len(jobs)})…"
        )
        try:
            curve = robustness(*s.key, limit, kind)
        except LOAD_ERRORS as error:
            st.warning(f"**{plain(s.label)}**: {explain(error)}")
            continue
        curves[kind].append(Series(s.run_id, s.label, curve.level.tolist(), curve.accuracy.tolist()))
    progress.empty()
    for column, kind in zip(st.columns(2), LEVELS, strict=True):
        figure = robustness_figure(kind, curves[kind], colours, 1 / len(classes))
        column.plotly_chart(figure, key=f"evaluate_{kind}")
