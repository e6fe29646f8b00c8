"""The shared metric helpers: one KS and one TV complement, the intervals, the probe network."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from torch.nn import functional as F

from synth.fidelity.intervals import percentile_interval, spread_interval
from synth.fidelity.learned.probes import Init, ProbeConfig, predict, train_probe
from synth.fidelity.metrics import ks_complement, total_variation, tv_complement


@pytest.mark.parametrize("ties", [False, True])
def test_ks_complement_is_scipys_statistic_bit_for_bit(ties):
    rng = np.random.default_rng(0)
    for _ in range(200):
        real, other = rng.normal(size=rng.integers(1, 200)), rng.normal(0.3, 1.5, size=rng.integers(1, 200))
        if ties:
            real, other = np.round(real), np.round(other)
        assert ks_complement(real, other) == 1.0 - float(stats.ks_2samp(real, other, method="asymp").statistic)


def test_complements_leave_out_missing_values_and_score_an_empty_side_by_its_rule():
    values, empty = np.array([1.0, np.nan, 2.0]), np.array([np.nan])
    assert ks_complement(values, values) == 1.0
    assert ks_complement(values, empty) == 0.0 and ks_complement(empty, values) == 0.0
    assert ks_complement(empty, values, needs_real=True) is None and ks_complement(empty, empty) is None
    codes = np.array([0, 1, 1])
    assert tv_complement(codes, np.array([1, 1, 0]), size=2) == 1.0
    assert tv_complement(codes, codes[:0], size=2) == 0.0 and tv_complement(codes[:0], codes[:0], size=2) is None
    real, other = pd.Series(["a", None, "b"]), pd.Series(["a", "a"])
    assert tv_complement(real, other) == 1.0 - total_variation(real.dropna(), other) == 0.5
    assert tv_complement(pd.Series([None]), other, needs_real=True) is None


def test_intervals_need_a_point_and_skip_undefined_resamples():
    assert spread_interval(None, [0.5, 0.6]) is None and spread_interval(0.5, [0.5]) is None
    low, high = spread_interval(0.5, [0.4, 0.6, 0.5])
    assert low < 0.5 < high
    rng = np.random.default_rng(0)
    assert percentile_interval(lambda rows: None, 10, rng, 5) is None
    low, high = percentile_interval(lambda rows: float(rows.mean()), 10, rng, 50)
    assert 0 <= low <= high <= 9


@pytest.mark.parametrize("init", list(Init))
def test_the_probe_is_seeded_and_learns_a_separable_task(init):
    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.normal(size=(200, 3)), dtype=torch.float32)
    y = (x[:, 0] > 0).float()
    y = y if init is Init.NORMAL else y[:, None]  # the normal-init network has one logit per row, (n,)
    probe = ProbeConfig(steps=100, init=init)
    scores = [predict(train_probe(x, y, F.binary_cross_entropy_with_logits, 1, 7, probe), x) for _ in range(2)]
    assert np.array_equal(scores[0], scores[1])
    assert np.mean((scores[0].reshape(-1) > 0) == (y.numpy().reshape(-1) > 0.5)) > 0.9
