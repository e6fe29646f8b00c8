"""Point masses: exact values that hold a share of a numeric column's rows (zeros, caps, defaults).

Both model kinds use these: the tables' `NumericColumn` and DGAN's per-step features. Values are
compared exactly (floats by their bits), so a generated point is the very value that was seen.
"""
from __future__ import annotations

import numpy as np

from synth.errors import DataError
from synth.transforms.tails import Tail


def exact_keys(values: np.ndarray) -> np.ndarray:
    """Exact values as int64 keys: floats by their bits, so equal means identical (0.0 is not -0.0)."""
    return values.view(np.int64) if values.dtype == np.float64 else values.astype(np.int64)


def point_masses(values: np.ndarray, min_share: float, most: int) -> np.ndarray:
    """The values each held by at least `min_share` of `values` (the heaviest `most`), ascending."""
    if not len(values) or most < 1:
        return values[:0]
    _, first, counts = np.unique(exact_keys(values), return_index=True, return_counts=True)
    heavy = np.flatnonzero(counts >= min_share * len(values))
    heavy = heavy[np.argsort(-counts[heavy], kind="stable")][:most]
    return np.sort(values[first[heavy]])


def point_states(values: np.ndarray, points: np.ndarray, has_continuous: bool) -> np.ndarray:
    """(N,) each value's state: 0 continuous (when the column has a continuous part), then 1 + i (or i
    without one) on point i, compared exactly. Without a continuous part a value off the points (only in
    new data) takes the nearest point."""
    if has_continuous or not len(points):
        state = np.zeros(len(values), dtype=np.int64)
    else:
        state = np.abs(values[:, None] - points[None, :]).argmin(1)
    keys, first = exact_keys(values), int(has_continuous)
    for i, key in enumerate(exact_keys(points)):
        state[keys == key] = first + i
    return state


def refuse_transform(name: str, tail: Tail, what: str, cause: str,
                     advice: str = "choose another transform, or auto") -> DataError:
    """The error for a forced `model.column_transforms` entry the column (feature) cannot take."""
    return DataError(f"model.column_transforms.{name}={tail.value}: {what} '{name}' cannot take it: {cause}; {advice}")
