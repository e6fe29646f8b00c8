"""Mode-specific normalization: a value becomes a scalar within its mode, (x - mean) / (4 std), plus a
one-hot of the mode. The tabular `NumericColumn` and DGAN's mode-encoded features fit and sample their
modes with these two functions.
"""
from __future__ import annotations

import numpy as np

from synth.transforms.mixture import fit_mixture


def fit_modes(x: np.ndarray, max_modes: int = 10,
              weight_threshold: float = 0.005) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Means, stds and weights (K,) of the modes of the 1-D sample `x` (no NaN, not constant):
    a Dirichlet-process Gaussian mixture, modes lighter than `weight_threshold` dropped."""
    x = np.asarray(x, dtype=np.float64)
    mixture = fit_mixture(x, max_components=max_modes)
    keep = mixture.weights > weight_threshold
    if not keep.any():
        keep = mixture.weights == mixture.weights.max()
    stds = np.maximum(mixture.stds[keep], 1e-6 * max(float(np.std(x)), 1.0))
    return mixture.means[keep], stds, mixture.weights[keep] / mixture.weights[keep].sum()


def sample_modes(x: np.ndarray, means: np.ndarray, stds: np.ndarray, weights: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """(N,) each value's mode, drawn from its posterior under the fitted mixture (vectorized)."""
    x = np.asarray(x, dtype=np.float64)
    z = (x[:, None] - means[None, :]) / stds[None, :]
    log_p = -0.5 * z**2 - np.log(stds)[None, :] + np.log(weights)[None, :]
    log_p -= log_p.max(1, keepdims=True)
    p = np.exp(log_p)
    p /= p.sum(1, keepdims=True)
    u = rng.random((len(x), 1))
    return np.minimum((p.cumsum(1) < u).sum(1), len(means) - 1)
