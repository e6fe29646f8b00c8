"""Model selection: the best-scoring generator state is kept, patience stops training early, a resumed
fit continues the selection, and settings that could never evaluate are refused."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import torch
from pydantic import ValidationError

from tasks.kinds.actgan import ActganModelConfig
from synth.checkpoint import Checkpointing, resume_key
from synth.errors import ConfigError
from synth.fidelity.health import training_health
from synth.fidelity.render.sections import training_html
from synth.fidelity.series import SeriesSpec
from synth.selection import SAMPLE_SEED, SeriesScorer, TableScorer, ValidationTooSmall, validation_split
from synth.tabular import ACTGAN
from synth.timeseries import DGAN, DGANConfig
from synth.training import WGANConfig
from tests.support.kill import Killed, kill_at
from tests.support.tables import make_mixed_table, make_tiny_config
from tests.support.timeseries import dgan_config, periodic

NOISY = dict(generator_lr=3e-3, critic_lr=3e-3)  # a learning rate high enough that scores jump epoch to epoch
WEIGHTS_ONLY = dict(ema_decay=0.0)  # no moving-average candidate


@pytest.fixture(scope="module")
def table():
    return make_mixed_table(1000)  # 100 validation rows


def rescore(model: ACTGAN, table) -> float:
    """The fitted model's validation score, from scratch: the same split, scorer and sampling seed."""
    config = model.config
    scorer = TableScorer(validation_split(table, config.training.validation_fraction, config.seed).validation,
                         seed=config.seed)
    return scorer.score(model.sample_table(scorer.rows, seed=SAMPLE_SEED))


def test_the_best_state_is_kept_when_the_last_epoch_is_worse(table):
    model = ACTGAN(make_tiny_config(epochs=20, eval_every=1, patience=100, **WEIGHTS_ONLY, **NOISY)).fit(table)
    scores = dict(model.validation_history_)
    assert list(scores) == list(range(1, 21))
    best = max(scores, key=scores.get)
    assert model.selected_epoch_ == best < 20 and scores[best] > scores[20]  # the constructed case
    assert rescore(model, table) == pytest.approx(scores[best], abs=1e-12)  # the returned model is that state
    assert [s.epoch for s in model.history_ if s.validation_score is not None] == list(range(1, 21))
    assert model.stopped_early_ is None
    share = model.selection_seconds_ / (sum(s.seconds for s in model.history_) + model.selection_seconds_)
    print(f"scoring share of training time (tiny model, eval every epoch): {share:.1%}")


def test_a_moving_average_of_the_weights_is_kept_when_it_scores_better(table):
    model = ACTGAN(make_tiny_config(epochs=12, eval_every=2, patience=100, ema_decay=0.8, **NOISY)).fit(table)
    candidates = {epoch: (weights, average) for epoch, weights, average in model.validation_candidates_}
    assert model.selected_average_  # the constructed case: noisy weights, a smoother average
    weights, average = candidates[model.selected_epoch_]
    assert average > weights and average == max(dict(model.validation_history_).values())
    assert rescore(model, table) == pytest.approx(average, abs=1e-12)


def test_patience_stops_training_early(table):
    model = ACTGAN(make_tiny_config(epochs=40, eval_every=2, patience=2, **WEIGHTS_ONLY, **NOISY)).fit(table)
    last = model.validation_history_[-1][0]
    assert len(model.history_) == last < 40
    assert last - model.selected_epoch_ == 2 * 2  # patience evaluations, eval_every epochs apart
    assert "training.patience=2" in model.stopped_early_ and f"epoch {last}" in model.stopped_early_
    assert model.patience_stopped_  # finished: a rerun would not train on (its checkpoints can go)


def test_without_eval_every_nothing_is_held_back_or_scored(table):
    model = ACTGAN(make_tiny_config(epochs=2)).fit(table)
    assert model.selected_epoch_ is None and model.validation_history_ == []
    assert all(s.validation_score is None for s in model.history_)
    assert "validation_score" not in model.history_[0].as_dict()


def test_a_saved_model_keeps_the_selection(tmp_path, table):
    model = ACTGAN(make_tiny_config(epochs=4, eval_every=2, patience=5)).fit(table)
    loaded = ACTGAN.load(model.save(tmp_path / "model"))
    assert loaded.selected_epoch_ == model.selected_epoch_
    assert loaded.validation_history_ == model.validation_history_


@pytest.mark.parametrize("ema_decay", [0.0, 0.8])
def test_a_resumed_fit_continues_the_selection(tmp_path, table, ema_decay):
    config = make_tiny_config(epochs=10, eval_every=1, patience=100, ema_decay=ema_decay, **NOISY)
    straight = ACTGAN(config).fit(table)
    directory = tmp_path / "checkpoints"
    with pytest.raises(Killed):
        ACTGAN(config).fit(table, callback=kill_at(8), checkpoint=Checkpointing(directory, every=6))
    resumed = ACTGAN(config).fit(table, checkpoint=Checkpointing(directory, every=6))
    assert resumed.resumed_from_ == 6
    assert resumed.validation_history_ == straight.validation_history_  # epochs 1-6 restored, 7-10 scored
    assert resumed.selected_epoch_ == straight.selected_epoch_
    assert resumed.selected_average_ == straight.selected_average_
    assert resumed.sample(100, seed=1).equals(straight.sample(100, seed=1))  # the same best state


