"""SequenceClassifier over nn.RNN/LSTM/GRU, and from-scratch cells that replay it step by step."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.config import CELLS, NONLINEARITIES, READOUTS, RunConfig
from rnnlab.data import sequence_shape, to_sequences

RECURRENT_MODULES: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class SequenceClassifier(nn.Module):
    """One model for every cell type: a recurrent stack (nn.RNN/LSTM/GRU, batch_first) + readout + Linear.

    The fused module does the training (cuDNN on a GPU); `forward_traced` replays the very same
    weights through the from-scratch cells below, so inspection never needs a second model.
    """

    def __init__(
        self,
        *,
        input_size: int,
        seq_len: int,
        num_classes: int,
        cell: str,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bidirectional: bool = False,
        dropout: float = 0.0,
        readout: str = "last",
    ) -> None:
        super().__init__()
        _check_choice("cell", cell, CELLS)
        _check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
        _check_choice("readout", readout, READOUTS)
        self.input_size = input_size
        self.seq_len = seq_len
        self.num_classes = num_classes
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.nonlinearity = nonlinearity
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.readout = readout

        # Only nn.RNN takes a nonlinearity; LSTM and GRU have their gates fixed.
        extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        self.rnn = RECURRENT_MODULES[cell](
            input_size,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout,
            bidirectional=bidirectional,
            **extra,
        )
        features = hidden_size * (2 if bidirectional else 1)
        if readout == "all":
            features *= seq_len  # every step's output feeds the head, as in the classic tutorial
        self.head = nn.Linear(features, num_classes)

    @classmethod
    def from_config(cls, config: RunConfig, num_classes: int = 10) -> SequenceClassifier:
        """Build the model a run trains: the input shape follows from how the image is read."""
        seq_len, input_size = sequence_shape(config.order)
        return cls(
            input_size=input_size,
            seq_len=seq_len,
            num_classes=num_classes,
            cell=config.cell,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            nonlinearity=config.nonlinearity,
            bidirectional=config.bidirectional,
            dropout=config.dropout,
            readout=config.readout,
        )

    def forward(self, x: Tensor) -> Tensor:
        """Logits for a batch of sequences `x` (batch, steps, inputs), starting from a zero state."""
        outputs, _ = self.rnn(x)  # (batch, steps, hidden*directions)
        return self.read_out(outputs)

    def forward_traced(self, x: Tensor) -> tuple[Tensor, RecurrentTrace]:
        """The same logits as `forward`, computed by the from-scratch cells, with every state and gate.

        Dropout between layers is not applied, so this equals `forward` in eval mode.
        """
        trace = scratch_forward(self.rnn, x)
        return self.read_out(trace.output), trace

    def read_out(self, outputs: Tensor) -> Tensor:
        """Turn the top layer's outputs (batch, steps, hidden*directions) into logits (batch, classes).

        Shared by `forward` and `forward_traced`, so the two paths differ only in the recurrence.
        """
        if self.readout == "last":
            # Each direction's final state, i.e. what h_n holds: the forward direction ends at the
            # last step, the backward direction at the first.
            H = self.hidden_size
            features = outputs[:, -1, :H]  # (batch, hidden)
            if self.bidirectional:
                features = torch.cat([features, outputs[:, 0, H:]], dim=-1)  # (batch, 2*hidden)
        elif self.readout == "mean":
            features = outputs.mean(dim=1)  # (batch, hidden*directions)
        else:
            if outputs.shape[1] != self.seq_len:
                raise ValueError(
                    f"readout='all' was built for {self.seq_len} steps but got {outputs.shape[1]}; "
                    "use readout='last' or 'mean' for sequences of other lengths"
                )
            features = outputs.flatten(1)  # (batch, steps*hidden*directions)
        return self.head(features)  # (batch, classes)

    def num_parameters(self) -> int:
        """Trainable size: what makes an RNN, an LSTM and a GRU of one hidden size a fair comparison."""
        return sum(p.numel() for p in self.parameters())


@functools.lru_cache(maxsize=512)
def count_parameters(config: RunConfig, num_classes: int = 10) -> int:
    """Parameters a config's model has, without allocating it (meta tensors), for tables and forms."""
    with torch.device("meta"):
        return SequenceClassifier.from_config(config, num_classes).num_parameters()


