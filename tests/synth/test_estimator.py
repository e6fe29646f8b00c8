"""The model base (synth.estimator): every kind fits, samples, saves and loads the same way."""
from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from synth.errors import ConfigError
from synth.estimator import WGANEstimator
from synth.models import KINDS, load_model, model_kind
from synth.tabular import ACTGAN
from synth.timeseries import DGAN
from tests.support.tables import make_mixed_table, make_tiny_config
from tests.support.timeseries import dgan_config, periodic

# per kind: a tiny config, its data, and a condition every sampled unit must meet
CASES = {
    "actgan": (make_tiny_config, lambda: make_mixed_table(), ("plan", "pro")),
    "dgan": (dgan_config, lambda: pa.Table.from_pandas(periodic(examples=60), preserve_index=False), ("cls", "fast")),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def kind(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def fitted(kind) -> WGANEstimator:
    config, data, _ = CASES[kind]
    return model_kind(kind).estimator()(config()).fit(data())


def test_every_kind_is_a_model_base_estimator():
    assert {name: kind.estimator() for name, kind in KINDS.items()} == {"actgan": ACTGAN, "dgan": DGAN}
    for estimator in (ACTGAN, DGAN):
        assert issubclass(estimator, WGANEstimator)
        assert isinstance(estimator(), estimator) and estimator().config == estimator.config_type()


def test_an_unfitted_model_refuses_to_sample_or_save(kind, tmp_path):
    model = model_kind(kind).estimator()(CASES[kind][0]())
    for call in (lambda: model.sample(5), lambda: model.sample_table(5), lambda: model.save(tmp_path / "m")):
        with pytest.raises(RuntimeError, match=f"this {type(model).__name__} is not fitted yet"):
            call()


def test_fit_returns_the_model_with_its_fitted_state(kind, fitted):
    assert fitted.kind == kind
    assert [s.epoch for s in fitted.history_] == [1, 2]
    assert fitted.resumed_from_ is None and fitted.stopped_early_ is None and fitted.selected_epoch_ is None


def test_same_seed_same_output_and_another_seed_another(fitted):
    first = fitted.sample_table(20, seed=3)
    assert first.equals(fitted.sample_table(20, seed=3))
    assert not first.equals(fitted.sample_table(20, seed=4))
    assert fitted.sample_table(20).equals(fitted.sample_table(20, seed=fitted.config.seed))
    pd.testing.assert_frame_equal(fitted.sample(20, seed=3), first.to_pandas())


def test_the_same_config_fits_the_same_model(kind, fitted):
    config, data, _ = CASES[kind]
    again = model_kind(kind).estimator()(config()).fit(data())
    assert again.sample_table(20, seed=5).equals(fitted.sample_table(20, seed=5))


def test_save_load_sample_round_trip(fitted, tmp_path):
    fitted.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert type(loaded) is type(fitted) and loaded.config == fitted.config
    assert loaded.history_ == fitted.history_
    assert loaded.sample_table(20, seed=7).equals(fitted.sample_table(20, seed=7))
    assert loaded.sample_table(20, seed=7).schema == fitted.sample_table(1).schema


def test_conditions_hold_for_every_unit_and_bad_counts_are_refused(kind, fitted):
    column, value = CASES[kind][2]
    frame = fitted.sample(10, seed=1, conditions={column: value})
    assert set(frame[column].astype(str)) == {value}
    for n in (0, -1):
        with pytest.raises(ConfigError, match=f"^{type(fitted).count_name}={n}: must be at least 1"):
            fitted.sample(n)
