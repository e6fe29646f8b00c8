"""Checkpoints: an interrupted fit resumes to exactly the straight run's state, files are data (never
pickle) and tampering is refused, divergence stops training and keeps the last good checkpoint, the
time budget stops training early and the next run goes on from there."""
from __future__ import annotations

import dataclasses
import json
import os
import pickle
import struct
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

import synth.training
from synth.checkpoint import (LATEST, MODEL_DIR, STATE_JSON, STATE_TENSORS, Checkpointing, CheckpointWarning,
                              latest_checkpoint)
from synth.errors import DataError, SynthError, TrainingDiverged
from synth.models import load_model
from synth.serialization import MODEL_JSON, WEIGHTS, file_digest
from synth.tabular import ACTGAN
from synth.timeseries import DGAN
from synth.training import TrainingStoppedEarly
from tests.support.kill import Killed, kill_at
from tests.support.tables import make_mixed_table, make_tiny_config
from tests.support.timeseries import dgan_config, periodic

STEPS_PER_EPOCH = 3  # 300 rows / batch 100


def state_tensors(directory: Path) -> dict[str, torch.Tensor]:
    _, path = latest_checkpoint(directory)
    return load_file(path / STATE_TENSORS)


def assert_same_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"differ after resuming: {different}"


def without_seconds(history):
    return [dataclasses.replace(s, seconds=0.0) for s in history]


# -- resume ----------------------------------------------------------------------------------------------

def test_an_interrupted_actgan_fit_resumes_to_exactly_the_straight_run(tmp_path, mixed_table):
    config = make_tiny_config(epochs=6)
    straight = ACTGAN(config).fit(mixed_table, checkpoint=Checkpointing(tmp_path / "straight", every=3))
    assert straight.resumed_from_ is None

    interrupted = tmp_path / "interrupted"
    with pytest.raises(Killed):
        ACTGAN(config).fit(mixed_table, callback=kill_at(5), checkpoint=Checkpointing(interrupted, every=3))
    assert latest_checkpoint(interrupted)[0] == 3
    seen = []
    resumed = ACTGAN(config).fit(mixed_table, callback=seen.append, checkpoint=Checkpointing(interrupted, every=3))

    assert resumed.resumed_from_ == 3
    assert [s.epoch for s in seen] == [4, 5, 6]  # only the remaining epochs were trained
    assert without_seconds(resumed.history_) == without_seconds(straight.history_)
    assert_same_tensors(resumed.generator_.state_dict(), straight.generator_.state_dict())
    # the final checkpoints hold the critic's weights, Adam's moments and step counts and the RNG states
    final = state_tensors(interrupted)
    assert any(k.startswith("critic.0.") for k in final) and any(k.endswith(".exp_avg_sq") for k in final)
    assert {"rng.training", "rng.torch"} <= final.keys()
    assert_same_tensors(final, state_tensors(tmp_path / "straight"))
    assert resumed.sample(200, seed=1).equals(straight.sample(200, seed=1))


def test_an_interrupted_dgan_fit_resumes_to_exactly_the_straight_run(tmp_path):
    data, config = periodic(examples=100), dgan_config(training={"epochs": 4})
    straight = DGAN(config).fit(data, checkpoint=Checkpointing(tmp_path / "straight", every=2))
    with pytest.raises(Killed):
        DGAN(config).fit(data, callback=kill_at(3), checkpoint=Checkpointing(tmp_path / "resumed", every=2))
    resumed = DGAN(config).fit(data, checkpoint=Checkpointing(tmp_path / "resumed", every=2))
    assert resumed.resumed_from_ == 2
    assert without_seconds(resumed.history_) == without_seconds(straight.history_)
    assert_same_tensors(state_tensors(tmp_path / "resumed"), state_tensors(tmp_path / "straight"))
    assert resumed.generate(20, seed=1).equals(straight.generate(20, seed=1))


