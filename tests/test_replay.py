"""Step-by-step replays (rnnlab.replay, rnnlab.replay_stats) checked against the fused PyTorch modules."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnlab.data import step_pixel_indices
from rnnlab.models import SequenceClassifier
from rnnlab.replay import StateTrace, Trace, gradient_through_time, pixel_map, saliency, step_masks, trace
from rnnlab.replay_stats import (
    Population,
    class_means,
    fade,
    gate_stats,
    hints,
    next_mistake,
    population,
    selectivity,
)

ATOL = 1e-5
RECURRENCES = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
IDS = [f"{c}-{n}" for c, n in RECURRENCES]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make_model(cell: str, nonlinearity: str = "tanh", **kwargs) -> SequenceClassifier:
    args = dict(input_size=5, seq_len=9, num_classes=4, hidden_size=6)
    args.update(kwargs)
    return SequenceClassifier(cell=cell, nonlinearity=nonlinearity, **args).eval()


def close(actual, expected, atol=ATOL, rtol=0.0) -> None:
    torch.testing.assert_close(
        torch.as_tensor(actual), torch.as_tensor(expected).float(), atol=atol, rtol=rtol
    )


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize(("cell", "nonlinearity"), RECURRENCES, ids=IDS)
def test_trace_equals_the_fused_model(cell, nonlinearity, num_layers, bidirectional):
    """States, final states and probabilities of one sample equal nn.RNN/LSTM/GRU's to 1e-5."""
    torch.manual_seed(0)
    model = make_model(cell, nonlinearity, num_layers=num_layers, bidirectional=bidirectional)
    x = torch.randn(9, 5)
    replay = trace(model, x)
    with torch.no_grad():
        output, state = model.rnn(x[None])
        expected = model(x[None]).softmax(-1)[0]
    h_n, c_n = state if cell == "lstm" else (state, None)

    top = np.concatenate([d.h for d in replay.layers[-1]], axis=1)  # (T, H * directions)
    close(top, output[0])
    finals = [(d, s) for directions in replay.layers for d, s in enumerate(directions)]
    close(np.stack([s.h[0] if d else s.h[-1] for d, s in finals]), h_n[:, 0])
    if cell == "lstm":
        close(np.stack([s.c[0] if d else s.c[-1] for d, s in finals]), c_n[:, 0])
    close(replay.final_probabilities, expected)
    close(replay.probabilities[-1], expected)
    assert replay.prediction == int(expected.argmax())
    assert replay.probabilities.shape == (9, 4) and replay.inputs.shape == (9, 5)
    gates = {"rnn": set(), "lstm": {"input", "forget", "cell", "output"}, "gru": {"reset", "update", "new"}}
    for directions in replay.layers:
        for s in directions:
            assert set(s.gates) == gates[cell] and all(g.shape == (9, 6) for g in s.gates.values())
            assert (s.c is not None) == (cell == "lstm")


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("readout", ["last", "mean", "all"])
def test_probabilities_after_t_steps_are_the_readout_of_the_first_t_steps(readout, bidirectional):
    """probabilities[t-1] is the model fed x_1..x_t; readout "all" fills the unseen steps' outputs with 0."""
    torch.manual_seed(1)
    model = make_model("gru", readout=readout, num_layers=2, bidirectional=bidirectional)
    x = torch.randn(9, 5)
    replay = trace(model, x)
    for t in (1, 4, 9):
        with torch.no_grad():
            if readout == "all":
                outputs = F.pad(model.rnn(x[None, :t])[0], (0, 0, 0, 9 - t))  # (1, T, features)
                logits = model.head(outputs.flatten(1))
            else:
                logits = model(x[None, :t])
        close(replay.probabilities[t - 1], logits.softmax(-1)[0])
    assert ("bidirectional" in replay.probability_note) == bidirectional
    assert ("zeros" in replay.probability_note) == (readout == "all")


def test_trace_rejects_a_batch():
    with pytest.raises(ValueError, match="one sequence"):
        trace(make_model("rnn"), torch.randn(2, 9, 5))


def test_decision_step_is_where_the_final_answer_starts_to_lead():
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7], [0.1, 0.9]], dtype=np.float32)
    base = trace(make_model("rnn", num_classes=2), torch.randn(9, 5))
    replay = Trace(**{**base.__dict__, "probabilities": probabilities, "prediction": 1})
    assert replay.decision_step() == 4
    steady = Trace(**{**base.__dict__, "probabilities": probabilities[[1, 3, 4]], "prediction": 1})
    assert steady.decision_step() == 1