@dataclass(frozen=True)
class Score:
    loss: float
    accuracy: float
    count: int


@torch.no_grad()
def predict_logits(
    model: nn.Module, images: torch.Tensor, order: str, batch_size: int = 1000
) -> torch.Tensor:
    """Logits for uint8 images (N, 28, 28), computed in batches on the model's device."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        chunks = [
            model(to_sequences(images[i : i + batch_size].to(device), order))
            for i in range(0, len(images), batch_size)
        ]
    finally:
        model.train(was_training)
    return torch.cat(chunks) if chunks else torch.empty(0, 0, device=device)


def score(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, order: str) -> Score:
    """Mean cross-entropy and accuracy; one device sync at the end, not one per batch."""
    if len(images) == 0:
        raise ValueError("cannot score a model on an empty set of images")
    logits = predict_logits(model, images, order)
    labels = labels.to(logits.device)
    loss = F.cross_entropy(logits, labels).item()
    accuracy = (logits.argmax(1) == labels).float().mean().item()
    return Score(loss=loss, accuracy=accuracy, count=len(images))


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not allowed; choose one of: {', '.join(allowed)}")


# ---------------------------------------------------------------------------------------------
# From-scratch cells: the equations PyTorch documents, fed with the fused module's own weights.


@dataclass
class DirectionTrace:
    """Everything one direction of one layer computed, indexed by input position t.

    For the backward direction, `h[:, t]` is its state after reading x_t while moving right to left.
    `h` is a stack made after the loop, so autograd through it sees only the paths that leave each
    step directly (readout, next layer). For the total dL/dh_t, which also flows through the later
    steps of the recurrence, differentiate with respect to `h_steps`: the very tensors the
    recurrence used, one (batch, hidden) per position.
    """

    h: Tensor  # (batch, steps, hidden)
    c: Tensor | None  # (batch, steps, hidden), LSTM cell state; None otherwise
    gates: dict[str, Tensor]  # name -> (batch, steps, hidden), post-activation
    h_steps: list[Tensor] = field(default_factory=list)  # steps x (batch, hidden)


@dataclass
class RecurrentTrace:
    """A replay of a whole recurrent stack; `output`, `h_n` and `c_n` equal the fused module's."""

    output: Tensor  # (batch, steps, hidden*directions), top layer
    h_n: Tensor  # (layers*directions, batch, hidden)
    c_n: Tensor | None  # (layers*directions, batch, hidden), LSTM only
    layers: list[list[DirectionTrace]]  # [layer][direction]


# A step takes x_t's input projection W_ih x_t + b_ih (batch, gates*hidden), the previous h and c
# (batch, hidden), and the recurrent weights; it returns the new h, the new c, and the gates.
StepResult = tuple[Tensor, Tensor | None, dict[str, Tensor]]
Step = Callable[[Tensor, Tensor, Tensor | None, Tensor, Tensor | None], StepResult]


def _rnn_step(activation: Callable[[Tensor], Tensor]) -> Step:
    def step(xw: Tensor, h: Tensor, c: Tensor | None, w_hh: Tensor, b_hh: Tensor | None) -> StepResult:
        # h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
        return activation(xw + F.linear(h, w_hh, b_hh)), None, {}

    return step


def _lstm_step(xw: Tensor, h: Tensor, c: Tensor | None, w_hh: Tensor, b_hh: Tensor | None) -> StepResult:
    # PyTorch stacks the four gates' weights in the order i, f, g, o.
    i, f, g, o = (xw + F.linear(h, w_hh, b_hh)).chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c + i * g  # forget part of the old memory, write the gated candidate
    h = o * torch.tanh(c)
    return h, c, {"input": i, "forget": f, "cell": g, "output": o}


def _gru_step(xw: Tensor, h: Tensor, c: Tensor | None, w_hh: Tensor, b_hh: Tensor | None) -> StepResult:
    # PyTorch's formulation: the reset gate scales W_hn h + b_hn, not h itself.
    x_r, x_z, x_n = xw.chunk(3, dim=-1)
    h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, dim=-1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    h = (1 - z) * n + z * h  # z near 1 keeps the old state
    return h, None, {"reset": r, "update": z, "new": n}