def test_a_checkpoint_of_other_data_or_settings_is_not_resumed(tmp_path, mixed_table):
    directory = tmp_path / "ckpt"
    ACTGAN(make_tiny_config(epochs=2)).fit(mixed_table, checkpoint=Checkpointing(directory, every=1))
    first = latest_checkpoint(directory)[1]

    with pytest.warns(CheckpointWarning, match="the training data changed"):
        model = ACTGAN(make_tiny_config(epochs=2)).fit(make_mixed_table(seed=1),
                                                       checkpoint=Checkpointing(directory, every=1))
    assert model.resumed_from_ is None and [s.epoch for s in model.history_] == [1, 2]
    replaced = latest_checkpoint(directory)[1]
    assert replaced != first and not first.exists()  # only the latest is kept

    with pytest.warns(CheckpointWarning, match="the model or training settings changed"):
        ACTGAN(make_tiny_config(epochs=2, critic_lr=1e-3)).fit(make_mixed_table(seed=1),
                                                               checkpoint=Checkpointing(directory, every=1))
    with pytest.warns(CheckpointWarning, match="at epoch 2, past the 1 epochs configured"):
        ACTGAN(make_tiny_config(epochs=1, critic_lr=1e-3)).fit(make_mixed_table(seed=1),
                                                               checkpoint=Checkpointing(directory, every=1))


def test_a_finished_checkpoint_resumes_with_nothing_left_to_train(tmp_path, mixed_table):
    checkpoint = Checkpointing(tmp_path / "ckpt", every=5)  # 3 epochs: the last one is checkpointed too
    first = ACTGAN(make_tiny_config(epochs=3)).fit(mixed_table, checkpoint=checkpoint)
    seen = []
    again = ACTGAN(make_tiny_config(epochs=3)).fit(mixed_table, callback=seen.append, checkpoint=checkpoint)
    assert again.resumed_from_ == 3 and seen == [] and len(again.history_) == 3
    assert again.sample(50, seed=2).equals(first.sample(50, seed=2))


# -- files are data: no pickle, tampering refused ------------------------------------------------------

def _assert_safetensors(path: Path) -> None:
    raw = path.read_bytes()
    (header_size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + header_size])
    assert isinstance(header, dict)
    with safe_open(str(path), framework="pt") as f:
        assert set(f.keys()) == set(header) - {"__metadata__"}


def test_checkpoints_and_models_hold_only_json_and_safetensors(tmp_path, mixed_table):
    directory = tmp_path / "ckpt"
    model = ACTGAN(make_tiny_config(epochs=2)).fit(mixed_table, checkpoint=Checkpointing(directory, every=1))
    model.save(tmp_path / "model")
    files = [p for root in (directory, tmp_path / "model") for p in root.rglob("*") if p.is_file()]
    assert {p.name for p in files} == {LATEST, STATE_JSON, STATE_TENSORS, MODEL_JSON, WEIGHTS}
    for path in files:
        assert not path.read_bytes().startswith(b"\x80")  # the pickle protocol opcode
        if path.suffix == ".safetensors":
            _assert_safetensors(path)
        else:
            assert path.suffix == ".json" and isinstance(json.loads(path.read_text()), dict)


def test_the_library_never_unpickles():
    sources = "\n".join(p.read_text() for p in Path(synth.training.__file__).parent.rglob("*.py"))
    for forbidden in ("torch.load(", "import pickle", "pickle.load", "joblib", "import dill", "cloudpickle"):
        assert forbidden not in sources


def _pickle_bomb(marker: Path) -> bytes:
    class Bomb:
        def __reduce__(self):
            return os.mkdir, (str(marker),)
    return pickle.dumps(Bomb())


def _replace_with_digest(path: Path, raw: bytes, json_path: Path, key: str) -> None:
    """Overwrite `path` and record its new digest where the loader checks it: only the parser stands guard."""
    path.write_bytes(raw)
    doc = json.loads(json_path.read_text())
    doc[key] = file_digest(path)
    json_path.write_text(json.dumps(doc))


def _flip_header(path: Path) -> bytes:
    raw = bytearray(path.read_bytes())
    raw[12:30] = b"\xff" * 18  # inside the JSON header
    return bytes(raw)


