"""Long tails in DGAN: a minmax-scaled feature with a far outlier (weather's 1,048 mph wind speed
among values below 43) is learned on another scale, round trips, and the settings are checked."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from tasks.config import parse_config
from tasks.estimator import synth_model
from synth.errors import ConfigError, DataError
from synth.timeseries import DGAN, DGANConfig
from synth.timeseries.sequences import Sequences, SequenceSpec
from synth.timeseries.transform import SequenceTransformer
from synth.training import WGANConfig
from synth.transforms.tails import Tail

SPEC = SequenceSpec("long", "id", "t", ("site", "height"), ("wind", "temp"))


def windy(examples: int = 60, length: int = 12, seed: int = 0) -> pa.Table:
    """`wind` gamma-distributed below ~40 with one step at 1,000; `temp` normal; attribute `height`
    long-tailed (lognormal); `site` a category."""
    rng = np.random.default_rng(seed)
    wind = rng.gamma(4.0, 2.5, (examples, length))
    wind[3, 5] = 1000.0
    return pa.Table.from_pandas(pd.DataFrame({
        "id": np.repeat(np.arange(examples), length), "t": np.tile(np.arange(length), examples),
        "site": np.repeat(rng.choice(["a", "b"], examples), length),
        "height": np.repeat(np.round(rng.lognormal(3, 1.5, examples), 1), length),
        "wind": wind.ravel(), "temp": rng.normal(15, 5, examples * length)}), preserve_index=False)


def test_an_outlier_feature_gets_a_map_and_round_trips():
    seqs = Sequences.from_table(windy(), SPEC, max_len=12, max_gap=0)
    t = SequenceTransformer(12).fit(seqs)
    by_name = {f.name: f for f in t.continuous}
    assert by_name["wind"].tail_.kind is not Tail.NONE and by_name["temp"].tail_.kind is Tail.NONE
    assert t.attributes_.scales()["height"].startswith("log")
    # on the map's scale the bulk of wind spans a good part of [0, 1]; on its own it would sit below 0.05
    unit = by_name["wind"].unit(seqs.features.column("wind").to_numpy())
    assert np.quantile(unit, 0.99) > 0.4
    attributes, additional, features = t.transform(seqs)
    _, back = t.inverse_transform(attributes, additional, features, t.lengths(features))
    for name in ("wind", "temp"):
        np.testing.assert_allclose(back.column(name).to_numpy(), seqs.features.column(name).to_numpy(),
                                   rtol=1e-4, atol=1e-4, err_msg=name)  # the float32 matrix
    restored = SequenceTransformer.from_state(t.state())
    assert {f.name: f.tail_.kind for f in restored.continuous} == {f.name: f.tail_.kind for f in t.continuous}


def test_tail_transform_none_keeps_every_feature_on_its_scale():
    seqs = Sequences.from_table(windy(), SPEC, max_len=12, max_gap=0)
    t = SequenceTransformer(12, tail=Tail.NONE).fit(seqs)
    assert all(f.tail_.kind is Tail.NONE for f in t.continuous)
    assert np.quantile(t.continuous[0].unit(seqs.features.column("wind").to_numpy()), 0.99) < 0.05


def test_a_learned_outlier_feature_keeps_its_bulk():
    """After training, generated wind has the real bulk's spread (its raw-scale fit would collapse it
    near the bottom of a 0-1000 range); an untrained model fails the same check."""
    table = windy(examples=120)
    real = table.column("wind").to_numpy()
    real_q = np.quantile(real, [0.1, 0.5, 0.9])

    def quantiles(epochs: int) -> np.ndarray:
        model = DGAN(DGANConfig(example_id="id", time_column="t", attribute_columns=("site", "height"),
                                feature_columns=("wind", "temp"), max_sequence_len=12, sample_len=3, seed=0,
                                training=WGANConfig(epochs=epochs, batch_size=60, generator_lr=1e-3,
                                                    critic_lr=1e-3, betas=(0.5, 0.999)))).fit(table)
        return np.quantile(model.generate(400).column("wind").to_numpy(), [0.1, 0.5, 0.9])

    trained = quantiles(150)
    assert np.all(np.abs(trained - real_q) < 0.35 * real_q[1]), (trained, real_q)
    untrained = quantiles(1)
    assert not np.all(np.abs(untrained - real_q) < 0.35 * real_q[1]), (untrained, real_q)


def test_forced_transforms_are_checked_against_the_data():
    seqs = Sequences.from_table(windy(), SPEC, max_len=12, max_gap=0)
    with pytest.raises(DataError, match=r"model.column_transforms.nope: 'nope' is neither an attribute"):
        SequenceTransformer(12, tails={"nope": "log"}).fit(seqs)
    with pytest.raises(DataError, match=r"model.column_transforms.site"):
        SequenceTransformer(12, tails={"site": "log"}).fit(seqs)
    shifted = windy().set_column(5, "temp", pa.array(np.random.default_rng(1).normal(-3, 1, 720)))
    with pytest.raises(DataError, match=r"model.column_transforms.temp=log: feature 'temp' cannot take it.*minimum"):
        SequenceTransformer(12, tails={"temp": "log"}).fit(Sequences.from_table(shifted, SPEC, max_len=12, max_gap=0))
    t = SequenceTransformer(12, tails={"temp": "quantile", "height": "none"}).fit(seqs)
    assert {f.name: f.tail_.kind for f in t.continuous}["temp"] is Tail.QUANTILE
    assert "height" not in t.attributes_.scales()


def test_the_dgan_config_keys_reach_the_model():
    tree = {"source": {"path": "in.parquet"}, "output": {"path": "out.parquet"},
            "model": {"kind": "dgan", "example_id": "id", "time_column": "t", "tail_transform": "none",
                      "column_transforms": {"wind": "quantile"}}}
    model = synth_model(parse_config(tree).model)
    assert model.config.tail_transform is Tail.NONE and model.config.column_transforms == {"wind": Tail.QUANTILE}
    with pytest.raises(ConfigError, match="tail_transform"):
        DGANConfig(tail_transform="log")
    bad = {**tree, "model": {**tree["model"], "column_transforms": {"wind": "sqrt"}}}
    with pytest.raises(ConfigError, match="column_transforms"):
        parse_config(bad)
