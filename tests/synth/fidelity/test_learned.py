"""Learned fidelity metrics: detection, utility and structure move when the relations between columns break."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import torch

from synth.errors import ConfigError, DataError
from synth.fidelity.encode import TableEncoder
from synth.fidelity.learned.detection import detection
from synth.fidelity.learned.structure import structure
from synth.fidelity.learned.utility import utility
from synth.fidelity.render.sections import learned_html
from synth.schema import schema_specs

ROWS = 4_000  # enough for a stable 20×20 histogram
MODEL_ROWS = 2_500  # max_rows of detection and utility: models fit faster, metrics still stable


def make_table(rows: int, seed: int) -> pd.DataFrame:
    """A chain of dependencies c → x → y → b, and z independent of everything."""
    rng = np.random.default_rng(seed)
    c = rng.choice(["a", "b", "c"], rows, p=[0.5, 0.3, 0.2])
    x = rng.normal(np.select([c == "a", c == "b"], [-2.0, 0.5], 2.5), 1.0)
    y = 2.0 * x + rng.normal(0.0, 1.0, rows)
    b = rng.random(rows) < 1.0 / (1.0 + np.exp(-y))
    z = rng.normal(10.0, 3.0, rows)
    return pd.DataFrame({"c": c, "x": x, "y": y, "b": b, "z": z})


def independent_columns(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Each column resampled on its own from the real marginal: every relation between columns gone."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({name: rng.choice(frame[name].to_numpy(), len(frame)) for name in frame.columns})


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    return make_table(ROWS, seed=0)


@pytest.fixture(scope="module")
def encoder(real) -> TableEncoder:
    return TableEncoder(schema_specs(pa.Schema.from_pandas(real, preserve_index=False))).fit(real)


@pytest.fixture(scope="module")
def encoded(real, encoder) -> dict:
    shifted = make_table(ROWS, seed=3)
    shifted["x"] += 3.0 * real["x"].std()
    unrelated_xy = real.assign(y=np.random.default_rng(5).permutation(real["y"].to_numpy()))
    frames = {
        "real": real,
        "fresh": make_table(ROWS, seed=1),
        "independent": independent_columns(real, seed=2),
        "shifted": shifted,
        "unrelated_xy": unrelated_xy,
        "test": make_table(ROWS, seed=4),
    }
    return {name: encoder.encode(frame) for name, frame in frames.items()}


@pytest.fixture(scope="module")
def detections(encoded, encoder) -> dict:
    return {side: _detection(encoded, encoder, side) for side in ("fresh", "independent", "shifted")}


@pytest.fixture(scope="module")
def regression(encoded, encoder) -> dict:
    return _utility(encoded, encoder, "fresh", "y")


def _detection(encoded, encoder, side: str) -> dict:
    return detection(encoded["real"], encoded[side], encoder, max_rows=MODEL_ROWS)


def _utility(encoded, encoder, side: str, target: str) -> dict:
    return utility(encoded["real"], encoded[side], encoded["test"], encoder, target, max_rows=MODEL_ROWS)


def test_detection_cannot_tell_a_fresh_draw(detections):
    result = detections["fresh"]
    assert result["auc"] < 0.6
    assert result["score"] > 0.8
    assert result["rows_per_side"] == MODEL_ROWS and result["test_rows_per_side"] == 750


def test_detection_sees_broken_relations(detections):
    result = detections["independent"]
    assert result["auc"] > 0.7
    assert result["score"] < detections["fresh"]["score"] - 0.3
    assert result["giveaways"][0]["column"] in {"x", "y", "c"}
    z = next(g for g in result["giveaways"] if g["column"] == "z")
    assert z["auc_drop"] < 0.05  # z is independent in the real data too: shuffling it gives nothing away


def test_detection_names_a_shifted_column_first(detections):
    result = detections["shifted"]
    assert result["auc"] > 0.9
    assert result["giveaways"][0]["column"] == "x"
    drops = [g["auc_drop"] for g in result["giveaways"]]
    assert drops == sorted(drops, reverse=True) and len(drops) == 5


def test_utility_classification(encoded, encoder):
    fresh = _utility(encoded, encoder, "fresh", "c")
    assert fresh["task"] == "classification" and fresh["metric"] == "accuracy"
    assert fresh["real"] > fresh["majority_baseline"] + 0.2  # the model learned c from x
    assert fresh["ratio"] > 0.9
    assert fresh["macro_f1"]["ratio"] > 0.9

    independent = _utility(encoded, encoder, "independent", "c")
    assert independent["real"] == fresh["real"]  # the same real model, seeded
    assert independent["synthetic"] < independent["majority_baseline"] + 0.05
    assert independent["synthetic"] < independent["real"] - 0.2
    assert independent["macro_f1"]["synthetic"] < fresh["macro_f1"]["synthetic"] - 0.2


def test_utility_regression(encoded, encoder, regression):
    fresh = regression
    assert fresh["task"] == "regression" and fresh["metric"] == "r2"
    assert fresh["synthetic"] > 0.8 and fresh["real"] > 0.8
    assert abs(fresh["mean_baseline"]) < 0.05
    assert _utility(encoded, encoder, "independent", "y")["synthetic"] < 0.3


def test_utility_regression_carries_r2_intervals(regression):
    # y = 2x + noise: R² about 0.95 on 1,000+ test rows, so a bootstrap interval of a few hundredths
    for side in ("synthetic", "real"):
        low, high = regression[f"{side}_ci"]
        assert low < regression[side] < high <= 1.0
        assert high - low < 0.1


def test_utility_html_shows_the_r2_intervals(regression):
    html = learned_html({"utility": regression})
    for side in ("synthetic", "real"):
        low, high = regression[f"{side}_ci"]
        assert f"{regression[side]:.3f} ({low:.3f} – {high:.3f})" in html


def test_utility_rejects_unknown_and_constant_targets(real, encoded, encoder):
    with pytest.raises(ConfigError, match="'income'"):
        _utility(encoded, encoder, "fresh", "income")
    constant = real.assign(k="same")
    constant_encoder = TableEncoder(schema_specs(pa.Schema.from_pandas(constant, preserve_index=False))).fit(constant)
    table = constant_encoder.encode(constant)
    with pytest.raises(DataError, match="'k'"):
        utility(table, table, table, constant_encoder, "k")


def test_structure_sees_unrelated_columns(encoded, encoder):
    fresh = structure(encoded["real"], encoded["fresh"], encoder)
    unrelated = structure(encoded["real"], encoded["unrelated_xy"], encoder)
    assert fresh["score"] > 0.9
    assert unrelated["score"] < fresh["score"] - 0.03
    assert unrelated["tv_complement"] < fresh["tv_complement"] - 0.05
    assert unrelated["ks_complement"][0] < fresh["ks_complement"][0] - 0.05
    # x and y together carry the first axis: without their correlation the other side spreads less along it
    assert unrelated["variance_ratio"][0] < 0.7 < fresh["variance_ratio"][0]
    histogram = fresh["histogram"]
    assert [len(e) for e in histogram["edges"]] == [21, 21]
    area = np.outer(np.diff(histogram["edges"][0]), np.diff(histogram["edges"][1]))
    assert np.sum(np.asarray(histogram["other"]) * area) == pytest.approx(1.0)


def test_results_are_json_seeded_and_hold_no_rows(real, encoded, encoder, detections, regression):
    torch.manual_seed(123)  # the caller's own torch RNG: must neither change the results nor be changed
    caller_state = torch.get_rng_state()
    results = {
        "detection": _detection(encoded, encoder, "fresh"),
        "utility": _utility(encoded, encoder, "fresh", "y"),
        "structure": structure(encoded["real"], encoded["fresh"], encoder),
    }
    assert torch.equal(torch.get_rng_state(), caller_state)
    assert results["detection"] == detections["fresh"]
    assert results["utility"] == regression
    assert results["structure"] == structure(encoded["real"], encoded["fresh"], encoder)
    assert structure(encoded["real"], encoded["fresh"], encoder, seed=1, max_rows=3_000) != results["structure"]

    json.dumps(results, allow_nan=False)
    raw = set(real["x"]) | set(real["y"]) | set(real["z"])
    assert not raw & set(_numbers(results))  # aggregates only: no raw value leaks out


def _numbers(value) -> list[float]:
    """Every number in a nested dict/list result."""
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else []
