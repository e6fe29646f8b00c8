"""Fidelity metrics: one column's shape, and the relation between two columns, real against synthetic.

Every function takes the values of one side at a time and returns plain floats (or None where a
metric is undefined), so the report can be written as JSON without NaN.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from synth.schema import ColumnKind, ColumnSpec

NUMERIC_KINDS = (ColumnKind.CONTINUOUS, ColumnKind.BOOLEAN, ColumnKind.DATETIME)
CATEGORICAL_KINDS = (ColumnKind.DISCRETE, ColumnKind.BOOLEAN)
MAX_CATEGORIES_FOR_ASSOCIATION = 50  # Cramér's V on ID-like columns is meaningless and its table quadratic


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


def missing_rate(series: pd.Series) -> float:
    """Fraction of missing values (0.0 for an empty series)."""
    return float(series.isna().mean()) if len(series) else 0.0


@dataclass(frozen=True)
class ColumnShape:
    """How alike one column's distributions are, real against synthetic."""

    metric: str  # "ks_complement" or "tv_complement"
    similarity: float | None  # on non-missing values; None when both sides have none
    missing_rate_real: float
    missing_rate_synthetic: float

    @property
    def missing_rate_difference(self) -> float:
        return abs(self.missing_rate_real - self.missing_rate_synthetic)

    @property
    def score(self) -> float:
        """The similarity discounted by the missing-rate gap; 1 when both sides are all missing."""
        similarity = 1.0 if self.similarity is None else self.similarity
        return similarity * (1.0 - self.missing_rate_difference)


def column_shape(real: pd.Series, synthetic: pd.Series, spec: ColumnSpec) -> ColumnShape:
    """KS complement for continuous and datetime columns, TV complement for discrete and boolean ones.

    Computed on the non-missing values of each side. If exactly one side has no values at all the
    distributions share nothing and the similarity is 0.
    """
    if spec.kind in (ColumnKind.CONTINUOUS, ColumnKind.DATETIME):
        metric = "ks_complement"
        real_values = _observed(numeric_values(real, spec.kind))
        synthetic_values = _observed(numeric_values(synthetic, spec.kind))
    else:
        metric = "tv_complement"
        real_values, synthetic_values = real.dropna(), synthetic.dropna()

    if len(real_values) == 0 and len(synthetic_values) == 0:
        similarity = None
    elif len(real_values) == 0 or len(synthetic_values) == 0:
        similarity = 0.0
    elif metric == "ks_complement":
        similarity = 1.0 - float(stats.ks_2samp(real_values, synthetic_values).statistic)
    else:
        similarity = 1.0 - total_variation(real_values, synthetic_values)
    return ColumnShape(metric, similarity, missing_rate(real), missing_rate(synthetic))


def total_variation(real: pd.Series, synthetic: pd.Series) -> float:
    """Total variation distance between the category frequencies of two non-empty series."""
    frequencies = pd.concat(
        [real.astype(object).value_counts(normalize=True), synthetic.astype(object).value_counts(normalize=True)],
        axis=1, sort=False,
    ).fillna(0.0)  # (categories, 2)
    distance = 0.5 * np.abs(frequencies.iloc[:, 0].to_numpy() - frequencies.iloc[:, 1].to_numpy()).sum()
    return float(min(distance, 1.0))


def correlation_matrices(numeric: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pearson and Spearman matrices over pairwise-complete rows; NaN where undefined."""
    pearson = numeric.corr(method="pearson", min_periods=2).clip(-1.0, 1.0)
    spearman = numeric.corr(method="spearman", min_periods=2).clip(-1.0, 1.0)
    return pearson, spearman


def correlation_note(real: pd.DataFrame, synthetic: pd.DataFrame, a: str, b: str) -> str:
    """Why the correlation of columns `a` and `b` is undefined on some side (for the report)."""
    for side, frame in (("real", real), ("synthetic", synthetic)):
        for name in (a, b):
            if frame[name].nunique(dropna=True) <= 1:
                return f"skipped: column '{name}' is constant or empty in the {side} data"
    for side, frame in (("real", real), ("synthetic", synthetic)):
        complete = frame[[a, b]].dropna()
        if len(complete) < 2:
            return f"skipped: fewer than 2 {side} rows have both columns"
        if complete[a].nunique() <= 1 or complete[b].nunique() <= 1:
            return f"skipped: a column is constant on the {side} rows that have both"
    return "skipped: correlation undefined"


def cramers_v(a: pd.Series, b: pd.Series) -> float | None:
    """Cramér's V of two categorical series on rows where both are present; None if undefined."""
    both = pd.concat([a, b], axis=1).dropna()
    if len(both) < 2:
        return None
    table = pd.crosstab(both.iloc[:, 0].astype(object), both.iloc[:, 1].astype(object)).to_numpy()
    smaller_side = min(table.shape) - 1
    if smaller_side == 0:
        return None  # one column is constant: association undefined
    chi2 = stats.chi2_contingency(table, correction=False).statistic
    return float(min(np.sqrt(chi2 / table.sum() / smaller_side), 1.0))


def rank_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann–Whitney) formula: the chance a random positive outscores a random
    negative, tied scores sharing their average rank. Both classes must be present."""
    ranks = stats.rankdata(scores)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def too_many_categories(series: pd.Series) -> bool:
    return series.nunique(dropna=True) > MAX_CATEGORIES_FOR_ASSOCIATION


def optional_float(value: float) -> float | None:
    """A plain float, or None for NaN."""
    value = float(value)
    return None if np.isnan(value) else value


def _observed(values: np.ndarray) -> np.ndarray:
    return values[~np.isnan(values)]
