"""Evaluation core: each result checked against a case small enough to work out by hand."""

from __future__ import annotations

import pytest
import torch

from rnnlab.config import RunConfig
from rnnlab.evaluation import (
    confusion_matrix,
    evaluate,
    examples_table,
    per_class_accuracy,
    prefix_logits,
    select_examples,
    step_schedule,
)
from rnnlab.hidden_map import pca_2d
from rnnlab.lab import Lab
from rnnlab.models import SequenceClassifier, score
from rnnlab.robustness import LEVELS, perturb, robustness_curve
from rnnlab.store import BrokenRun, RunNotFound

FAST = RunConfig(hidden_size=32, lr=1e-2, batch_size=32, epochs=2, log_every=2, eval_every=8, eval_subset=64)


def tiny_model(readout: str = "last", bidirectional: bool = False, cell: str = "gru") -> SequenceClassifier:
    torch.manual_seed(0)
    model = SequenceClassifier(
        input_size=28,
        seq_len=28,
        num_classes=10,
        cell=cell,
        hidden_size=8,
        bidirectional=bidirectional,
        readout=readout,
    )
    return model.eval()


def random_images(n: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8), torch.arange(n) % 10


def test_confusion_matrix_counts_known_predictions() -> None:
    labels = torch.tensor([0, 0, 1, 1, 1, 2])
    predictions = torch.tensor([0, 1, 1, 1, 2, 0])
    expected = torch.tensor([[1, 1, 0], [0, 2, 1], [1, 0, 0]])
    confusion = confusion_matrix(labels, predictions, 3)
    assert torch.equal(confusion, expected)
    accuracy = per_class_accuracy(confusion)
    assert accuracy.tolist() == pytest.approx([0.5, 2 / 3, 0.0])


def test_per_class_accuracy_is_nan_for_an_absent_class() -> None:
    confusion = confusion_matrix(torch.tensor([0, 0, 1]), torch.tensor([0, 1, 2]), 3)
    accuracy = per_class_accuracy(confusion)
    assert accuracy[0] == 0.5 and accuracy[1] == 0 and torch.isnan(accuracy[2])


def test_confusion_matrix_refuses_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="differ"):
        confusion_matrix(torch.tensor([0, 1]), torch.tensor([0]), 2)


def test_step_schedule_covers_every_step_of_short_sequences_and_ends_at_t() -> None:
    assert step_schedule(28).tolist() == list(range(1, 29))
    long = step_schedule(784, 28)
    assert len(long) == 28 and long[0] == 28 and long[-1] == 784
    assert torch.all(long.diff() > 0)


@pytest.mark.parametrize(
    ("readout", "bidirectional"), [("last", False), ("mean", False), ("all", False), ("last", True)]
)
def test_evaluation_agrees_with_score_and_its_last_step_is_the_plain_accuracy(
    readout: str, bidirectional: bool
) -> None:
    model = tiny_model(readout, bidirectional)
    images, labels = random_images()
    points = 4 if bidirectional else 28  # a bidirectional network rereads each prefix: keep it short
    # Several batches, the last one partial.
    result = evaluate(model, images, labels, "rows", batch_size=16, step_points=points)
    plain = score(model, images, labels, "rows")
    assert result.accuracy == pytest.approx(plain.accuracy)
    assert result.loss == pytest.approx(plain.loss, rel=1e-5)
    assert result.step_accuracy[-1].item() == pytest.approx(plain.accuracy)
    assert result.steps.tolist() == step_schedule(28, points).tolist()
    assert len(result.steps) == points and result.steps[-1] == 28
    assert torch.allclose(result.probabilities.sum(1), torch.ones(len(images)))
    assert result.features.shape == (len(images), 8 * (2 if bidirectional else 1))


@pytest.mark.parametrize("readout", ["last", "mean", "all"])
def test_prefix_logits_equal_the_model_run_on_the_prefix(readout: str) -> None:
    """Reading early means: the network as if the sequence ended at step t (zeros after t for "all")."""
    model = tiny_model(readout)
    x = torch.rand(3, 28, 28)
    outputs, _ = model.rnn(x)
    t = 11
    early = prefix_logits(model, x, outputs, t)
    if readout == "all":
        padded = torch.nn.functional.pad(model.rnn(x[:, :t])[0], (0, 0, 0, 28 - t))
        expected = model.read_out(padded)
    else:
        expected = model(x[:, :t])  # "last" and "mean" accept any length
    assert torch.allclose(early, expected, atol=1e-6)


def test_bidirectional_prefix_rereads_the_short_sequence() -> None:
    model = tiny_model("last", bidirectional=True)
    x = torch.rand(2, 28, 28)
    outputs, _ = model.rnn(x)
    assert torch.allclose(prefix_logits(model, x, outputs, 9), model(x[:, :9]), atol=1e-6)