STEPS: dict[str, Step] = {  # keyed by nn.RNNBase.mode
    "RNN_TANH": _rnn_step(torch.tanh),
    "RNN_RELU": _rnn_step(torch.relu),
    "LSTM": _lstm_step,
    "GRU": _gru_step,
}


def scratch_forward(rnn: nn.RNN | nn.LSTM | nn.GRU, x: Tensor) -> RecurrentTrace:
    """Run `x` (batch, steps, inputs) through `rnn`'s weights one step at a time, from a zero state.

    Reads the fused parameters directly (weight_ih_l{k}{_reverse}, ...), so any trained model can be
    replayed, and keeps the autograd graph so gradients with respect to states can be taken.
    Dropout between layers is not applied: this matches the fused module in eval mode.
    """
    if not rnn.batch_first:
        raise ValueError("scratch_forward expects a batch_first=True module")
    if getattr(rnn, "proj_size", 0):
        raise ValueError("scratch_forward does not replay LSTMs with proj_size > 0")
    if x.dim() != 3:
        raise ValueError(f"x must be (batch, steps, inputs), got shape {tuple(x.shape)}")
    step = STEPS[rnn.mode]
    directions = 2 if rnn.bidirectional else 1

    layer_input = x  # (batch, steps, inputs) for layer 0, then (batch, steps, hidden*directions)
    layers: list[list[DirectionTrace]] = []
    for k in range(rnn.num_layers):
        traces = []
        for d in range(directions):
            suffix = f"_l{k}" + ("_reverse" if d else "")
            w_ih, w_hh = getattr(rnn, f"weight_ih{suffix}"), getattr(rnn, f"weight_hh{suffix}")
            b_ih, b_hh = getattr(rnn, f"bias_ih{suffix}", None), getattr(rnn, f"bias_hh{suffix}", None)
            # W_ih x_t + b_ih does not depend on the state, so do it for all steps at once.
            xw = F.linear(layer_input, w_ih, b_ih)  # (batch, steps, gates*hidden)
            traces.append(_run_direction(step, xw, w_hh, b_hh, rnn.hidden_size, reverse=d == 1))
        layers.append(traces)
        layer_input = torch.cat([t.h for t in traces], dim=-1)  # (batch, steps, hidden*directions)

    # Final states in h_n's order (layer 0 forward, layer 0 backward, layer 1 forward, ...); the
    # backward direction ends at the first position.
    ends = [(d, t) for traces in layers for d, t in enumerate(traces)]
    h_n = torch.stack([t.h[:, 0] if d else t.h[:, -1] for d, t in ends])  # (layers*directions, batch, hidden)
    c_n = torch.stack([t.c[:, 0] if d else t.c[:, -1] for d, t in ends]) if rnn.mode == "LSTM" else None
    return RecurrentTrace(output=layer_input, h_n=h_n, c_n=c_n, layers=layers)


def _run_direction(
    step: Step, xw: Tensor, w_hh: Tensor, b_hh: Tensor | None, hidden: int, *, reverse: bool
) -> DirectionTrace:
    """Unroll one direction over precomputed input projections `xw` (batch, steps, gates*hidden)."""
    batch, steps, _ = xw.shape
    # Zero initial state; only the LSTM step reads c, the others return None for it.
    h: Tensor = xw.new_zeros(batch, hidden)  # (batch, hidden)
    c: Tensor | None = xw.new_zeros(batch, hidden)
    hs, cs, gate_steps = [], [], []
    for t in reversed(range(steps)) if reverse else range(steps):
        h, c, gates = step(xw[:, t], h, c, w_hh, b_hh)
        hs.append(h)
        cs.append(c)
        gate_steps.append(gates)
    if reverse:  # store by input position, not by processing order
        hs.reverse()
        cs.reverse()
        gate_steps.reverse()
    return DirectionTrace(
        h=torch.stack(hs, dim=1),  # (batch, steps, hidden)
        c=None if c is None else torch.stack(cs, dim=1),  # (batch, steps, hidden)
        gates={name: torch.stack([g[name] for g in gate_steps], dim=1) for name in gate_steps[0]},
        h_steps=hs,
    )