TAMPERINGS = {
    "state tensors changed": lambda c, m: (c / STATE_TENSORS).write_bytes(_flip_header(c / STATE_TENSORS)),
    "state header flipped, digest updated": lambda c, m: _replace_with_digest(
        c / STATE_TENSORS, _flip_header(c / STATE_TENSORS), c / STATE_JSON, "tensors_sha256"),
    "state is a pickle, digest updated": lambda c, m: _replace_with_digest(
        c / STATE_TENSORS, _pickle_bomb(m), c / STATE_JSON, "tensors_sha256"),
    "model weights are a pickle, digest updated": lambda c, m: _replace_with_digest(
        c / MODEL_DIR / WEIGHTS, _pickle_bomb(m), c / MODEL_DIR / MODEL_JSON, "weights_sha256"),
    "model weights header flipped": lambda c, m: (c / MODEL_DIR / WEIGHTS).write_bytes(
        _flip_header(c / MODEL_DIR / WEIGHTS)),
    "state json garbled": lambda c, m: (c / STATE_JSON).write_text('{"epoch": 2,'),
    "model json garbled": lambda c, m: (c / MODEL_DIR / MODEL_JSON).write_text("[1, 2"),
    "latest points outside": lambda c, m: (c.parent / LATEST).write_text(json.dumps({"epoch": 2, "path": "../x"})),
    "critic weights of another shape": lambda c, m: _replace_with_digest(
        c / STATE_TENSORS, _resized_critic(c / STATE_TENSORS), c / STATE_JSON, "tensors_sha256"),
}


def _resized_critic(path: Path) -> bytes:
    from safetensors.torch import save
    tensors = load_file(path)
    key = next(k for k in tensors if k.startswith("critic.0.") and k.endswith("weight"))
    tensors[key] = torch.zeros(3, 3)
    return save(tensors)


@pytest.mark.parametrize("tampering", list(TAMPERINGS))
def test_a_tampered_checkpoint_is_refused_and_never_executed(tmp_path, mixed_table, tampering):
    directory, marker = tmp_path / "ckpt", tmp_path / "pwned"
    config = make_tiny_config(epochs=2)
    ACTGAN(config).fit(mixed_table, checkpoint=Checkpointing(directory, every=1))
    TAMPERINGS[tampering](latest_checkpoint(directory)[1], marker)
    with pytest.raises(DataError, match="checkpoint|model"):
        ACTGAN(make_tiny_config(epochs=4)).fit(mixed_table, checkpoint=Checkpointing(directory, every=1))
    assert not marker.exists()


def test_a_saved_model_that_is_a_pickle_is_refused(tmp_path, fitted_model):
    directory, marker = fitted_model.save(tmp_path / "model"), tmp_path / "pwned"
    _replace_with_digest(directory / WEIGHTS, _pickle_bomb(marker), directory / MODEL_JSON, "weights_sha256")
    with pytest.raises(DataError, match="unreadable or corrupted"):
        load_model(directory)
    assert not marker.exists()


# -- divergence ------------------------------------------------------------------------------------------

KNOBS = ("training.generator_lr", "training.critic_lr", "training.gp_lambda", "training.critic_steps")


def test_an_absurd_learning_rate_stops_training_as_diverged(tmp_path, mixed_table):
    config = make_tiny_config(epochs=20, generator_lr=1e6, critic_lr=1e6)
    with pytest.raises(TrainingDiverged, match=r"training diverged at epoch \d+ \(") as caught:
        ACTGAN(config).fit(mixed_table, checkpoint=Checkpointing(tmp_path / "ckpt", every=5))
    assert all(knob in str(caught.value) for knob in KNOBS)


