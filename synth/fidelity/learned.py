"""The learned sections of the fidelity report: can a model tell the sides apart, does a model trained on
synthetic rows work on real ones, and does the table keep its main 2-D shape.

All three take tables already encoded by one `TableEncoder` fitted on the real data, cut each side to at
most `max_rows` seeded random rows, and return plain floats/ints/lists (None where undefined, never NaN),
so `json.dumps(result, allow_nan=False)` works. No raw row leaves these functions, only aggregates.
Models are trained on the CPU from `seed` alone (a forked torch RNG): the same seed gives the same result.

`detection(real, other, encoder)` — a classifier telling `other` from `real`, tested on held-out rows:
    - `auc`: test ROC AUC (0.5 = chance); `score`: 1 − 2·max(auc − 0.5, 0), 1 = indistinguishable;
    - `giveaways`: up to 10 `{"column", "auc_drop"}`, largest drop first: the test AUC lost when all the
      feature positions of that column are shuffled together across rows (permutation importance);
    - `auc_ci`: 5th and 95th percentiles of the test AUC over 200 resamples of the test rows (the model
      fixed); `score_ci`: the score at those two AUCs;
    - `rows_per_side` (rows used from each side), `test_rows_per_side`.

`utility(train, synthetic, test, encoder, target)` — train on synthetic and on real, test on real:
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

`structure(real, other, encoder)` — both sides projected on the real data's first 2 principal axes:
    - `explained_variance_ratio`: `{"real": [2], "other": [2]}`: variance along each axis over the real
      data's total variance (the same denominator for both, so they compare directly);
    - `variance_ratio`: [2] other's variance along each axis over real's (None where real's is 0);
    - `ks_complement`: [2] 1 − KS statistic per component; `tv_complement`: 1 − total variation distance
      between the two `bins`×`bins` histograms; `score`: mean of the two KS complements and the TV one;
    - `histogram`: `{"edges": [x edges, y edges], "real": rows of densities, "other": ...}` (equal-width
      bins over real's 0.5–99.5 % range, values beyond it counted in the outer bins);
    - `score_ci`: score ± 1.645 standard errors over 20 resamples of both projected sides;
    - `rows_real`, `rows_other`.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch
from scipy import stats
from torch import nn
from torch.nn import functional as F

from synth.errors import ConfigError, DataError
from synth.fidelity.encode import EncodedTable, TableEncoder
from synth.fidelity.metrics import rank_auc

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
BOOTSTRAP_ROUNDS = 20  # resamples behind the structure score's interval
TEST_RESAMPLES = 200  # resamples of the test rows behind the detection AUC's and the utility R²'s intervals


@dataclass(frozen=True)
class ProbeConfig:
    """The small network behind `detection` and `utility`, and how it is trained."""

    hidden_dim: int = 64
    steps: int = 200  # Adam steps, fixed, so the run time does not depend on the data
    batch_size: int = 4096  # rows per step (all of them when fewer): a few large mini-batches per epoch
    learning_rate: float = 1e-2
    feature_clip: float = 10.0  # standardized inputs clipped to ±this: a wild synthetic value must not swamp it
    test_fraction: float = 0.3  # detection: held-out share of each side
    permutation_repeats: int = 3  # detection: shuffles per column, averaged
    top_giveaways: int = 10
    threads: int | None = 1  # torch threads while fitting (None: as set): as fast, and no OpenMP stalls when busy


PROBE = ProbeConfig()


def detection(real: EncodedTable, other: EncodedTable, encoder: TableEncoder, max_rows: int = 20_000,
              seed: int = 0, probe: ProbeConfig = PROBE) -> dict:
    """Train a classifier to tell `other` rows from `real` rows and report how well it does, and why.

    Both sides are cut to the same number of rows, min(len(real), len(other), max_rows), so the classes
    are balanced; `probe.test_fraction` of each side is held out for the AUC and the permutation importance.

    Args:
        real: the real table, encoded.
        other: the synthetic table (or a reference sample), encoded by the same encoder.
        encoder: the encoder fitted on the real data.
        max_rows: most rows taken from each side.
        seed: seeds the subsample, the split, the network and the shuffles.
        probe: the network and its training.

    Returns:
        `auc`, `score`, `giveaways`, `rows_per_side`, `test_rows_per_side` (see the module docstring).

    Raises:
        ConfigError: `max_rows` is below 2.
        DataError: a side has fewer than 2 rows.
    """
    _check_max_rows(max_rows, 2)
    per_side = min(len(real), len(other), max_rows)
    if per_side < 2:
        raise DataError(f"detection needs at least 2 rows on each side, got {len(real)} real and {len(other)} other")
    rng = np.random.default_rng(seed)
    real_x, other_x = (_features(encoder, _subsample(t, per_side, rng), probe.feature_clip) for t in (real, other))
    n_test = min(per_side - 1, max(1, round(per_side * probe.test_fraction)))  # rows are shuffled: the head is random
    train_x = torch.cat([real_x[n_test:], other_x[n_test:]])  # (2·(per_side − n_test), d)
    labels = torch.cat([torch.zeros(per_side - n_test, 1), torch.ones(per_side - n_test, 1)])  # 1 = other
    test_x = torch.cat([real_x[:n_test], other_x[:n_test]])  # (2·n_test, d)
    test_labels = np.repeat([False, True], n_test)
    with _intra_op_threads(probe.threads):
        network = _train(train_x, labels, F.binary_cross_entropy_with_logits, 1, seed, probe)
        test_scores = _predict(network, test_x)[:, 0]
        auc = rank_auc(test_scores, test_labels)
        auc_ci = _auc_interval(test_scores, test_labels, rng)
        drops = _permutation_drops(network, test_x, test_labels, auc, encoder.feature_columns(), rng, probe)
    ranked = sorted(drops.items(), key=lambda item: -item[1])[: probe.top_giveaways]
    return {
        "auc": auc,
        "score": _detection_score(auc),
        "auc_ci": list(auc_ci),
        "score_ci": [_detection_score(auc_ci[1]), _detection_score(auc_ci[0])],
        "giveaways": [{"column": name, "auc_drop": drop} for name, drop in ranked],
        "rows_per_side": int(per_side),
        "test_rows_per_side": int(n_test),
    }


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
    _check_max_rows(max_rows, 1)
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
        sides[side] = (_features(encoder, table.take(rows), probe.feature_clip, keep), values[rows])
    with _intra_op_threads(probe.threads):
        if kind == "classification":
            result = _classification(sides, encoder.n_codes(index), target, seed, probe)
        else:
            result = _regression(sides, target, seed, probe, rng)
    return {"target": target, "task": kind, **result, "rows": {side: len(y) for side, (_, y) in sides.items()}}


def structure(real: EncodedTable, other: EncodedTable, encoder: TableEncoder, max_rows: int = 50_000,
              seed: int = 0, bins: int = 20) -> dict:
    """Compare the two sides in the plane of the real data's first two principal components.

    The axes come from a PCA of the (subsampled) real features, centred on the real mean; both sides are
    projected on them. A table with a single feature position gets a constant second component.

    Args:
        real: the real table, encoded.
        other: the synthetic table (or a reference sample), encoded by the same encoder.
        encoder: the encoder fitted on the real data.
        max_rows: most rows taken from each side.
        seed: seeds the subsamples.
        bins: histogram bins along each component.

    Returns:
        `score`, `explained_variance_ratio`, `variance_ratio`, `ks_complement`, `tv_complement`,
        `histogram`, `rows_real`, `rows_other` (see the module docstring).

    Raises:
        ConfigError: `max_rows` or `bins` is below 1.
        DataError: a side has no rows.
    """
    _check_max_rows(max_rows, 1)
    if bins < 1:
        raise ConfigError(f"structure bins must be at least 1, got {bins}")
    if len(real) == 0 or len(other) == 0:
        raise DataError(f"structure needs rows on both sides, got {len(real)} real and {len(other)} other")
    rng = np.random.default_rng(seed)
    # the probes' clipped features: one wild synthetic value must not swing the variances either
    real_x, other_x = (_features(encoder, _subsample(t, max_rows, rng), PROBE.feature_clip).double().numpy()
                       for t in (real, other))
    center = real_x.mean(axis=0)
    axes = _principal_axes(real_x - center)  # (d, 2)
    real_p, other_p = (real_x - center) @ axes, (other_x - center) @ axes  # (n, 2)

    total = float(((real_x - center) ** 2).sum(axis=1).mean())
    real_var, other_var = real_p.var(axis=0), other_p.var(axis=0)
    ks = [1.0 - float(stats.ks_2samp(real_p[:, k], other_p[:, k], method="asymp").statistic) for k in range(2)]
    edges = [_bin_edges(real_p[:, k], bins) for k in range(2)]
    real_mass, other_mass = _histogram(real_p, edges), _histogram(other_p, edges)  # (bins, bins)
    tv = 1.0 - 0.5 * float(np.abs(real_mass - other_mass).sum())
    area = np.outer(np.diff(edges[0]), np.diff(edges[1]))
    score = float(np.mean(ks + [tv]))
    return {
        "score": score,
        "score_ci": _structure_interval(real_p, other_p, edges, score, rng),
        "explained_variance_ratio": {
            "real": [_ratio(v, total) for v in real_var],
            "other": [_ratio(v, total) for v in other_var],
        },
        "variance_ratio": [_ratio(o, r) for o, r in zip(other_var, real_var)],
        "ks_complement": ks,
        "tv_complement": tv,
        "histogram": {
            "edges": [e.tolist() for e in edges],
            "real": (real_mass / area).tolist(),
            "other": (other_mass / area).tolist(),
        },
        "rows_real": len(real_x),
        "rows_other": len(other_x),
    }


def _plane_score(real_p: np.ndarray, other_p: np.ndarray, edges: list[np.ndarray]) -> float:
    ks = [1.0 - float(stats.ks_2samp(real_p[:, k], other_p[:, k], method="asymp").statistic) for k in range(2)]
    tv = 1.0 - 0.5 * float(np.abs(_histogram(real_p, edges) - _histogram(other_p, edges)).sum())
    return float(np.mean(ks + [tv]))


def _structure_interval(real_p: np.ndarray, other_p: np.ndarray, edges: list[np.ndarray], score: float,
                        rng: np.random.Generator, rounds: int = BOOTSTRAP_ROUNDS) -> list[float]:
    """score ± 1.645 standard errors over resamples of both projected sides (the axes stay fixed)."""
    draws = [_plane_score(real_p[rng.integers(0, len(real_p), len(real_p))],
                          other_p[rng.integers(0, len(other_p), len(other_p))], edges) for _ in range(rounds)]
    half = 1.645 * float(np.std(draws, ddof=1))
    return [max(score - half, 0.0), min(score + half, 1.0)]


def _auc_interval(scores: np.ndarray, positive: np.ndarray, rng: np.random.Generator,
                  rounds: int = TEST_RESAMPLES) -> tuple[float, float]:
    """5th and 95th percentiles of the test AUC over resamples of the test rows (the model stays fixed)."""
    n = len(scores)
    draws = []
    for _ in range(rounds):
        rows = rng.integers(0, n, n)
        if positive[rows].all() or not positive[rows].any():
            continue
        draws.append(rank_auc(scores[rows], positive[rows]))
    return float(np.percentile(draws, 5)), float(np.percentile(draws, 95))


def _detection_score(auc: float) -> float:
    return 1.0 - 2.0 * max(auc - 0.5, 0.0)


# --- the probe network ---


def _train(features: torch.Tensor, targets: torch.Tensor, loss: Loss, n_outputs: int, seed: int,
           probe: ProbeConfig) -> nn.Module:
    """A 1-hidden-layer MLP fitted with Adam for `probe.steps` steps on seeded mini-batches (CPU)."""
    with torch.random.fork_rng(devices=[]):  # seeded initial weights, the caller's RNG left untouched
        torch.manual_seed(seed)
        network = nn.Sequential(
            nn.Linear(features.shape[1], probe.hidden_dim), nn.ReLU(), nn.Linear(probe.hidden_dim, n_outputs)
        )
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(network.parameters(), lr=probe.learning_rate)
    full_batch = len(features) <= probe.batch_size
    for _ in range(probe.steps):
        rows = slice(None) if full_batch else torch.randint(len(features), (probe.batch_size,), generator=generator)
        optimizer.zero_grad(set_to_none=True)
        loss(network(features[rows]), targets[rows]).backward()
        optimizer.step()
    return network.eval()


@contextmanager
def _intra_op_threads(threads: int | None) -> Iterator[None]:
    """Run the block with `threads` torch intra-op threads (None: unchanged), restoring them after."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@torch.no_grad()
