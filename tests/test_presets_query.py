"""Presets are valid configs; URL query params round-trip a config and never raise on hostile input."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlab import data
from rnnlab.config import CHOICES, LIMITS, ORDERS, RunConfig
from rnnlab.lab import Lab
from rnnlab.models import count_parameters
from rnnlab.presets import PRESETS, QUICK_DIGITS, matching_preset
from rnnlab.query import CONFIG_KEYS, config_from_params, config_to_params, values_to_params
from tests.conftest import write_tiny_dataset

DEFAULTS = RunConfig()


# -- presets -----------------------------------------------------------------------------------
@pytest.mark.parametrize("key", list(PRESETS))
def test_every_preset_is_a_valid_described_config(key):
    preset = PRESETS[key]
    assert preset.key == key
    assert preset.config == RunConfig.from_dict(preset.config.to_dict())  # validates every field
    assert preset.title and "\n" not in preset.description and 20 < len(preset.description) < 200
    assert count_parameters(preset.config) > 0
    assert matching_preset(preset.config) is preset


@pytest.fixture(scope="module")
def few_images(tmp_path_factory) -> Path:
    """32 training and 16 test images per dataset: even the 784-step pixel preset trains in moments."""
    root = tmp_path_factory.mktemp("few")
    for folder in data.FOLDERS.values():
        write_tiny_dataset(root, folder, n_train=32, n_test=16)
    return root


@pytest.mark.parametrize("key", list(PRESETS))
def test_every_preset_trains_a_few_steps(tmp_path, few_images, key):
    """Two batches of the preset's dataset's look-alike, with its model, optimiser and schedule."""
    config = PRESETS[key].config.replace(batch_size=16, train_subset=0, epochs=1, eval_every=0, log_every=1)
    lab = Lab(runs_dir=tmp_path / "runs", data_dir=few_images)
    run = lab.start(config)
    assert run.join(120)
    status = run.status()
    assert status.state == "finished", status.message
    assert status.step == 2
    assert math.isfinite(status.loss) and status.best_test_acc >= 0


def test_presets_hold_the_classic_tutorial_setups():
    configs = [p.config for p in PRESETS.values()]
    assert any(
        (c.cell, c.nonlinearity, c.hidden_size, c.optimizer, c.lr, c.batch_size, c.order, c.readout)
        == ("rnn", "relu", 100, "sgd", 0.1, 100, "rows", "last")
        for c in configs
    )
    assert any(
        (c.cell, c.num_layers, c.hidden_size, c.readout, c.optimizer) == ("rnn", 2, 256, "all", "adam")
        for c in configs
    )
    assert any((c.cell, c.hidden_size, c.optimizer, c.lr) == ("lstm", 128, "adam", 1e-3) for c in configs)
    assert any(c.cell in ("lstm", "gru") and c.num_layers == 2 and c.grad_clip == 1.0 for c in configs)
    assert any(c.order == "pixels" and c.grad_clip > 0 and c.lr < 1e-3 for c in configs)


def test_quick_digits_is_small_enough_for_a_cpu_minute():
    quick = QUICK_DIGITS.config
    assert quick.dataset == "mnist" and 0 < quick.train_subset <= 10_000 and quick.epochs <= 3
    assert count_parameters(quick) < 50_000


def test_matching_preset_is_none_after_a_change():
    assert matching_preset(QUICK_DIGITS.config.replace(seed=1)) is None


@pytest.mark.parametrize("order", ORDERS)
def test_counting_parameters_first_leaves_sequences_on_the_cpu(order):
    """count_parameters builds on the meta device; the cached pixel tables must not become meta."""
    data._index_table.cache_clear()
    data._device_table.cache_clear()
    count_parameters.cache_clear()
    count_parameters(RunConfig(order=order))
    images = torch.randint(0, 256, (2, 28, 28), dtype=torch.uint8)
    sequences = data.to_sequences(images, order)  # raised "Cannot copy out of meta tensor" before
    assert sequences.device.type == "cpu" and torch.isfinite(sequences).all()


# -- config <-> params -------------------------------------------------------------------------
def test_defaults_make_an_empty_query_and_back():
    assert config_to_params(DEFAULTS) == {}
    assert config_from_params({}) == (DEFAULTS, [])


def test_only_changed_fields_go_in_the_url():
    params = config_to_params(DEFAULTS.replace(lr=0.1, cell="gru", bidirectional=True))
    assert params == {"lr": "0.1", "cell": "gru", "bidirectional": "true"}


@pytest.mark.parametrize("key", list(PRESETS))
def test_presets_round_trip_through_the_url(key):
    config = PRESETS[key].config
    assert config_from_params(config_to_params(config)) == (config, [])


def _field_values(name: str) -> st.SearchStrategy:
    if name in CHOICES:
        return st.sampled_from(CHOICES[name])
    if name == "bidirectional":
        return st.booleans()
    low, high = LIMITS[name]
    if isinstance(getattr(DEFAULTS, name), int):
        return st.integers(int(low), int(high))
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def _valid(values: dict) -> bool:
    try:
        RunConfig(**values)
    except ValueError:
        return False
    return True


configs = st.fixed_dictionaries({name: _field_values(name) for name in CONFIG_KEYS}).filter(_valid)


@settings(max_examples=200, deadline=None)
@given(configs)
def test_any_valid_config_round_trips_exactly(values):
    config = RunConfig(**values)
    params = config_to_params(config)
    assert all(isinstance(v, str) for v in params.values())
    assert config_from_params(params) == (config, [])


# -- hostile and bad input ---------------------------------------------------------------------
def test_a_bad_number_falls_back_with_a_readable_note():
    config, notes = config_from_params({"lr": "abc"})
    assert config == DEFAULTS
    assert notes == ["lr=abc is not a number; using 0.003"]


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("lr", "nan", "not a finite number"),
        ("lr", "inf", "not a finite number"),
        ("lr", "-1", "out of range"),
        ("lr", "1e999", "not a finite number"),
        ("hidden_size", "1.5", "not a whole number"),
        ("hidden_size", "0", "out of range"),
        ("hidden_size", "9" * 5000, "too long"),
        ("epochs", "١٢", "not plain"),
        ("seed", "-5", "out of range"),
        ("dataset", "../../etc/passwd", "is not one of"),
        ("cell", "LSTM\x00", "not plain"),
        ("bidirectional", "maybe", "not true or false"),
        ("order", "", "is not one of"),
    ],
)
def test_hostile_values_fall_back_to_defaults(key, value, words):
    config, notes = config_from_params({key: value, "run": "../../x"})
    assert config == DEFAULTS
    assert len(notes) == 1 and notes[0].startswith(f"{key}=") and words in notes[0]
    assert len(notes[0]) < 200  # a huge value is cut short in the note


def test_clashing_values_keep_the_setting_others_depend_on():
    config, notes = config_from_params({"cell": "gru", "nonlinearity": "relu", "dropout": "0.5"})
    assert (config.cell, config.nonlinearity, config.dropout) == ("gru", "tanh", 0.0)
    assert [n.split(";")[-1].strip() for n in notes] == ["using nonlinearity=tanh", "using dropout=0.0"]
    config, notes = config_from_params({"dropout": "0.5", "num_layers": "2"})
    assert (config.dropout, config.num_layers, notes) == (0.5, 2, [])


def test_repeated_keys_use_the_last_value_and_case_is_forgiven():
    config, notes = config_from_params({"hidden_size": ["32", "64"], "cell": "GRU", "bidirectional": "Yes"})
    assert (config.hidden_size, config.cell, config.bidirectional, notes) == (64, "gru", True, [])


def test_values_to_params_keeps_an_invalid_form_for_the_url():
    params = values_to_params({**DEFAULTS.to_dict(), "dropout": 0.3, "extra": "ignored"})
    assert params == {"dropout": "0.3"}
    assert config_from_params(params)[0] == DEFAULTS


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.one_of(st.sampled_from(sorted(CONFIG_KEYS)), st.text(max_size=20)),
        st.one_of(st.text(max_size=60), st.lists(st.text(max_size=10), max_size=3)),
        max_size=8,
    )
)
def test_any_params_give_a_valid_config_and_bounded_notes(params):
    config, notes = config_from_params(params)
    assert isinstance(config, RunConfig)
    assert all(isinstance(note, str) and len(note) < 400 for note in notes)
    assert len(notes) <= len(CONFIG_KEYS) * 2