def test_examples_table_and_selection_order_mistakes_by_confidence() -> None:
    model = tiny_model()
    images, labels = random_images(30)
    result = evaluate(model, images, labels, "rows")
    table = examples_table(result)
    assert len(table) == 30 and list(table.test_index) == list(range(30))
    assert all(len(c) == 3 and len(p) == 3 for c, p in zip(table.top_classes, table.top_probs, strict=True))
    assert all(p[0] >= p[1] >= p[2] for p in table.top_probs)
    assert (table.top_classes.str[0] == table.predicted).all()
    mistakes = select_examples(table)
    assert len(mistakes) == int((result.predictions != result.labels).sum())
    assert not mistakes.correct.any()
    assert list(mistakes.confidence) == sorted(mistakes.confidence, reverse=True)
    true, predicted = int(mistakes.iloc[0].true), int(mistakes.iloc[0].predicted)
    cell = select_examples(table, true, predicted)
    confusion = confusion_matrix(result.labels, result.predictions, 10)
    assert len(cell) == confusion[true, predicted]
    assert ((cell.true == true) & (cell.predicted == predicted)).all()


def test_pca_of_points_on_a_line_and_a_plane() -> None:
    """Points spread 10x more along one direction than another: axis 1 holds that direction."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(200, generator=g) * 10, torch.randn(200, generator=g)
    basis = torch.linalg.qr(torch.randn(5, 5, generator=g))[0]  # orthonormal columns
    features = a[:, None] * basis[:, 0] + b[:, None] * basis[:, 1] + 3.0  # (200, 5), offset
    hidden = pca_2d(features)
    assert hidden.coords.shape == (200, 2) and hidden.explained.shape == (2,)
    var = hidden.coords.var(0)
    assert var[0] > var[1] > 0
    assert hidden.explained[0] > hidden.explained[1]
    assert hidden.explained.sum().item() == pytest.approx(1.0, abs=1e-5)
    along = torch.corrcoef(torch.stack([hidden.coords[:, 0], a]))[0, 1]
    assert along.abs() > 0.99  # axis 1 is the wide direction (its sign is a convention)
    assert torch.equal(pca_2d(features).coords, hidden.coords)  # the same map every time


def test_pca_of_a_single_feature_has_an_empty_second_axis() -> None:
    hidden = pca_2d(torch.arange(5.0).view(5, 1))
    assert torch.all(hidden.coords[:, 1] == 0) and hidden.explained.tolist() == [1.0, 0.0]
    with pytest.raises(ValueError):
        pca_2d(torch.zeros(1, 4))


def test_perturbations_keep_uint8_images_and_level_zero_changes_nothing() -> None:
    images, _ = random_images(6)
    for kind in LEVELS:
        assert torch.equal(perturb(images, kind, 0.0), images)
        changed = perturb(images, kind, LEVELS[kind][-1])
        assert changed.dtype == torch.uint8 and changed.shape == images.shape
        assert not torch.equal(changed, images)
    assert torch.equal(perturb(images, "noise", 0.2, seed=1), perturb(images, "noise", 0.2, seed=1))
    with pytest.raises(ValueError, match="unknown perturbation"):
        perturb(images, "blur", 1.0)


def test_rotation_by_90_degrees_turns_a_bar() -> None:
    image = torch.zeros(1, 28, 28, dtype=torch.uint8)
    image[0, 13:15, 4:24] = 255  # a horizontal bar through the centre
    turned = perturb(image, "rotation", 90.0)[0]
    assert turned[4:24, 13:15].float().mean() > 200 and turned[13:15, :4].max() == 0


def test_robustness_at_zero_is_the_plain_accuracy() -> None:
    model = tiny_model()
    images, labels = random_images(30)
    for kind in LEVELS:
        curve = robustness_curve(model, images, labels, "rows", kind)
        assert list(curve.level) == list(LEVELS[kind])
        assert curve.accuracy[0] == pytest.approx(score(model, images, labels, "rows").accuracy)
        assert curve.accuracy.between(0, 1).all()


def test_a_trained_run_reads_its_bar_before_the_end(lab: Lab) -> None:
    """Class k is a bar at rows 2k+3..2k+4: reading rows, the network knows well before row 28."""
    run = lab.start(FAST)
    assert run.join(60) and run.status().state == "finished", run.status().message
    model, config, dataset = lab.load_for_evaluation(run.run_id)
    result = evaluate(model, dataset.test_images, dataset.test_labels, config.order)
    assert result.accuracy > 0.6
    assert result.step_accuracy[0] < 0.3  # one row in, the bar is not there yet
    assert result.step_accuracy[-1].item() == pytest.approx(result.accuracy)
    noisy = robustness_curve(model, dataset.test_images, dataset.test_labels, config.order, "noise")
    assert noisy.accuracy.iloc[0] == pytest.approx(result.accuracy)


def test_load_for_evaluation_names_what_is_wrong(lab: Lab) -> None:
    with pytest.raises(RunNotFound):
        lab.load_for_evaluation("no-such-run")
    run_id = lab.store.create(FAST)
    with pytest.raises(BrokenRun, match=r"model\.pt"):
        lab.load_for_evaluation(run_id)
    (lab.store.path(run_id) / "model.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(BrokenRun, match="not a loadable"):
        lab.load_for_evaluation(run_id)


def test_evaluate_refuses_empty_and_mismatched_inputs() -> None:
    model = tiny_model()
    images, labels = random_images(4)
    with pytest.raises(ValueError, match="empty"):
        evaluate(model, images[:0], labels[:0], "rows")
    with pytest.raises(ValueError, match="labels"):
        evaluate(model, images, labels[:3], "rows")