def fused_gradient_norms(model: SequenceClassifier, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """||dL/dh_t|| of the top layer by autograd on the fused module alone (readout "last", one direction).

    Run the fused module up to step t, make the top layer's h_t a leaf, run the rest of the sequence
    from that state and differentiate the loss: the total gradient through the recurrence.
    """
    steps = x.shape[1]
    norms = []
    for t in range(steps):
        _, state = model.rnn(x[:, : t + 1])
        h, c = state if model.cell == "lstm" else (state, None)
        top = h[-1].detach().clone().requires_grad_(True)  # (B, H)
        h0 = torch.cat([h[:-1].detach(), top[None]])  # (layers, B, H)
        if t + 1 < steps:
            rest, _ = model.rnn(x[:, t + 1 :], h0 if c is None else (h0, c.detach()))
            logits = model.head(rest[:, -1])
        else:
            logits = model.head(top)
        (grad,) = torch.autograd.grad(F.cross_entropy(logits, y, reduction="sum"), top)
        norms.append(grad.norm(dim=-1))
    return torch.stack(norms, dim=1)  # (B, T)


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize(("cell", "nonlinearity"), RECURRENCES, ids=IDS)
def test_gradient_through_time_matches_autograd_on_the_fused_model(cell, nonlinearity, num_layers):
    torch.manual_seed(2)
    model = make_model(cell, nonlinearity, num_layers=num_layers)
    x, y = torch.randn(3, 9, 5), torch.tensor([0, 3, 1])
    per_sample, mean = gradient_through_time(model, x, y)
    expected = fused_gradient_norms(model, x, y)
    close(per_sample, expected, atol=1e-6, rtol=1e-4)
    close(mean, expected.mean(0), atol=1e-6, rtol=1e-4)
    assert (per_sample > 0).all()


def test_gradient_through_time_is_per_sample_and_per_layer():
    """A sample's row does not depend on the batch; `layer` picks the layer; bidirectional adds both."""
    torch.manual_seed(3)
    model = make_model("lstm", num_layers=2, bidirectional=True)
    x, y = torch.randn(4, 9, 5), torch.tensor([0, 1, 2, 3])
    per_sample, _ = gradient_through_time(model, x, y)
    alone, _ = gradient_through_time(model, x[2:3], y[2:3])
    close(per_sample[2], alone[0], atol=1e-6, rtol=1e-5)
    bottom, _ = gradient_through_time(model, x, y, layer=0)
    assert bottom.shape == (4, 9) and not np.allclose(bottom, per_sample)
    with pytest.raises(ValueError, match="batch"):
        gradient_through_time(model, x[0], y)


def test_saliency_is_the_input_gradient_of_the_predicted_score():
    torch.manual_seed(4)
    model = make_model("gru", num_layers=2)
    x = torch.randn(9, 5)
    result = saliency(model, x)
    inputs = x[None].clone().requires_grad_(True)
    logits = model(inputs)
    assert result.target == int(logits.argmax())
    logits[0, result.target].backward()
    close(result.per_input, inputs.grad[0].abs())
    close(result.per_step, inputs.grad[0].norm(dim=-1))
    assert saliency(model, x, target=2).target == 2


@pytest.mark.parametrize("order", ["rows", "columns", "pixels", "permuted"])
def test_pixel_map_and_step_masks_follow_the_reading_order(order):
    index = step_pixel_indices(order).numpy()  # (T, I)
    steps, inputs = index.shape
    per_step = pixel_map(np.arange(steps), order).ravel()
    assert (per_step[index] == np.arange(steps)[:, None]).all()
    per_input = np.random.default_rng(0).random(index.shape).astype(np.float32)
    assert (pixel_map(per_input, order).ravel()[index] == per_input).all()
    seen, current = step_masks(order, 3)
    assert seen.sum() == 3 * inputs and current.sum() == inputs
    assert seen.ravel()[index[:3]].all() and current.ravel()[index[2]].all()
    with pytest.raises(ValueError):
        step_masks(order, steps + 1)


def test_gate_stats_count_shut_and_open_per_unit():
    gate = np.array([[[0.05, 0.5], [0.95, 0.95]], [[0.05, 0.92], [0.5, 0.2]]], dtype=np.float32)  # (N, T, H)
    states = [[StateTrace(h=gate, c=None, gates={"update": gate, "new": gate})]]
    (stats,) = gate_stats(states)  # only sigmoid gates: "new" is a candidate value
    assert stats.gate == "update" and (stats.layer, stats.direction) == (0, 0)
    np.testing.assert_allclose(stats.shut, [0.5, 0.0])
    np.testing.assert_allclose(stats.open, [0.25, 0.5])


def test_population_sees_open_gates_dead_units_and_saturation():
    torch.manual_seed(5)
    images = torch.randint(0, 256, (12, 28, 28), dtype=torch.uint8)
    labels = torch.arange(12) % 4
    lstm = SequenceClassifier(input_size=28, seq_len=28, num_classes=4, cell="lstm", hidden_size=5).eval()
    with torch.no_grad():
        lstm.rnn.bias_hh_l0[5:10] = 30.0  # the forget gate's bias: always wide open
    pop = population(lstm, images, labels, "rows")
    forget = next(s for s in pop.gate_stats if s.gate == "forget")
    assert (forget.open == 1).all() and (forget.shut == 0).all()
    assert pop.h[0][0].shape == (12, 28, 5) and (pop.labels == labels.numpy()).all()

    relu = SequenceClassifier(
        input_size=28, seq_len=28, num_classes=4, cell="rnn", nonlinearity="relu", hidden_size=5
    )
    with torch.no_grad():
        relu.rnn.bias_hh_l0[:2] = -100.0  # two units never switch on
        relu.rnn.bias_hh_l0[2:] = 100.0  # the others always do
    pop = population(relu.eval(), images, labels, "rows", "relu")
    assert (pop.silent[0][0][:2] == 1).all() and (pop.silent[0][0][2:] < 1).all()
    (hint,) = hints(None, pop, "rows", False)
    assert hint.title == "Dead ReLU units" and hint.text.startswith("2 of 5 units")

    tanh = SequenceClassifier(input_size=28, seq_len=28, num_classes=4, cell="rnn", hidden_size=5)
    with torch.no_grad():
        tanh.rnn.bias_hh_l0[:] = 20.0  # every unit pinned at +1
    pop = population(tanh.eval(), images, labels, "rows")
    assert (pop.saturated[0][0] == 1).all()
    assert [h.title for h in hints(None, pop, "rows", False)] == ["Saturated tanh units"]


def test_gradient_hints_for_a_learner():
    vanishing = np.array([1e-6, 1e-3, 1.0])
    (hint,) = hints(vanishing, None, "pixels", False)
    assert hint.title == "Vanishing gradient" and "LSTM" not in hint.text and "shorter order" in hint.text
    assert hints(np.array([1e4, 1.0, 1.0]), None, "rows", False)[0].title == "Exploding gradient"
    assert hints(vanishing, None, "rows", True)[0].level == "success"  # both directions: no rule applies
    healthy = hints(np.array([0.5, 1.0]), None, "rows", False)
    assert [h.level for h in healthy] == ["success"] and "reaches the first steps" in healthy[0].text
    assert "rounds to 0" in fade(np.array([0.0, 2.0])) and "0.5 times" in fade(np.array([1.0, 2.0]))


def test_vanishing_hint_suggests_gates_to_a_plain_rnn():
    pop = Population(
        "rnn", "tanh", np.zeros(1), [[np.zeros((1, 3, 2))]], [], [[np.zeros(2)]], [[np.zeros(2)]]
    )
    (hint,) = hints(np.array([1e-5, 1.0]), pop, "rows", False)
    assert "LSTM or a GRU" in hint.text and "mean" in hint.text


def test_class_means_and_selectivity():
    labels = np.array([0, 0, 1, 1, 1])
    values = np.array([[1, 1], [3, 3], [0, 0], [0, 1], [0, 2]], dtype=np.float32)  # (N, T)
    np.testing.assert_allclose(class_means(values, labels, 3)[:2], [[2, 2], [0, 1]])
    assert np.isnan(class_means(values, labels, 3)[2]).all()
    rng = np.random.default_rng(0)
    h = rng.normal(size=(40, 6, 3)).astype(np.float32)  # (N, T, H)
    classes = np.arange(40) % 2
    h[:, :, 1] += 5 * classes[:, None]  # unit 1 tells the classes apart
    scores = selectivity(h, classes, 2)
    assert scores.argmax() == 1 and scores.min() >= 0 and scores.max() <= 1


def test_next_mistake_wraps_around_and_says_when_there_is_none():
    torch.manual_seed(6)
    model = SequenceClassifier(input_size=28, seq_len=28, num_classes=10, cell="rnn", hidden_size=4).eval()
    images = torch.randint(0, 256, (20, 28, 28), dtype=torch.uint8)
    with torch.no_grad():
        predicted = model(images.float().div(255)).argmax(1)
    labels = predicted.clone()
    assert next_mistake(model, images, labels, "rows", after=0, chunk=6) is None
    labels[[3, 15]] = (labels[[3, 15]] + 1) % 10
    assert next_mistake(model, images, labels, "rows", after=3, chunk=6) == 15
    assert next_mistake(model, images, labels, "rows", after=15, chunk=6) == 3  # wraps around
