"""Mode-specific normalization as plain functions, for encoders outside `columns.py` (DGAN's features).

The tabular `NumericColumn` fits and samples its modes with these same two functions: a value becomes
a scalar within its mode, (x - mean) / (4 std), plus a one-hot of the mode.
"""
from __future__ import annotations

import numpy as np

from synth.transforms.columns import _fit_modes, _sample_modes


def fit_modes(x: np.ndarray, max_modes: int = 10,
              weight_threshold: float = 0.005) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Means, stds and weights (K,) of the modes of the 1-D sample `x` (no NaN, not constant):
    a Dirichlet-process Gaussian mixture, modes lighter than `weight_threshold` dropped."""
    return _fit_modes(np.asarray(x, dtype=np.float64), max_modes, weight_threshold)


def sample_modes(x: np.ndarray, means: np.ndarray, stds: np.ndarray, weights: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """(N,) each value's mode, drawn from its posterior under the fitted mixture."""
    return _sample_modes(np.asarray(x, dtype=np.float64), means, stds, weights, rng)