def test_a_run_that_had_stopped_resumes_as_stopped(tmp_path, table):
    config = make_tiny_config(epochs=40, eval_every=2, patience=2, **NOISY)
    first = ACTGAN(config).fit(table, checkpoint=Checkpointing(tmp_path, every=100))
    again = ACTGAN(config).fit(table, checkpoint=Checkpointing(tmp_path, every=100))
    assert again.resumed_from_ == len(first.history_) and len(again.history_) == len(first.history_)
    assert again.selected_epoch_ == first.selected_epoch_ and again.stopped_early_ == first.stopped_early_
    assert again.sample(100, seed=1).equals(first.sample(100, seed=1))


def test_selection_settings_key_checkpoints_only_when_selection_is_on(table):
    def key(**training):
        return resume_key(make_tiny_config(**training), torch.device("cpu"), table)["settings"]

    assert key() == key(patience=3, ema_decay=0.5)  # older checkpoints (no selection settings) still resume
    assert key(eval_every=1) != key(eval_every=1, patience=3) and key(eval_every=1) != key()


def test_eval_every_past_epochs_is_refused_naming_the_key():
    with pytest.raises(ConfigError, match="training.eval_every=6"):
        WGANConfig(epochs=5, eval_every=6)
    with pytest.raises(ValidationError, match="training.eval_every=6 is larger than epochs=5"):
        ActganModelConfig(epochs=5, training={"eval_every": 6})
    with pytest.raises(ConfigError, match="training.validation_fraction"):
        WGANConfig(eval_every=1, validation_fraction=1.0)


def test_a_small_validation_split_warns_and_scores_what_is_there():
    with pytest.warns(ValidationTooSmall, match="30 rows"):
        model = ACTGAN(make_tiny_config(epochs=2, eval_every=1)).fit(make_mixed_table(300))
    assert len(model.validation_history_) == 2


def test_the_training_health_section_shows_the_validation_curve_and_the_epoch_kept(table):
    model = ACTGAN(make_tiny_config(epochs=8, eval_every=2, patience=100, **NOISY)).fit(table)
    health = training_health(model.history_)
    validation = health["validation"]
    assert validation["epoch"] == [2, 4, 6, 8] and validation["selected_epoch"] == model.selected_epoch_
    assert validation["score"] == [s for _, s in model.validation_history_]
    html = training_html({"training": health})
    assert f"Model selection kept epoch {model.selected_epoch_}" in html
    assert training_health(ACTGAN(make_tiny_config(epochs=2)).fit(table).history_)["validation"] is None


# -- sequences ---------------------------------------------------------------------------------------------

def test_dgan_selection_holds_back_whole_examples_and_keeps_the_best_state(tmp_path):
    data = periodic(200)
    model = DGAN(dgan_config(training={"epochs": 6, "eval_every": 2, "patience": 100, "ema_decay": 0.5})).fit(data)
    assert model.training_size_ == 180  # 20 examples (each with all its steps) held back
    scores = dict(model.validation_history_)
    assert list(scores) == [2, 4, 6] and scores[model.selected_epoch_] == max(scores.values())
    split = validation_split(pa.Table.from_pandas(data, preserve_index=False), 0.1, 0, by="id")
    assert split.validation.num_rows == 20 * 16 and not set(split.validation["id"].to_pylist()) & set(
        split.training["id"].to_pylist())
    scorer = SeriesScorer(split.validation, SeriesSpec("id", "t", ("cls",), ("x",)))
    assert scorer.score(model.generate(scorer.rows, seed=SAMPLE_SEED)) == pytest.approx(
        scores[model.selected_epoch_], abs=1e-12)  # the returned model is the kept state
    loaded = DGAN.load(model.save(tmp_path / "model"))
    assert loaded.selected_epoch_ == model.selected_epoch_ and loaded.validation_history_ == model.validation_history_


def test_dgan_resume_continues_the_selection(tmp_path):
    data = periodic(200)
    config = dgan_config(training={"epochs": 6, "eval_every": 1, "patience": 100, "ema_decay": 0.5})
    straight = DGAN(config).fit(data)
    with pytest.raises(Killed):
        DGAN(config).fit(data, callback=kill_at(5), checkpoint=Checkpointing(tmp_path, every=3))
    resumed = DGAN(config).fit(data, checkpoint=Checkpointing(tmp_path, every=3))
    assert resumed.resumed_from_ == 3
    assert resumed.validation_candidates_ == straight.validation_candidates_
    assert resumed.selected_epoch_ == straight.selected_epoch_
    assert resumed.sample(20, seed=1).equals(straight.sample(20, seed=1))


def test_dgan_validation_split_too_small_warns_in_examples():
    with pytest.warns(ValidationTooSmall, match="5 examples"):
        DGAN(dgan_config(training={"epochs": 1, "eval_every": 1, "batch_size": 40})).fit(periodic(50))


def test_dgan_wide_input_is_scored_by_shapes_and_pairs_of_its_rows():
    rng = np.random.default_rng(0)
    wide = pd.DataFrame(rng.normal(0, 1, (200, 6)), columns=[f"s{i}" for i in range(6)])
    wide.insert(0, "region", rng.choice(["n", "s"], 200))
    model = DGAN(DGANConfig(layout="wide", attribute_columns=("region",), sample_len=2,
                            training=WGANConfig(epochs=4, batch_size=20, eval_every=2))).fit(wide)
    assert model.training_size_ == 180 and [e for e, _ in model.validation_history_] == [2, 4]
