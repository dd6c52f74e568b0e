"""The cost of a run before it starts: parameters, memory, time on this machine, and the warnings."""

from __future__ import annotations

import math

import pytest

from rnnlab.config import RunConfig
from rnnlab.cost import (
    SLOW_S,
    Speed,
    concerns,
    estimate,
    forward_flops,
    measured_speed,
    memory,
    rough_duration,
    size,
)
from rnnlab.models import count_parameters
from rnnlab.query import config_from_params

SPEED = Speed("cpu", "lstm", step_s=2e-5, batch_s=1e-3, flops=2e10)  # about this 2-core machine's
# The configuration a shared link can ask for: four bidirectional 1024-unit LSTM layers over 784 pixels.
HUGE_URL = {
    "order": "pixels",
    "hidden_size": "1024",
    "num_layers": "4",
    "bidirectional": "true",
    "readout": "all",
    "batch_size": "128",
}


def test_the_forward_work_and_the_memory_follow_the_shape_of_the_network():
    rnn = RunConfig(cell="rnn", hidden_size=4, batch_size=2, optimizer="sgd")
    # 28 steps of (28 inputs + 4 state) x 4 units, one gate, 2 flops a multiply-add; then 4 -> 10.
    assert forward_flops(rnn) == 2 * 1 * (28 + 4) * 4 * 28 + 2 * 4 * 10
    assert forward_flops(rnn.replace(cell="lstm")) > 3.9 * forward_flops(rnn) - 200  # four gates
    weights, activations, data = memory(rnn, 100, 10)
    assert weights == count_parameters(rnn) * 4 * 2  # weights and gradients; plain SGD keeps no state
    assert memory(rnn.replace(optimizer="adam"), 100, 10)[0] == count_parameters(rnn) * 4 * 4
    assert activations == 2 * 28 * (4 * 3 + 28) * 4
    assert data == 110 * (784 + 8)


def test_time_grows_with_epochs_data_and_sequence_length():
    base = RunConfig()
    one = estimate(base, SPEED, 60_000, 10_000)
    assert math.isclose(estimate(base.replace(epochs=4), SPEED).total_s, 2 * one.total_s)
    assert estimate(base.replace(train_subset=6000), SPEED).epoch_s < one.epoch_s / 5
    assert estimate(base.replace(order="pixels"), SPEED).epoch_s > 10 * one.epoch_s
    assert one.total_s < SLOW_S and not concerns(base, one, 16e9, "this machine")


def test_the_100_million_parameter_pixel_link_gets_both_warnings():
    config, notes = config_from_params(HUGE_URL)
    assert not notes
    found = estimate(config, SPEED)
    assert found.parameters > 100_000_000
    hours_note, memory_note = concerns(config, found, 16e9, "this machine's memory")
    assert "would take about" in hours_note and "days" in hours_note and "by rows" in hours_note
    assert "more than this machine's memory" in memory_note and "GB" in memory_note


def test_measured_speed_is_positive_and_cached():
    speed = measured_speed("cpu", "gru", 1)
    assert speed.flops > 0 and speed.step_s >= 0 and speed.batch_s >= 0
    assert math.isfinite(speed.flops)
    assert measured_speed("cpu", "gru", 1) is speed  # measured once per process


@pytest.mark.parametrize(
    ("seconds", "text"), [(12, "12 s"), (600, "10 min"), (5 * 3600, "5.0 h"), (9 * 86400, "9 days")]
)
def test_durations_and_sizes_read_at_a_glance(seconds, text):
    assert rough_duration(seconds) == text
    assert size(21.4e9) == "21.4 GB" and size(68_200_000) == "68.2 MB"
