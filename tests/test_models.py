"""SequenceClassifier and the from-scratch cells, checked against PyTorch's fused modules."""

import pytest
import torch
from torch import nn

from rnnlab.config import CELLS, ORDERS, READOUTS, RunConfig
from rnnlab.data import sequence_shape
from rnnlab.models import SequenceClassifier, scratch_forward

ATOL = 1e-5
# (cell, nonlinearity): every recurrence the fused modules offer.
RECURRENCES = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
SIGMOID_GATES = {"input", "forget", "output", "reset", "update"}
TANH_GATES = {"cell", "new"}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make_model(cell: str, nonlinearity: str = "tanh", **kwargs) -> SequenceClassifier:
    args = dict(input_size=5, seq_len=9, num_classes=4, hidden_size=6)
    args.update(kwargs)
    return SequenceClassifier(cell=cell, nonlinearity=nonlinearity, **args).eval()


def scale_recurrent_weights(model: SequenceClassifier, factor: float) -> None:
    with torch.no_grad():
        for p in model.rnn.parameters():
            p.mul_(factor)


def assert_matches_fused(rnn: nn.RNNBase, x: torch.Tensor) -> None:
    fused = rnn(x)
    trace = scratch_forward(rnn, x)
    output, state = fused
    h_n, c_n = state if isinstance(state, tuple) else (state, None)
    torch.testing.assert_close(trace.output, output, atol=ATOL, rtol=0)
    torch.testing.assert_close(trace.h_n, h_n, atol=ATOL, rtol=0)
    if c_n is None:
        assert trace.c_n is None
    else:
        torch.testing.assert_close(trace.c_n, c_n, atol=ATOL, rtol=0)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize(("cell", "nonlinearity"), RECURRENCES, ids=[f"{c}-{n}" for c, n in RECURRENCES])
def test_scratch_equals_fused(cell, nonlinearity, num_layers, bidirectional):
    """The from-scratch cells reproduce the fused module's output, h_n and c_n."""
    torch.manual_seed(0)
    model = make_model(cell, nonlinearity, num_layers=num_layers, bidirectional=bidirectional)
    assert_matches_fused(model.rnn, torch.randn(3, 9, 5))


@pytest.mark.parametrize("cell", CELLS)
def test_scratch_equals_fused_when_saturated(cell):
    """With weights scaled up x3 the tanh units saturate, and the replay still matches."""
    torch.manual_seed(1)
    model = make_model(cell, num_layers=2, bidirectional=True)
    scale_recurrent_weights(model, 3.0)
    x = torch.randn(3, 9, 5) * 2
    assert_matches_fused(model.rnn, x)
    if cell == "rnn":
        assert (scratch_forward(model.rnn, x).output.abs() > 0.99).float().mean() > 0.2


@pytest.mark.parametrize("readout", READOUTS)
@pytest.mark.parametrize("cell", CELLS)
def test_forward_traced_equals_forward(cell, readout):
    """Both paths give the same logits; inter-layer dropout is off in eval mode, as documented."""
    torch.manual_seed(2)
    model = make_model(cell, readout=readout, num_layers=2, bidirectional=True, dropout=0.5)
    x = torch.randn(4, 9, 5)
    logits, trace = model.forward_traced(x)
    assert logits.shape == (4, 4)
    torch.testing.assert_close(logits, model(x), atol=ATOL, rtol=0)
    assert len(trace.layers) == 2 and all(len(directions) == 2 for directions in trace.layers)