def _predict(network: nn.Module, features: torch.Tensor) -> np.ndarray:
    return network(features).numpy()  # (n, outputs)


def _features(encoder: TableEncoder, table: EncodedTable, clip: float, keep: np.ndarray | None = None) -> torch.Tensor:
    """(n, d) float32 encoder features (only the `keep` positions), clipped to ±`clip` (infinities too)."""
    features = encoder.features(table)
    if keep is not None:
        features = features[:, keep]
    return torch.from_numpy(np.clip(features, -clip, clip))


# --- detection ---


def _permutation_drops(network: nn.Module, test_x: torch.Tensor, labels: np.ndarray, auc: float,
                       feature_columns: list[str], rng: np.random.Generator, probe: ProbeConfig) -> dict[str, float]:
    """For each source column: the mean AUC lost when all its feature positions are shuffled together."""
    owners = np.asarray(feature_columns)
    drops = {}
    for name in dict.fromkeys(feature_columns):  # source columns, in feature order
        positions = torch.from_numpy(np.flatnonzero(owners == name))
        shuffled_aucs = []
        for _ in range(probe.permutation_repeats):
            shuffled = test_x.clone()
            order = torch.from_numpy(rng.permutation(len(test_x)))
            shuffled[:, positions] = test_x[:, positions][order]  # rows of this column moved as one block
            shuffled_aucs.append(rank_auc(_predict(network, shuffled)[:, 0], labels))
        drops[name] = auc - float(np.mean(shuffled_aucs))
    return drops