def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, mixed_table, monkeypatch):
    real_penalty, calls = synth.training.gradient_penalty, []

    def penalty_turning_nan_in_epoch_5(*args, **kwargs):  # the fault injected into the real loop
        calls.append(1)
        value = real_penalty(*args, **kwargs)
        return value * float("nan") if len(calls) > 4 * STEPS_PER_EPOCH else value

    monkeypatch.setattr(synth.training, "gradient_penalty", penalty_turning_nan_in_epoch_5)
    directory, seen = tmp_path / "ckpt", []
    with pytest.raises(TrainingDiverged) as caught:
        ACTGAN(make_tiny_config(epochs=10)).fit(mixed_table, callback=seen.append,
                                                checkpoint=Checkpointing(directory, every=3))
    epoch, path = latest_checkpoint(directory)
    message = str(caught.value)
    assert message.startswith("training diverged at epoch 5 (critic loss nan): lower the learning rates")
    assert f"the last good checkpoint (epoch 3) is kept at {path}" in message
    assert all(knob in message for knob in KNOBS)
    assert epoch == 3 and [s.epoch for s in seen] == [1, 2, 3, 4]  # the diverged epoch went nowhere
    kept = load_model(path / MODEL_DIR)
    assert [s.epoch for s in kept.history_] == [1, 2, 3] and len(kept.sample(20, seed=0)) == 20


def test_an_exploding_critic_gradient_stops_training(mixed_table):
    with pytest.raises(TrainingDiverged, match=r"at epoch 1 \(critic gradient norm .* > "
                                               r"training.max_critic_grad_norm=0.001\).*no checkpoint is kept"):
        ACTGAN(make_tiny_config(epochs=3, max_critic_grad_norm=1e-3)).fit(mixed_table)


def test_divergence_is_a_synth_error_for_dgan_too():
    config = dgan_config(training={"epochs": 10, "generator_lr": 1e6, "critic_lr": 1e6})
    with pytest.raises(SynthError, match="training diverged at epoch"):
        DGAN(config).fit(periodic(examples=100))


# -- time budget -----------------------------------------------------------------------------------------

def test_the_time_budget_stops_after_an_epoch_and_the_next_run_goes_on(tmp_path, mixed_table):
    checkpoint = Checkpointing(tmp_path / "ckpt", every=10)
    budgeted = make_tiny_config(epochs=6, max_minutes=1e-6)
    with pytest.warns(TrainingStoppedEarly, match="stopped after epoch 1 of 6: the time budget"):
        model = ACTGAN(budgeted).fit(mixed_table, checkpoint=checkpoint)
    assert [s.epoch for s in model.history_] == [1]
    assert model.stopped_early_.startswith("training stopped after epoch 1 of 6")
    assert load_model(model.save(tmp_path / "model")).stopped_early_ == model.stopped_early_
    assert latest_checkpoint(checkpoint.directory)[0] == 1  # written when the budget stopped training

    unlimited = ACTGAN(make_tiny_config(epochs=6)).fit(mixed_table, checkpoint=checkpoint)  # the budget is unkeyed
    straight = ACTGAN(make_tiny_config(epochs=6)).fit(mixed_table)
    assert unlimited.resumed_from_ == 1 and unlimited.stopped_early_ is None
    assert_same_tensors(unlimited.generator_.state_dict(), straight.generator_.state_dict())


def test_a_save_replaces_the_checkpoint_and_clears_what_a_killed_save_left(tmp_path, mixed_table):
    directory = tmp_path / "ckpt"
    ACTGAN(make_tiny_config(epochs=1)).fit(mixed_table, checkpoint=Checkpointing(directory, every=1))
    first = latest_checkpoint(directory)[1]
    leftovers = [directory / ".epoch-000002-0123abcd.x1y2", directory / f".{LATEST}.0123abcd"]  # a kill mid-save
    leftovers[0].mkdir()
    leftovers[1].write_text("{")
    (directory / "notes.txt").write_text("not ours")
    ACTGAN(make_tiny_config(epochs=2)).fit(mixed_table, checkpoint=Checkpointing(directory, every=1))
    epoch, latest = latest_checkpoint(directory)
    assert epoch == 2 and not first.exists() and not any(p.exists() for p in leftovers)
    assert sorted(p.name for p in directory.iterdir()) == sorted([LATEST, latest.name, "notes.txt"])
