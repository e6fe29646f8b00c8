"""Utility (machine-learning efficacy): train on synthetic and on real rows, test on real ones.

`utility(train, synthetic, test, encoder, target)` returns:
- `target`; `task`: "classification" (discrete, boolean) or "regression" (continuous, datetime);
- `metric`: "accuracy" or "r2"; `synthetic`: train-on-synthetic test metric; `real`: train-on-real;
  `ratio`: synthetic / real, None when real ≤ 0;
- `majority_baseline` (classification: accuracy of always the most frequent train class) or
  `mean_baseline` (regression: R² of always the train mean, about 0);
- classification only: `macro_f1`: `{"synthetic", "real", "ratio", "majority_baseline"}`, F1 averaged
  over the classes present in the real test rows;
- `synthetic_ci`, `real_ci`: 90 % intervals of the two `metric` values, each [low, high] or None:
  accuracy ± 1.645 standard errors of a share of the test rows (normal approximation); R²: its 5th
  and 95th percentiles over 200 resamples of the test rows (the models fixed);
- `rows`: `{"train", "synthetic", "test"}`, rows used (those with a target value).
"""
from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from synth.errors import ConfigError, DataError
from synth.fidelity.encode import EncodedTable, TableEncoder
from synth.fidelity.intervals import percentile_interval, share_interval
from synth.fidelity.learned.probes import (PROBE, TEST_RESAMPLES, ProbeConfig, check_max_rows, intra_op_threads,
                                           predict, probe_features, train_probe)
from synth.fidelity.metrics import ratio


def utility(train: EncodedTable, synthetic: EncodedTable, test: EncodedTable, encoder: TableEncoder,
            target: str, max_rows: int = 50_000, seed: int = 0, probe: ProbeConfig = PROBE) -> dict:
    """Machine-learning efficacy: predict `target` from every other column, trained on synthetic vs on real.

    Both models are scored on `test`, real rows neither was trained on. Rows whose target is missing are
    dropped from every side. A discrete or boolean target is a classification (accuracy, macro-F1), a
    continuous or datetime one a regression on the target standardized by the real train rows (R²).

    Args:
        train: real rows to train the reference model on, encoded.
        synthetic: synthetic rows to train the compared model on, encoded.
        test: real rows held out from both models (and, ideally, from the synthesizer), encoded.
        encoder: the encoder fitted on the real data.
        target: the column to predict.
        max_rows: most rows taken from each of the three tables.
        seed: seeds the subsamples and the networks.
        probe: the network and its training.

    Returns:
        `target`, `task`, `metric`, `synthetic`, `real`, `ratio`, `synthetic_ci`, `real_ci`,
        `majority_baseline` or `mean_baseline`, `rows`, and `macro_f1` for a classification (see the
        module docstring).

    Raises:
        ConfigError: `target` is not a column of the encoder, or `max_rows` is below 1.
        DataError: no feature column besides the target, a table has no row with a target value, or the
            real train target has fewer than 2 classes / no variance.
    """
    check_max_rows(max_rows, 1)
    kind, index = _target_column(encoder, target)
    keep = np.asarray(encoder.feature_columns()) != target
    if not keep.any():
        raise DataError(f"utility target '{target}' is the only column: nothing to predict it from")
    rng = np.random.default_rng(seed)
    sides = {}  # side -> (features (n, d) without the target, target values (n,)), rows with a target only
    for side, table in (("train", train), ("synthetic", synthetic), ("test", test)):
        values = table.codes[:, index] if kind == "classification" else table.numeric[:, index]
        present = np.flatnonzero(values >= 0 if kind == "classification" else np.isfinite(values))
        if not len(present):
            raise DataError(f"utility target '{target}' has no value in the {side} rows")
        rows = present[rng.permutation(len(present))[:max_rows]]
        sides[side] = (probe_features(encoder, table.take(rows), probe.feature_clip, keep), values[rows])
    with intra_op_threads(probe.threads):
        if kind == "classification":
            result = _classification(sides, encoder.n_codes(index), target, seed, probe)
        else:
            result = _regression(sides, target, seed, probe, rng)
    return {"target": target, "task": kind, **result, "rows": {side: len(y) for side, (_, y) in sides.items()}}


