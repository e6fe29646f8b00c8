"""Structure: both sides projected on the real data's first 2 principal axes, compared in that plane.

`structure(real, other, encoder)` returns:
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

import numpy as np
import torch

from synth.errors import ConfigError, DataError
from synth.fidelity.encode import EncodedTable, TableEncoder
from synth.fidelity.intervals import spread_interval
from synth.fidelity.learned.probes import PROBE, check_max_rows, intra_op_threads, probe_features, subsample
from synth.fidelity.metrics import ks_complement, ratio, tv_distance

BOOTSTRAP_ROUNDS = 20  # resamples behind the score's interval


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
    check_max_rows(max_rows, 1)
    if bins < 1:
        raise ConfigError(f"structure bins must be at least 1, got {bins}")
    if len(real) == 0 or len(other) == 0:
        raise DataError(f"structure needs rows on both sides, got {len(real)} real and {len(other)} other")
    rng = np.random.default_rng(seed)
    real_p, other_p, total = _projections(real, other, encoder, max_rows, rng)
    real_var, other_var = real_p.var(axis=0), other_p.var(axis=0)
    edges = [_bin_edges(real_p[:, k], bins) for k in range(2)]
    ks, tv = _complements(real_p, other_p, edges)
    score = float(np.mean(ks + [tv]))
    return {
        "score": score,
        "score_ci": _structure_interval(real_p, other_p, edges, score, rng),
        "explained_variance_ratio": {
            "real": [ratio(v, total) for v in real_var],
            "other": [ratio(v, total) for v in other_var],
        },
        "variance_ratio": [ratio(o, r) for o, r in zip(other_var, real_var)],
        "ks_complement": ks,
        "tv_complement": tv,
        "histogram": _densities(real_p, other_p, edges),
        "rows_real": len(real_p),
        "rows_other": len(other_p),
    }


def _projections(real: EncodedTable, other: EncodedTable, encoder: TableEncoder, max_rows: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """Both sides' subsampled rows as (n, 2) coordinates on the real rows' first two principal axes, and the
    real rows' total variance (mean squared distance to their mean)."""
    # the probes' clipped features: one wild synthetic value must not swing the variances either
    real_x, other_x = (probe_features(encoder, subsample(t, max_rows, rng), PROBE.feature_clip).double().numpy()
                       for t in (real, other))
    center = real_x.mean(axis=0)
    axes = _principal_axes(real_x - center)  # (d, 2)
    total = float(((real_x - center) ** 2).sum(axis=1).mean())
    return (real_x - center) @ axes, (other_x - center) @ axes, total


def _complements(real_p: np.ndarray, other_p: np.ndarray, edges: list[np.ndarray]) -> tuple[list[float], float]:
    """The KS complement along each component and the TV complement of the 2-D histograms."""
    ks = [ks_complement(real_p[:, k], other_p[:, k]) for k in range(2)]
    return ks, 1.0 - tv_distance(_histogram(real_p, edges), _histogram(other_p, edges))


def _structure_interval(real_p: np.ndarray, other_p: np.ndarray, edges: list[np.ndarray], score: float,
                        rng: np.random.Generator, rounds: int = BOOTSTRAP_ROUNDS) -> list[float]:
    """score ± 1.645 standard errors over resamples of both projected sides (the axes stay fixed)."""
    draws = []
    for _ in range(rounds):
        ks, tv = _complements(real_p[rng.integers(0, len(real_p), len(real_p))],
                              other_p[rng.integers(0, len(other_p), len(other_p))], edges)
        draws.append(float(np.mean(ks + [tv])))
    return spread_interval(score, draws)


def _densities(real_p: np.ndarray, other_p: np.ndarray, edges: list[np.ndarray]) -> dict:
    area = np.outer(np.diff(edges[0]), np.diff(edges[1]))  # (bins, bins)
    return {"edges": [e.tolist() for e in edges],
            "real": (_histogram(real_p, edges) / area).tolist(),
            "other": (_histogram(other_p, edges) / area).tolist()}


def _principal_axes(centered: np.ndarray) -> np.ndarray:
    """(d, 2) top two eigenvectors of the scatter matrix (a d×d eigenproblem, not an SVD of n rows),
    signed so each one's largest loading is positive; zero columns where there are fewer than two."""
    rows = torch.from_numpy(centered)  # (n, d) float64
    with intra_op_threads(1):  # torch, one thread: numpy's threaded BLAS stalls 100x on a busy machine
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
