"""Uniform random samples of a Parquet input too large to hold: rows, or whole examples of a time series.

Rows: the footers give the row count N, so the sample is a set of row positions drawn before any
row is read (uniform over all N-choose-k subsets, exact), then one pass over the record batches
keeps the rows at those positions. Memory: k positions, the rows kept so far and one batch. The
positions depend only on N, k and the seed, so the sample is the same however the data is split
into files, row groups or batches.

Examples: one pass over the example-id column collects the distinct ids (memory: one value per
example, never the rows), a seeded draw picks k of them in sorted order (so the choice does not
depend on the order of the rows), and a second pass keeps every row of a picked example.

An input with at most k rows (examples) is taken whole. The sample keeps the input's row order.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synth.errors import DataError
from synth.storage.sources import BATCH_ROWS, ParquetSource

POSITION_BLOCK = 1 << 20  # row positions are drawn block by block: memory O(k + N / block), never O(N)

BatchObserver = Callable[[pa.RecordBatch], None]


@dataclass(frozen=True)
class DrawnSample:
    """A uniform sample of a source, with what it was drawn from."""

    table: pa.Table
    source_rows: int  # rows in the whole source
    peak_rows_held: int  # most rows held at once while drawing (kept rows + the batch in hand)
    source_examples: int | None = None  # distinct example ids in the whole source (None: rows were drawn)
    sample_examples: int | None = None  # examples in the sample (None: rows were drawn)

    @property
    def whole(self) -> bool:
        """True when the sample is the entire source."""
        return self.table.num_rows == self.source_rows


def row_positions(total: int, k: int, seed: int) -> np.ndarray:
    """A uniform random k-subset of range(total), sorted, as int64; all of range(total) when k >= total.

    Drawn block by block: how many positions fall in each block of POSITION_BLOCK rows is one
    multivariate hypergeometric draw, then each block's positions are drawn within it. That is
    exactly a uniform k-subset, in O(k + total / POSITION_BLOCK) memory.
    """
    if k >= total:
        return np.arange(total, dtype=np.int64)
    rng = np.random.default_rng(seed)
    starts = np.arange(0, total, POSITION_BLOCK, dtype=np.int64)
    sizes = np.minimum(POSITION_BLOCK, total - starts)
    counts = rng.multivariate_hypergeometric(sizes, k, method="marginals")
    parts = [start + np.sort(rng.choice(size, count, replace=False))
             for start, size, count in zip(starts, sizes, counts) if count]
    return np.concatenate(parts).astype(np.int64)


def draw_rows(source: ParquetSource, k: int, seed: int, *, batch_rows: int = BATCH_ROWS,
              on_batch: BatchObserver | None = None) -> DrawnSample:
    """A uniform random sample of `k` rows of `source` (all rows if it has fewer), in one pass.

    `on_batch` sees every record batch of the source (e.g. to check it while it streams by).

    Raises:
        DataError: the source cannot be read, or it changed size while being read.
    """
    total = source.count_rows()
    positions = row_positions(total, k, seed)
    kept: list[pa.RecordBatch] = []
    held = peak = offset = 0
    for batch in source.batches(batch_rows=batch_rows):
        n = batch.num_rows
        peak = max(peak, held + n)
        low, high = np.searchsorted(positions, [offset, offset + n])
        if high > low:
            kept.append(batch.take(pa.array(positions[low:high] - offset)))
            held += high - low
        offset += n
        if on_batch is not None:
            on_batch(batch)
    _check_size(source, offset, total)
    return DrawnSample(pa.Table.from_batches(kept, schema=source.schema()), total, peak)


def draw_examples(source: ParquetSource, example_id: str, k: int, seed: int, *, batch_rows: int = BATCH_ROWS,
                  on_batch: BatchObserver | None = None) -> DrawnSample:
    """Every row of `k` examples (distinct values of `example_id`) drawn uniformly: whole sequences.

    All examples if there are at most `k`. `on_batch` sees every record batch of the second pass.

    Raises:
        DataError: the source cannot be read, lacks `example_id`, or changed while being read.
    """
    total = source.count_rows()
    ids = distinct_values(source, example_id, batch_rows)
    rng = np.random.default_rng(seed)
    picked = ids if len(ids) <= k else ids.take(pa.array(np.sort(rng.choice(len(ids), k, replace=False))))
    kept: list[pa.RecordBatch] = []
    held = peak = rows = 0
    for batch in source.batches(batch_rows=batch_rows):
        peak = max(peak, held + batch.num_rows)
        column = batch.column(example_id)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        chosen = batch.filter(pc.is_in(column, value_set=picked))
        if chosen.num_rows:
            kept.append(chosen)
            held += chosen.num_rows
        rows += batch.num_rows
        if on_batch is not None:
            on_batch(batch)
    _check_size(source, rows, total)
    return DrawnSample(pa.Table.from_batches(kept, schema=source.schema()), total, peak, len(ids), len(picked))


def distinct_values(source: ParquetSource, column: str, batch_rows: int = BATCH_ROWS) -> pa.Array:
    """The distinct non-null values of one column, sorted; reads that column only.

    Raises:
        DataError: the column is not in the source.
    """
    if column not in source.schema().names:
        raise DataError(f"input {source.path}: example id column '{column}' is not in the data")
    seen: pa.Array | None = None
    pending: list[pa.Array] = []
    pending_rows = 0
    for batch in source.batches([column], batch_rows):
        values = batch.column(0)
        if pa.types.is_dictionary(values.type):
            values = values.cast(values.type.value_type)
        pending.append(pc.unique(values.drop_null()))
        pending_rows += len(pending[-1])
        if pending_rows >= max(len(seen) if seen is not None else 0, batch_rows):  # merge when it doubles
            seen, pending, pending_rows = _union(seen, pending), [], 0
    seen = _union(seen, pending)
    if seen is None:
        return pa.array([], source.schema().field(column).type)
    return seen.take(pc.sort_indices(seen))


def _union(seen: pa.Array | None, pending: list[pa.Array]) -> pa.Array | None:
    arrays = ([seen] if seen is not None else []) + pending
    return pc.unique(pa.concat_arrays(arrays)) if arrays else None


def _check_size(source: ParquetSource, read: int, expected: int) -> None:
    if read != expected:
        raise DataError(f"input {source.path}: {read} rows read but the footers say {expected}; "
                        "did the data change while it was being read?")
