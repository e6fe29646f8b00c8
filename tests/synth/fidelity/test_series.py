"""The time-series fidelity section: known-good, time-shuffled and dependence-broken synthetic data."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from synth.errors import DataError
from synth.fidelity.render import render_series_html
from synth.fidelity.series import SeriesSpec, series_report

MAX_LENGTH = 32
SPEC = SeriesSpec(example_id="id", time_column="time", attribute_columns=("regime", "size"),
                  feature_columns=("signal", "drift", "state"))


def make_sequences(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Periodic signals whose period and level depend on the `regime` attribute; 30% of sequences shorter.

    `drift` is a random walk plus half the signal (a cross-feature correlation), `state` a discrete
    feature that follows the signal, `size` a continuous attribute. Rows come shuffled.
    """
    rng = np.random.default_rng(seed)
    fast = rng.random(n) < 0.5
    steps = np.arange(MAX_LENGTH)
    period, level = np.where(fast, 12.0, 16.0)[:, None], np.where(fast, 2.0, 0.0)[:, None]
    signal = level + np.sin(2 * np.pi * steps / period + rng.uniform(0, 2 * np.pi, (n, 1))) \
        + 0.2 * rng.normal(size=(n, MAX_LENGTH))  # (n, T)
    drift = np.cumsum(rng.normal(size=(n, MAX_LENGTH)), axis=1) + 0.5 * signal  # (n, T)
    lengths = np.where(rng.random(n) < 0.7, MAX_LENGTH, rng.integers(MAX_LENGTH // 2, MAX_LENGTH, n))
    kept = steps[None, :] < lengths[:, None]  # (n, T)
    frame = pd.DataFrame({
        "id": np.repeat([f"s{seed}-{i}" for i in range(n)], lengths),
        "time": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.broadcast_to(steps, (n, MAX_LENGTH))[kept], unit="h"),
        "regime": np.repeat(np.where(fast, "fast", "slow"), lengths),
        "size": np.repeat(rng.lognormal(0, 0.5, n), lengths),
        "signal": signal[kept], "drift": drift[kept],
        "state": np.where(signal > level, "high", "low")[kept],
    })
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def shuffle_time(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The same sequences with their time stamps permuted within each sequence."""
    rng = np.random.default_rng(seed)
    shuffled = frame.copy()
    shuffled["time"] = frame.groupby("id")["time"].transform(lambda t: rng.permutation(t.to_numpy()))
    return shuffled


def permute_regimes(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The same sequences with the regime labels permuted across sequences (marginal kept, dependence broken)."""
    ids = frame["id"].unique()
    first = frame.drop_duplicates("id").set_index("id")["regime"].reindex(ids)
    relabel = dict(zip(ids, np.random.default_rng(seed).permutation(first.to_numpy())))
    return frame.assign(regime=frame["id"].map(relabel))


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    return make_sequences(seed=1)


@pytest.fixture(scope="module")
def fresh(real) -> dict:
    return series_report(real, make_sequences(seed=2), SPEC, holdout=make_sequences(seed=3))


def test_a_fresh_draw_scores_near_the_top(fresh):
    assert fresh["acf"]["score"]["synthetic"] > 0.9
    assert fresh["lengths"]["score"]["synthetic"] > 0.8
    assert fresh["discriminative"]["auc"]["synthetic"] < 0.7
    assert fresh["per_sequence"]["score"]["synthetic"] > 0.8
    assert fresh["dependence"]["score"]["synthetic"] > 0.85
    assert fresh["correlation"]["score"]["synthetic"] > 0.9
    assert fresh["discrete_features"]["score"]["synthetic"] > 0.9
    assert fresh["summary"]["overall"]["synthetic"] > 0.85
    assert fresh["summary"]["overall"]["holdout"] > 0.85
    # the shuffled baseline loses the temporal structure and nothing else
    assert fresh["acf"]["score"]["shuffled"] < 0.8
    assert fresh["per_sequence"]["score"]["shuffled"] > 0.99  # same values, summed in another order
    assert fresh["summary"]["overall"]["shuffled"] < fresh["summary"]["overall"]["synthetic"]


def test_time_shuffled_synthetic_fails_the_acf_but_keeps_per_sequence_means(real, fresh):
    report = series_report(real, shuffle_time(make_sequences(seed=2), seed=5), SPEC, holdout=make_sequences(seed=3))
    assert report["acf"]["score"]["synthetic"] < 0.8
    assert report["acf"]["score"]["synthetic"] < fresh["acf"]["score"]["synthetic"] - 0.15
    assert report["discriminative"]["auc"]["synthetic"] > 0.85
    assert report["discrete_features"]["features"]["state"]["transitions"]["synthetic"] \
        < fresh["discrete_features"]["features"]["state"]["transitions"]["synthetic"] - 0.1
    for feature in ("signal", "drift"):
        assert report["per_sequence"]["features"][feature]["mean"]["synthetic"] > 0.85


def test_permuted_attribute_labels_break_the_dependence_score(real, fresh):
    report = series_report(real, permute_regimes(make_sequences(seed=2), seed=6), SPEC)
    assert report["dependence"]["score"]["synthetic"] < fresh["dependence"]["score"]["synthetic"] - 0.3
    assert report["attributes"]["marginals"]["regime"]["score"]["synthetic"] > 0.9  # the marginal survives


def _holdout_values(node) -> list:
    if isinstance(node, dict):
        found = [node["holdout"]] if "holdout" in node else []
        return found + [v for child in node.values() for v in _holdout_values(child)]
    if isinstance(node, list):
        return [v for child in node for v in _holdout_values(child)]
    return []


def test_without_holdout_its_entries_are_none_and_the_report_is_plain_json():
    real, synthetic = make_sequences(n=80, seed=1), make_sequences(n=80, seed=2)
    report = series_report(real, synthetic, SPEC, max_lag=6, seed=3)
    holdout_values = _holdout_values(report)
    assert len(holdout_values) > 20 and all(v is None for v in holdout_values)
    assert report["summary"]["overall"]["synthetic"] is not None
    assert json.loads(json.dumps(report, allow_nan=False)) == report
    assert series_report(real, synthetic, SPEC, max_lag=6, seed=3) == report
    assert report["settings"]["lags"] == 6 and len(report["acf"]["features"]["signal"]["curves"]["real"]) == 6


def test_sampling_down_is_recorded_and_seeded():
    real, synthetic = make_sequences(n=60, seed=1), make_sequences(n=40, seed=2)
    report = series_report(real, synthetic, SPEC, max_examples=50, seed=4)
    assert report["settings"]["sampled"] == {"real": True, "synthetic": False, "holdout": None}
    assert report["counts"]["sequences"] == {"real": 50, "synthetic": 40, "holdout": None}
    assert report["counts"]["sequences_total"]["real"] == 60
    assert series_report(real, synthetic, SPEC, max_examples=50, seed=4) == report


def test_bad_input_is_a_data_error_naming_side_and_column():
    real = make_sequences(n=20, seed=1)
    with pytest.raises(DataError, match=r"synthetic.*'drift'"):
        series_report(real, real.drop(columns="drift"), SPEC)
    with pytest.raises(DataError, match=r"holdout.*'regime'"):
        series_report(real, real, SPEC, holdout=real.drop(columns="regime"))
    with pytest.raises(DataError, match=r"real.*no sequences"):
        series_report(real.iloc[:0], real, SPEC)


def test_render_series_html_embeds_plots_and_names_every_feature(fresh):
    html = render_series_html(fresh)
    assert html.startswith("<h2>") and "<img src=\"data:image/png;base64," in html
    for name in ("signal", "drift", "state", "regime"):
        assert name in html


def test_scores_carry_intervals_from_resampled_sequences():
    real, fresh = make_sequences(seed=0), make_sequences(seed=1)
    report = series_report(real, fresh, SPEC, seed=0)
    for name in ("acf", "lengths", "per_sequence", "overall"):
        low, high = report["intervals"][name]
        assert low <= report["summary"][name]["synthetic"] <= high and high - low > 0, name