def test_last_readout_reads_each_directions_final_state():
    """'last' uses what h_n holds: forward ends at the last step, backward at the first."""
    torch.manual_seed(3)
    model = make_model("gru", bidirectional=True, num_layers=2)
    x = torch.randn(2, 9, 5)
    _, h_n = model.rnn(x)
    expected = model.head(torch.cat([h_n[-2], h_n[-1]], dim=-1))
    torch.testing.assert_close(model(x), expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gates_are_in_range_and_obey_their_equations(cell):
    """Sigmoid gates lie in [0, 1], tanh ones in [-1, 1], and the state updates hold on the trace."""
    torch.manual_seed(4)
    model = make_model(cell, num_layers=2, bidirectional=True)
    scale_recurrent_weights(model, 3.0)
    trace = scratch_forward(model.rnn, torch.randn(3, 9, 5) * 2)
    expected_gates = {"lstm": {"input", "forget", "cell", "output"}, "gru": {"reset", "update", "new"}}[cell]
    for layer in trace.layers:
        for d, direction in enumerate(layer):
            assert set(direction.gates) == expected_gates
            for name, gate in direction.gates.items():
                assert gate.shape == direction.h.shape == (3, 9, 6)
                low = 0.0 if name in SIGMOID_GATES else -1.0
                assert gate.min() >= low and gate.max() <= 1.0, name

            # The previous state in processing order: one position to the left going forward,
            # one to the right going backward; zeros before the first step.
            def previous(states, d=d):
                zero = torch.zeros_like(states[:, :1])
                return torch.cat([zero, states[:, :-1]], 1) if d == 0 else torch.cat([states[:, 1:], zero], 1)

            g = direction.gates
            if cell == "lstm":
                c = direction.c
                torch.testing.assert_close(c, g["forget"] * previous(c) + g["input"] * g["cell"])
                torch.testing.assert_close(direction.h, g["output"] * torch.tanh(c))
            else:
                assert direction.c is None
                h = direction.h
                torch.testing.assert_close(h, (1 - g["update"]) * g["new"] + g["update"] * previous(h))


def test_rnn_trace_has_no_gates_or_cell():
    trace = scratch_forward(make_model("rnn").rnn, torch.randn(2, 9, 5))
    assert trace.c_n is None
    assert trace.layers[0][0].gates == {} and trace.layers[0][0].c is None


def test_h_steps_give_the_total_gradient_through_time():
    """dL/dh_t through `h_steps` follows the chain rule back through the recurrence."""
    torch.manual_seed(5)
    model = make_model("rnn", readout="last")
    logits, trace = model.forward_traced(torch.randn(2, 9, 5))
    loss = logits.logsumexp(-1).sum()
    direction = trace.layers[0][0]
    grads = torch.autograd.grad(loss, direction.h_steps, retain_graph=True)
    w_hh = model.rnn.weight_hh_l0
    for t in range(1, 9):
        # h_t = tanh(...+ W_hh h_{t-1}), and 'last' reads only h_T: dL/dh_{t-1} = (dL/dh_t * tanh') W_hh
        h_t = direction.h_steps[t]
        torch.testing.assert_close(grads[t - 1], (grads[t] * (1 - h_t**2)) @ w_hh, atol=1e-6, rtol=1e-4)
    assert grads[0].abs().sum() > 0
    # The stacked `h` only sees the direct path, which for 'last' is the final step alone.
    (direct,) = torch.autograd.grad(loss, direction.h)
    assert direct[:, :-1].abs().sum() == 0


SHAPES = {"rows": sequence_shape("rows"), "pixels": sequence_shape("pixels")}  # columns, permuted alike


@pytest.mark.parametrize("readout", READOUTS)
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("order", SHAPES)
def test_smoke_training_lowers_the_loss(order, cell, readout):
    """A few Adam steps on one fixed batch: the loss stays finite and falls."""
    torch.manual_seed(6)
    steps, inputs = SHAPES[order]
    assert (steps, inputs) == sequence_shape({"rows": "columns", "pixels": "permuted"}[order])
    hidden, batch = (16, 16) if order == "rows" else (4, 4)
    model = SequenceClassifier(
        input_size=inputs, seq_len=steps, num_classes=10, cell=cell, hidden_size=hidden, readout=readout
    )
    x = torch.rand(batch, steps, inputs)
    y = torch.randint(0, 10, (batch,))
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    losses = []
    for _ in range(8):
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]


def test_num_parameters_counts_every_weight():
    model = SequenceClassifier(input_size=28, seq_len=28, num_classes=10, cell="lstm", hidden_size=128)
    assert model.num_parameters() == sum(p.numel() for p in model.parameters())
    assert model.num_parameters() == 4 * (128 * 28 + 128 * 128 + 2 * 128) + (128 * 10 + 10)


@pytest.mark.parametrize(
    ("readout", "bidirectional", "in_features"),
    [("last", False, 6), ("mean", True, 12), ("all", True, 12 * 9)],
)
def test_head_width_follows_the_readout(readout, bidirectional, in_features):
    model = make_model("lstm", readout=readout, bidirectional=bidirectional)
    assert model.head.in_features == in_features


@pytest.mark.parametrize("order", ORDERS)
def test_from_config_builds_for_every_order(order):
    config = RunConfig(order=order, cell="gru", hidden_size=8, num_layers=2, dropout=0.1, readout="all")
    model = SequenceClassifier.from_config(config, num_classes=7).eval()
    steps, inputs = sequence_shape(order)
    assert (model.seq_len, model.input_size, model.num_classes) == (steps, inputs, 7)
    assert (model.cell, model.hidden_size, model.num_layers, model.readout) == ("gru", 8, 2, "all")
    assert isinstance(model.rnn, nn.GRU) and model.rnn.batch_first
    assert model(torch.zeros(2, steps, inputs)).shape == (2, 7)


def test_from_config_passes_the_rnn_nonlinearity():
    model = SequenceClassifier.from_config(RunConfig(cell="rnn", nonlinearity="relu", bidirectional=True))
    assert model.rnn.nonlinearity == "relu" and model.rnn.bidirectional and model.bidirectional


@pytest.mark.parametrize("bad", [{"cell": "transformer"}, {"readout": "max"}, {"nonlinearity": "gelu"}])
def test_unknown_choices_raise_a_readable_error(bad):
    args = dict(input_size=5, seq_len=9, num_classes=4, cell="rnn", hidden_size=6) | bad
    with pytest.raises(ValueError, match="choose one of"):
        SequenceClassifier(**args)


def test_all_readout_rejects_a_sequence_of_another_length():
    model = make_model("rnn", readout="all")
    with pytest.raises(ValueError, match="built for 9 steps"):
        model(torch.randn(2, 5, 5))
