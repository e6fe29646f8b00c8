"""Small metric helpers shared by the report's sections: numbers from any column kind, the KS and TV
complements, total variation, AUC, and plain floats for JSON."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from synth.schema import ColumnKind

MAX_CATEGORIES_FOR_ASSOCIATION = 50  # association of ID-like columns is meaningless and its table quadratic


def numeric_values(series: pd.Series, kind: ColumnKind) -> np.ndarray:
    """A numeric column as float64, NaN where missing.

    Booleans become 0/1. Datetimes become microseconds since the Unix epoch (UTC; naive values are
    read as UTC): integers that stay exact in float64, and unlike nanoseconds they do not overflow
    for dates outside 1677-2262. KS statistics and correlations do not depend on the unit.
    """
    if kind is ColumnKind.BOOLEAN:
        return series.astype("boolean").astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    if kind is ColumnKind.DATETIME:
        stamps = pd.to_datetime(series, utc=True).dt.as_unit("us").to_numpy(dtype="datetime64[us]")
        values = stamps.view(np.int64).astype(np.float64)
        values[np.isnat(stamps)] = np.nan
        return values
    if kind is ColumnKind.CONTINUOUS:
        if not pd.api.types.is_numeric_dtype(series):
            series = pd.to_numeric(series)  # e.g. Decimal objects
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    raise ValueError(f"column '{series.name}' is {kind.value}, not numeric")


def ks_complement(real: np.ndarray, other: np.ndarray, *, needs_real: bool = False) -> float | None:
    """1 − the two-sample Kolmogorov–Smirnov statistic D (not its p-value) of two float samples, NaNs left out.

    D is the largest gap between the two empirical CDFs, read at every value of either sample (the same
    number `scipy.stats.ks_2samp` reports, without its per-call overhead).

    Args:
        real: the real sample.
        other: the sample compared with it.
        needs_real: when `real` has no value: None (the comparison is undefined) rather than 0.0.

    Returns:
        The complement in [0, 1]; 0.0 when only one side has values (unless `needs_real` makes it None),
        None when neither has.
    """
    real, other = real[~np.isnan(real)], other[~np.isnan(other)]
    if not len(real) or not len(other):
        return _one_side_empty(len(real), len(other), needs_real)
    real, other = np.sort(real), np.sort(other)
    grid = np.concatenate([real, other])
    cdf_real = np.searchsorted(real, grid, side="right") / len(real)
    cdf_other = np.searchsorted(other, grid, side="right") / len(other)
    return float(1.0 - np.abs(cdf_real - cdf_other).max())


def tv_complement(real, other, *, size: int | None = None, needs_real: bool = False) -> float | None:
    """1 − the total variation distance between the category frequencies of two samples.

    Args:
        real: the real sample: integer codes in [0, size) when `size` is given (counted with bincount,
            fast on millions of rows), else a pandas Series of any values (missing ones left out).
        other: the sample compared with it, of the same form.
        size: the number of codes, or None for a Series of values.
        needs_real: as in `ks_complement`.

    Returns:
        The complement in [0, 1] (codes: unclipped, as summed); the empty-side cases as in `ks_complement`.
    """
    if size is None:
        real, other = real.dropna(), other.dropna()
    if not len(real) or not len(other):
        return _one_side_empty(len(real), len(other), needs_real)
    if size is None:
        return 1.0 - total_variation(real, other)
    return 1.0 - tv_distance(np.bincount(real, minlength=size) / len(real),
                             np.bincount(other, minlength=size) / len(other))


def _one_side_empty(real: int, other: int, needs_real: bool) -> float | None:
    """A complement where a side has no values: undefined without either (or, if it needs one, without
    real values); else 0.0, nothing of the other side matched."""
    return None if real == 0 and (needs_real or other == 0) else 0.0


def total_variation(real: pd.Series, synthetic: pd.Series) -> float:
    """Total variation distance between the category frequencies of two non-empty series, at most 1."""
    frequencies = pd.concat(
        [real.astype(object).value_counts(normalize=True), synthetic.astype(object).value_counts(normalize=True)],
        axis=1, sort=False,
    ).fillna(0.0)  # (categories, 2)
    distance = tv_distance(frequencies.iloc[:, 0].to_numpy(), frequencies.iloc[:, 1].to_numpy())
    return float(min(distance, 1.0))


def tv_distance(real: np.ndarray, other: np.ndarray) -> float:
    """Total variation distance ½ Σ |real − other| between two aligned arrays of shares (any shape)."""
    return float(0.5 * np.abs(real - other).sum())


def rank_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann–Whitney) formula: the chance a random positive outscores a random
    negative, tied scores sharing their average rank. Both classes must be present."""
    ranks = stats.rankdata(scores)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def detection_score(auc: float) -> float:
    """1 − 2·max(AUC − 0.5, 0) of a classifier telling a side from the real one: 1 when it cannot, 0 when
    it always can (an AUC below 0.5 is chance too)."""
    return 1.0 - 2.0 * max(auc - 0.5, 0.0)


def finite_or_none(value) -> float | None:
    """A plain float, or None for a missing or non-finite value (so `json.dumps(allow_nan=False)` works)."""
    return None if value is None or not math.isfinite(value) else float(value)


def ratio(numerator: float | None, denominator: float) -> float | None:
    """numerator / denominator as a plain float; None without a numerator or a positive denominator."""
    return float(numerator) / float(denominator) if numerator is not None and denominator > 0 else None
