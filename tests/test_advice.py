"""Advice for runs gone wrong: tailored to the config, silent when there is nothing to say."""

from __future__ import annotations

import math

from rnnlab.advice import divergence_message, instability_fixes, near_chance_message
from rnnlab.config import RunConfig


def test_fixes_fit_the_config() -> None:
    relu = RunConfig(cell="rnn", nonlinearity="relu")
    assert instability_fixes(relu, 0.5) == [
        "a lower learning rate (now 0.5; try 0.05)",
        "gradient clipping (max norm 1.0)",
        "tanh instead of ReLU, or an LSTM/GRU cell",
    ]
    clipped_lstm = RunConfig(cell="lstm", grad_clip=1.0)
    assert instability_fixes(clipped_lstm, 0.01) == ["a lower learning rate (now 0.01; try 0.001)"]


def test_divergence_message_names_where_and_what_to_try() -> None:
    text = divergence_message(RunConfig(), 0.1, math.nan, 42, 1)
    assert (
        "nan at step 42 (epoch 2)" in text and "lower learning rate" in text and "checkpoint was kept" in text
    )


def test_near_chance_only_below_one_and_a_half_times_chance() -> None:
    config = RunConfig()
    assert near_chance_message(config, 1e-3, 0.12) is not None
    assert near_chance_message(config, 1e-3, 0.149) is not None
    assert near_chance_message(config, 1e-3, 0.151) is None
    assert near_chance_message(config, 1e-3, 0.9) is None
    assert near_chance_message(config, 1e-3, math.nan) is None
