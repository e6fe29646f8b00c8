"""Small metric helpers shared by the report's sections: numbers from any column kind, total variation, AUC."""
from __future__ import annotations

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


def total_variation(real: pd.Series, synthetic: pd.Series) -> float:
    """Total variation distance between the category frequencies of two non-empty series."""
    frequencies = pd.concat(
        [real.astype(object).value_counts(normalize=True), synthetic.astype(object).value_counts(normalize=True)],
        axis=1, sort=False,
    ).fillna(0.0)  # (categories, 2)
    distance = 0.5 * np.abs(frequencies.iloc[:, 0].to_numpy() - frequencies.iloc[:, 1].to_numpy()).sum()
    return float(min(distance, 1.0))


def rank_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann–Whitney) formula: the chance a random positive outscores a random
    negative, tied scores sharing their average rank. Both classes must be present."""
    ranks = stats.rankdata(scores)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
