"""One encoding of a table for every metric, fitted on the real data and applied to every side.

    encoder = TableEncoder(specs).fit(real)
    r, s = encoder.encode(real), encoder.encode(synthetic)
    r.numeric      # (n, p) float64: continuous and datetime columns (datetimes in µs), NaN where missing
    r.codes        # (n, q) int64: discrete and boolean columns as category codes of the real data
    encoder.features(r)   # (n, d) float32: standardized numbers + one-hots, for classifiers and distances

Category codes: 0..k-1 are the real data's categories, most frequent first (at most
`max_categories`); k means "other" (unseen in the real data, or beyond the cut); -1 means missing.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synth.fidelity.metrics import numeric_values
from synth.schema import ColumnKind, ColumnSpec

NUMERIC_KINDS = (ColumnKind.CONTINUOUS, ColumnKind.DATETIME)
CATEGORICAL_KINDS = (ColumnKind.DISCRETE, ColumnKind.BOOLEAN)


@dataclass(frozen=True)
class EncodedTable:
    numeric: np.ndarray  # (n, p) float64, NaN = missing
    codes: np.ndarray    # (n, q) int64, -1 = missing, k = other

    def __len__(self) -> int:
        return len(self.numeric) if self.numeric.size else len(self.codes)

    def take(self, rows: np.ndarray) -> "EncodedTable":
        return EncodedTable(self.numeric[rows], self.codes[rows])


class TableEncoder:
    """Fitted on the real table: which columns are numeric or categorical, their scales and categories."""

    def __init__(self, specs: list[ColumnSpec], max_categories: int = 1000, max_one_hot: int = 50):
        self.specs = list(specs)
        self.max_categories = max_categories
        self.max_one_hot = max_one_hot
        self.numeric_specs = [s for s in self.specs if s.kind in NUMERIC_KINDS]
        self.categorical_specs = [s for s in self.specs if s.kind in CATEGORICAL_KINDS]

    @property
    def numeric_names(self) -> list[str]:
        return [s.name for s in self.numeric_specs]

    @property
    def categorical_names(self) -> list[str]:
        return [s.name for s in self.categorical_specs]

    def fit(self, real: pd.DataFrame) -> "TableEncoder":
        self.center_, self.scale_, self.has_missing_ = [], [], []
        for spec in self.numeric_specs:
            values = numeric_values(real[spec.name], spec.kind)
            observed = values[~np.isnan(values)]
            center = float(np.median(observed)) if len(observed) else 0.0
            scale = float(np.std(observed)) if len(observed) else 1.0
            self.center_.append(center)
            self.scale_.append(scale if scale > 0 else 1.0)
            self.has_missing_.append(bool(np.isnan(values).any()))
        self.categories_ = []
        for spec in self.categorical_specs:
            counts = real[spec.name].dropna().astype(object).value_counts(sort=True)
            self.categories_.append(list(counts.index[: self.max_categories]))
        return self

    def encode(self, frame: pd.DataFrame) -> EncodedTable:
        n = len(frame)
        numeric = np.empty((n, len(self.numeric_specs)), dtype=np.float64)
        for j, spec in enumerate(self.numeric_specs):
            numeric[:, j] = numeric_values(frame[spec.name], spec.kind)
        codes = np.empty((n, len(self.categorical_specs)), dtype=np.int64)
        for j, (spec, categories) in enumerate(zip(self.categorical_specs, self.categories_)):
            column = frame[spec.name]
            missing = column.isna().to_numpy()
            code = pd.Categorical(column.astype(object), categories=categories).codes.astype(np.int64)
            code[(code < 0) & ~missing] = len(categories)  # other
            code[missing] = -1
            codes[:, j] = code
        return EncodedTable(numeric, codes)

    def n_codes(self, j: int) -> int:
        """Codes of categorical column j, "other" included (missing, -1, not counted)."""
        return len(self.categories_[j]) + 1

    def features(self, table: EncodedTable) -> np.ndarray:
        """(n, d) float32: numbers standardized by the real data (missing → 0, plus an indicator where the
        real data has missing values), categories one-hot over the `max_one_hot` most frequent + other +
        missing, each one-hot scaled by 1/√2 so two different categories are at distance 1."""
        blocks = []
        if self.numeric_specs:
            z = (table.numeric - np.asarray(self.center_)) / np.asarray(self.scale_)
            missing = np.isnan(z)
            blocks.append(np.where(missing, 0.0, z))
            with_missing = np.asarray(self.has_missing_)
            if with_missing.any():
                blocks.append(missing[:, with_missing].astype(np.float64))
        for j in range(len(self.categorical_specs)):
            width = min(len(self.categories_[j]), self.max_one_hot)
            code = table.codes[:, j]
            slot = np.where(code < 0, width + 1, np.minimum(code, width))  # top categories, other, missing
            one_hot = np.zeros((len(code), width + 2))
            one_hot[np.arange(len(code)), slot] = 1 / np.sqrt(2)
            blocks.append(one_hot)
        if not blocks:
            return np.zeros((len(table), 0), dtype=np.float32)
        return np.concatenate(blocks, axis=1).astype(np.float32)

    def feature_columns(self) -> list[str]:
        """The source column of each position of `features`."""
        names = list(self.numeric_names)
        names += [s.name for s, m in zip(self.numeric_specs, self.has_missing_) if m]
        for spec, categories in zip(self.categorical_specs, self.categories_):
            names += [spec.name] * (min(len(categories), self.max_one_hot) + 2)
        return names