# --- utility ---


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
        network = _train(features, torch.from_numpy(labels), F.cross_entropy, n_classes, seed, probe)
        predictions[side] = _predict(network, sides["test"][0]).argmax(axis=1)
    majority = np.full_like(test_y, np.bincount(train_y).argmax())
    accuracy = {side: float(np.mean(p == test_y)) for side, p in predictions.items()}
    f1 = {side: _macro_f1(p, test_y) for side, p in predictions.items()}
    return {
        "metric": "accuracy",
        **_comparison(accuracy["synthetic"], accuracy["train"]),
        # an accuracy is a share of the test rows: its 90 % normal-approximation interval
        "synthetic_ci": _share_interval(accuracy["synthetic"], len(test_y)),
        "real_ci": _share_interval(accuracy["train"], len(test_y)),
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
        network = _train(features, targets, F.mse_loss, 1, seed, probe)
        predictions[side] = _predict(network, sides["test"][0])[:, 0]  # (n_test,)
    scores = {side: _r2(p, test_y) for side, p in predictions.items()}
    return {
        "metric": "r2",
        **_comparison(scores["synthetic"], scores["train"]),
        "synthetic_ci": _r2_interval(predictions["synthetic"], test_y, rng),
        "real_ci": _r2_interval(predictions["train"], test_y, rng),
        "mean_baseline": _r2(np.zeros_like(test_y), test_y),
    }


def _comparison(synthetic: float | None, real: float | None) -> dict:
    return {"synthetic": synthetic, "real": real, "ratio": None if real is None else _ratio(synthetic, real)}


def _share_interval(share: float, n: int) -> list[float]:
    """share ± 1.645 standard errors of a share of n rows, within [0, 1]."""
    half = 1.645 * float(np.sqrt(share * (1 - share) / n))
    return [max(share - half, 0.0), min(share + half, 1.0)]


def _r2_interval(predicted: np.ndarray, truth: np.ndarray, rng: np.random.Generator,
                 rounds: int = TEST_RESAMPLES) -> list[float] | None:
    """5th and 95th percentiles of the test R² over resamples of the test rows (the model stays fixed);
    None when every resample's target is constant."""
    n = len(truth)
    draws = [_r2(predicted[rows], truth[rows]) for rows in (rng.integers(0, n, n) for _ in range(rounds))]
    draws = [d for d in draws if d is not None]
    if not draws:
        return None
    return [float(np.percentile(draws, 5)), float(np.percentile(draws, 95))]


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


# --- structure ---


def _principal_axes(centered: np.ndarray) -> np.ndarray:
    """(d, 2) top two eigenvectors of the scatter matrix (a d×d eigenproblem, not an SVD of n rows),
    signed so each one's largest loading is positive; zero columns where there are fewer than two."""
    rows = torch.from_numpy(centered)  # (n, d) float64
    with _intra_op_threads(1):  # torch, one thread: numpy's threaded BLAS stalls 100x on a busy machine
        _, vectors = torch.linalg.eigh(rows.T @ rows)  # eigenvalues ascending
    top = vectors.numpy()[:, ::-1][:, :2]  # (d, ≤2)
    signs = np.sign(top[np.abs(top).argmax(axis=0), np.arange(top.shape[1])])
    axes = np.zeros((centered.shape[1], 2))
    axes[:, : top.shape[1]] = top * np.where(signs == 0, 1.0, signs)
    return axes


def _bin_edges(values: np.ndarray, bins: int) -> np.ndarray:
    """`bins` equal-width bins over the 0.5–99.5 % range of the real values (else their range, else ±0.5)."""
    low, high = np.quantile(values, [0.005, 0.995])
    if high <= low:
        low, high = values.min(), values.max()
    if high <= low:
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high, bins + 1)


def _histogram(projected: np.ndarray, edges: list[np.ndarray]) -> np.ndarray:
    """(bins, bins) share of the rows in each cell; values beyond the edges count in the outer bins."""
    x = np.clip(projected[:, 0], edges[0][0], edges[0][-1])
    y = np.clip(projected[:, 1], edges[1][0], edges[1][-1])
    counts, _, _ = np.histogram2d(x, y, bins=edges)
    return counts / len(projected)


def _subsample(table: EncodedTable, max_rows: int, rng: np.random.Generator) -> EncodedTable:
    """At most `max_rows` rows, in a seeded random order (so the first rows are a random subset too)."""
    return table.take(rng.permutation(len(table))[:max_rows])


def _ratio(numerator: float | None, denominator: float) -> float | None:
    return float(numerator) / float(denominator) if numerator is not None and denominator > 0 else None


def _check_max_rows(max_rows: int, least: int) -> None:
    if max_rows < least:
        raise ConfigError(f"max_rows must be at least {least}, got {max_rows}")
