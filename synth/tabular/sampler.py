"""Conditional vectors for tables: training-by-sampling (Xu et al., 2019), vectorized in torch.

Each training row is conditioned on one discrete column taking one category. The column is drawn
uniformly, the category by (log-)frequency, and a real row with that category is drawn to match;
the generator is penalized by cross-entropy when its output for that column misses the category.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch

from synth.transforms.columns import CategoricalColumn
from synth.transforms.table import TableTransformer


@dataclass(frozen=True)
class Condition:
    vector: torch.Tensor    # (B, C) one-hot of the conditioned category
    position: torch.Tensor  # (B,) where that category sits in the encoded row
    category: torch.Tensor  # (B,) global category id (index into the condition vector)


class ConditionSampler:
    """Draws conditions over the discrete columns of a fitted TableTransformer."""

    def __init__(self, transformer: TableTransformer, log_frequency: bool, device: torch.device):
        spans = [s for s in transformer.layout_.spans
                 if isinstance(transformer.column(s.column), CategoricalColumn)]
        self.columns = [s.column for s in spans]
        self.width = sum(s.width for s in spans)
        self.device = device
        counts = [transformer.column(s.column).counts_ for s in spans]
        offsets = np.cumsum([0] + [s.width for s in spans])
        self.offsets = torch.as_tensor(offsets[:-1], device=device)               # (n_cols,)
        self.span_starts = torch.as_tensor([s.start for s in spans], device=device)  # (n_cols,)
        self.train_probs = self._padded([np.log1p(c) if log_frequency else c for c in counts])  # (n_cols, K)
        self.sample_probs = self._padded(counts)

    def _padded(self, weights: list[np.ndarray]) -> torch.Tensor:
        k = max((len(w) for w in weights), default=1)
        out = np.zeros((max(len(weights), 1), k))
        for i, w in enumerate(weights):
            out[i, :len(w)] = w / w.sum()
        return torch.as_tensor(out, dtype=torch.float32, device=self.device)

    @property
    def enabled(self) -> bool:
        return self.width > 0

    def draw(self, batch: int, generator: torch.Generator, training: bool = True) -> Condition:
        probs = self.train_probs if training else self.sample_probs
        column = torch.randint(len(self.columns), (batch,), device=self.device, generator=generator)
        category = torch.multinomial(probs[column], 1, generator=generator).squeeze(1)  # (B,)
        global_id = self.offsets[column] + category
        vector = torch.zeros(batch, self.width, device=self.device)
        vector[torch.arange(batch, device=self.device), global_id] = 1.0
        return Condition(vector, self.span_starts[column] + category, global_id)


class RowIndex:
    """Real rows grouped by (column, category), so a row matching a condition is one gather away."""

    def __init__(self, transformer: TableTransformer, sampler: ConditionSampler, table: pa.Table):
        device = sampler.device
        self.n_rows = table.num_rows
        rows, starts, counts = [], [], []
        offset = 0
        for name in sampler.columns:
            codes = transformer.column(name).category_codes(table.column(name))
            order = np.argsort(codes, kind="stable")
            count = np.bincount(codes, minlength=len(transformer.column(name).categories_))
            rows.append(order)
            starts.append(offset + np.concatenate([[0], np.cumsum(count)[:-1]]))
            counts.append(count)
            offset += len(order)
        self.rows = torch.as_tensor(np.concatenate(rows) if rows else np.zeros(0, np.int64), device=device)
        self.starts = torch.as_tensor(np.concatenate(starts) if starts else np.zeros(0, np.int64), device=device)
        self.counts = torch.as_tensor(np.concatenate(counts) if counts else np.zeros(0, np.int64), device=device)

    def matching(self, category: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One random row index per condition, among the rows that have the conditioned category."""
        u = torch.rand(category.shape, device=category.device, generator=generator)
        pick = self.starts[category] + (u * self.counts[category]).long().clamp_max(self.counts[category] - 1)
        return self.rows[pick]

    def uniform(self, batch: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
        return torch.randint(self.n_rows, (batch,), device=device, generator=generator)