def _target_column(encoder: TableEncoder, target: str) -> tuple[str, int]:
    """("classification" | "regression", index among the encoder's categorical | numeric columns)."""
    if target in encoder.categorical_names:
        return "classification", encoder.categorical_names.index(target)
    if target in encoder.numeric_names:
        return "regression", encoder.numeric_names.index(target)
    columns = ", ".join(s.name for s in encoder.specs)
    raise ConfigError(f"utility target '{target}' is not a column of the table (columns: {columns})")


def _classification(sides: dict, n_classes: int, target: str, seed: int, probe: ProbeConfig) -> dict:
    train_y, test_y = sides["train"][1], sides["test"][1]
    if len(np.unique(train_y)) < 2:
        raise DataError(f"utility target '{target}' has fewer than 2 classes in the real train rows")
    predictions = {}
    for side in ("synthetic", "train"):
        features, labels = sides[side]
        network = train_probe(features, torch.from_numpy(labels), F.cross_entropy, n_classes, seed, probe)
        predictions[side] = predict(network, sides["test"][0]).argmax(axis=1)
    majority = np.full_like(test_y, np.bincount(train_y).argmax())
    accuracy = {side: float(np.mean(p == test_y)) for side, p in predictions.items()}
    f1 = {side: _macro_f1(p, test_y) for side, p in predictions.items()}
    return {
        "metric": "accuracy",
        **_comparison(accuracy["synthetic"], accuracy["train"]),
        # an accuracy is a share of the test rows: its 90 % normal-approximation interval
        "synthetic_ci": share_interval(accuracy["synthetic"], len(test_y)),
        "real_ci": share_interval(accuracy["train"], len(test_y)),
        "majority_baseline": float(np.mean(majority == test_y)),
        "macro_f1": {**_comparison(f1["synthetic"], f1["train"]), "majority_baseline": _macro_f1(majority, test_y)},
    }


def _regression(sides: dict, target: str, seed: int, probe: ProbeConfig, rng: np.random.Generator) -> dict:
    train_y = sides["train"][1]
    mean, std = float(train_y.mean()), float(train_y.std())
    if not std > 0:
        raise DataError(f"utility target '{target}' has no variance in the real train rows")
    test_y = (sides["test"][1] - mean) / std
    predictions = {}
    for side in ("synthetic", "train"):
        features, values = sides[side]
        standardized = np.clip((values - mean) / std, -probe.feature_clip, probe.feature_clip)
        targets = torch.from_numpy(standardized.astype(np.float32))[:, None]  # (n, 1)
        network = train_probe(features, targets, F.mse_loss, 1, seed, probe)
        predictions[side] = predict(network, sides["test"][0])[:, 0]  # (n_test,)
    scores = {side: _r2(p, test_y) for side, p in predictions.items()}
    return {
        "metric": "r2",
        **_comparison(scores["synthetic"], scores["train"]),
        "synthetic_ci": _r2_interval(predictions["synthetic"], test_y, rng),
        "real_ci": _r2_interval(predictions["train"], test_y, rng),
        "mean_baseline": _r2(np.zeros_like(test_y), test_y),
    }


def _comparison(synthetic: float | None, real: float | None) -> dict:
    return {"synthetic": synthetic, "real": real, "ratio": None if real is None else ratio(synthetic, real)}


def _r2_interval(predicted: np.ndarray, truth: np.ndarray, rng: np.random.Generator) -> list[float] | None:
    """The test R²'s `percentile_interval` (the model fixed); None when every resample's target is constant."""
    return percentile_interval(lambda rows: _r2(predicted[rows], truth[rows]), len(truth), rng, TEST_RESAMPLES)


def _macro_f1(predicted: np.ndarray, truth: np.ndarray) -> float:
    """F1 averaged over the classes present in `truth` (2·TP / (2·TP + FP + FN) each)."""
    scores = []
    for label in np.unique(truth):
        hit, actual = predicted == label, truth == label
        true_positives = np.sum(hit & actual)
        scores.append(2 * true_positives / (hit.sum() + actual.sum()))
    return float(np.mean(scores))


def _r2(predicted: np.ndarray, truth: np.ndarray) -> float | None:
    """1 − SSE / SST around the test mean; None when the test target is constant."""
    total = float(np.sum((truth - truth.mean()) ** 2))
    if total == 0:
        return None
    return 1.0 - float(np.sum((truth - predicted) ** 2)) / total
