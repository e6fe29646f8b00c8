"""Conditional vectors for tables, in two modes, vectorized in torch.

- `single_discrete` (training-by-sampling, Xu et al. 2019): each row is conditioned on one discrete
  column taking one category; the column is drawn uniformly, the category by log-frequency, and a
  real row with that category is drawn to match.
- `anyway` (gretel's ACTGAN): each row is conditioned on a random subset of all columns, numeric
  included, taking that real row's own encoded values; the vector is the masked encoded row plus
  the column mask.
Either way the generator is also scored on reproducing the conditioned values
(`DeviceLayout.reconstruction_loss`), and a `Condition` carries what that loss needs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch

from synth.errors import ConfigError
from synth.configs import ConditionMode  # noqa: F401  (its home)
from synth.transforms.categorical import CategoricalColumn
from synth.transforms.columns import NumericColumn
from synth.transforms.layout import DeviceLayout, SpanKind
from synth.transforms.table import TableTransformer


@dataclass(frozen=True)
class Condition:
    vector: torch.Tensor           # (B, W) what the generator and critic are given
    target: torch.Tensor           # (B, D) encoded values the generator should reproduce
    mask: torch.Tensor             # (B, D) 1 where the target applies
    rows: torch.Tensor | None = None  # (B,) the real rows the condition came from (training)


class DiscreteConditions:
    """single_discrete: one-hot of one category of one discrete span.

    The spans are the one-hot discrete columns and the state spans of numeric columns (continuous,
    on a point mass, or missing), so point-mass and missing rates are trained by sampling like
    categories.
    """

    def __init__(self, transformer: TableTransformer, log_frequency: bool, device: torch.device):
        self.spans = [s for s in transformer.layout_.spans if s.kind is SpanKind.ONE_HOT and (
            s.role == "state" or isinstance(transformer.column(s.column), CategoricalColumn))]
        self.columns = [s.column for s in self.spans]
        self.width = sum(s.width for s in self.spans)
        self.transformer, self.device = transformer, device
        self.output_dim = transformer.output_dim
        counts = [transformer.column(s.column).condition_counts for s in self.spans]
        self.offsets = torch.as_tensor(np.cumsum([0] + [s.width for s in self.spans])[:-1], device=device)
        self.span_starts = torch.as_tensor([s.start for s in self.spans], device=device, dtype=torch.long)
        self.span_widths = torch.as_tensor([s.width for s in self.spans], device=device, dtype=torch.long)
        self.train_cdf = _padded_cdf([np.log1p(c) if log_frequency else c for c in counts], device)  # (n_cols, K)
        self.sample_cdf = _padded_cdf(counts, device)
        self.rows: RowIndex | None = None

    @property
    def enabled(self) -> bool:
        return self.width > 0

    def attach_rows(self, table: pa.Table) -> None:
        self.rows = RowIndex(self.transformer, self.columns, table, self.device)

    def training(self, batch: int, rng: torch.Generator) -> Condition:
        column, category = self._draw(self.train_cdf, batch, rng)
        return self._build(column, category, self.rows.matching(self.offsets[column] + category, rng))

    def sampling(self, batch: int, rng: torch.Generator) -> Condition:
        return self._build(*self._draw(self.sample_cdf, batch, rng))

    def _draw(self, cdf: torch.Tensor, batch: int, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """A column uniformly, then a category by inverse CDF (no multinomial: no host sync)."""
        column = torch.randint(len(self.columns), (batch,), device=self.device, generator=rng)
        u = torch.rand(batch, 1, device=self.device, generator=rng)
        category = (cdf[column] < u).sum(1).clamp_max(self.span_widths[column] - 1)  # (B,)
        return column, category

    def given(self, table: pa.Table, rng: torch.Generator) -> Condition:
        """Conditions from values: one discrete column (or numeric one, at its point masses), every row given."""
        allowed = [c for c in self.columns if isinstance(self.transformer.column(c), CategoricalColumn)
                   or len(self.transformer.column(c).points_)]
        if table.num_columns != 1 or table.column_names[0] not in allowed or table.column(0).null_count:
            raise ConfigError(
                "conditioning=single_discrete takes conditions on exactly one one-hot-coded discrete column, or "
                f"a numeric one at its point masses (one of {allowed}), with a value in every row; use "
                "conditioning=anyway to condition on several columns, any numeric value or partial rows")
        name = table.column_names[0]
        codes = _known_codes(self.transformer, table, name)
        column = torch.full((table.num_rows,), self.columns.index(name), device=self.device)
        return self._build(column, torch.as_tensor(codes, device=self.device))

    def _build(self, column: torch.Tensor, category: torch.Tensor, rows: torch.Tensor | None = None) -> Condition:
        batch = len(column)
        start = self.span_starts[column].unsqueeze(1)  # (B, 1)
        # scatter_ with a Python scalar: no host-to-device copy, so this can run inside a CUDA graph
        vector = torch.zeros(batch, self.width, device=self.device).scatter_(
            1, (self.offsets[column] + category).unsqueeze(1), 1.0)
        target = torch.zeros(batch, self.output_dim, device=self.device).scatter_(1, start + category.unsqueeze(1), 1.0)
        mask = torch.zeros(batch, self.output_dim, device=self.device).scatter_(1, start, 1.0)  # span's first position
        return Condition(vector, target, mask, rows)


class AnyConditions:
    """anyway: any subset of columns, with the encoded values of those columns."""

    def __init__(self, transformer: TableTransformer, layout: DeviceLayout, device: torch.device):
        self.transformer, self.layout, self.device = transformer, layout, device
        self.columns = list(transformer.layout_.columns)
        self.output_dim = transformer.output_dim
        self.width = self.output_dim + len(self.columns)
        self.encoded: torch.Tensor | None = None

    enabled = True

    def attach_rows(self, encoded: torch.Tensor) -> None:
        self.encoded = encoded

    def training(self, batch: int, rng: torch.Generator) -> Condition:
        rows = torch.randint(len(self.encoded), (batch,), device=self.device, generator=rng)
        share = torch.rand(batch, 1, device=self.device, generator=rng)  # how many columns, per row
        chosen = torch.rand(batch, len(self.columns), device=self.device, generator=rng) < share  # (B, C)
        return self._build(self.encoded[rows], chosen.float(), rows)

    def sampling(self, batch: int, rng: torch.Generator) -> Condition:
        zeros = torch.zeros(batch, self.output_dim, device=self.device)
        return self._build(zeros, torch.zeros(batch, len(self.columns), device=self.device))

    def given(self, table: pa.Table, rng: torch.Generator) -> Condition:
        """Conditions from a table of values; a null leaves that column free in that row."""
        n = table.num_rows
        encoded = np.zeros((n, self.output_dim), dtype=np.float32)
        chosen = np.zeros((n, len(self.columns)), dtype=np.float32)
        np_rng = np.random.default_rng(int(torch.randint(2**31 - 1, (1,), generator=rng, device=rng.device)))
        for name in table.column_names:
            if name not in self.columns:
                continue  # a constant column: nothing to condition, its value is checked by the caller
            column = self.transformer.column(name)
            values = table.column(name)
            present = ~values.is_null().to_numpy(zero_copy_only=False)
            if isinstance(column, CategoricalColumn):
                _known_codes(self.transformer, table.filter(pa.array(present)).select([name]), name)
            filled = values.filter(pa.array(present))
            block = column.transform(filled, np_rng) if len(filled) else None
            positions = [p for s in self.transformer.layout_.spans if s.column == name
                         for p in range(s.start, s.end)]
            if block is not None:
                encoded[np.ix_(np.flatnonzero(present), positions)] = block
            chosen[:, self.columns.index(name)] = present
        return self._build(torch.as_tensor(encoded, device=self.device),
                           torch.as_tensor(chosen, device=self.device))

    def _build(self, encoded: torch.Tensor, chosen: torch.Tensor, rows: torch.Tensor | None = None) -> Condition:
        mask = chosen[:, self.layout.position_column]  # (B, D)
        return Condition(torch.cat([encoded * mask, chosen], dim=1), encoded, mask, rows)


class RowIndex:
    """Real rows grouped by (column, category), so a row matching a condition is one gather away."""

    def __init__(self, transformer: TableTransformer, columns: list[str], table: pa.Table, device: torch.device):
        rows, starts, counts, offset = [], [], [], 0
        for name in columns:
            column = transformer.column(name)
            codes = column.condition_codes(table.column(name))
            count = np.bincount(codes, minlength=len(column.condition_counts))
            rows.append(np.argsort(codes, kind="stable"))
            starts.append(offset + np.concatenate([[0], np.cumsum(count)[:-1]]))
            counts.append(count)
            offset += len(codes)
        self.rows = torch.as_tensor(np.concatenate(rows), device=device)
        self.starts = torch.as_tensor(np.concatenate(starts), device=device)
        self.counts = torch.as_tensor(np.concatenate(counts), device=device)

    def matching(self, category: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """One random row per condition among the rows with that (global) category."""
        u = torch.rand(category.shape, device=category.device, generator=rng)
        count = self.counts[category]
        return self.rows[self.starts[category] + (u * count).long().clamp_max(count - 1)]


def _padded_cdf(weights: list[np.ndarray], device: torch.device) -> torch.Tensor:
    """Per column, the cumulative distribution of its categories, padded with 1s. (n_cols, K)"""
    k = max((len(w) for w in weights), default=1)
    out = np.ones((max(len(weights), 1), k))
    for i, w in enumerate(weights):
        out[i, :len(w)] = np.cumsum(w / w.sum())
    return torch.as_tensor(out, dtype=torch.float32, device=device)


def _known_codes(transformer: TableTransformer, table: pa.Table, name: str) -> np.ndarray:
    """Category codes of a condition column (numeric: point-mass states); any other value is a ConfigError."""
    column, values = transformer.column(name), table.column(name)
    numeric = isinstance(column, NumericColumn)
    codes = column.point_codes(values) if numeric else column.category_codes(values)
    if (codes < 0).any():
        unseen = sorted({str(v) for v, c in zip(values.to_pylist(), codes) if c < 0})[:5]
        if numeric:
            raise ConfigError(f"condition on column '{name}': value(s) {unseen} are not among its point masses "
                              f"{column.points_.tolist()}, the only values conditioning=single_discrete takes on "
                              "a numeric column; use conditioning=anyway for any value")
        raise ConfigError(f"condition on column '{name}': value(s) {unseen} never seen in training "
                          f"(known: {len(column.categories_)} categories)")
    return codes
