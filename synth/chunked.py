"""Generating a large synthetic output chunk by chunk, so that no more than one chunk is ever held.

A chunk is `chunk_units` units, rows (tables, wide time series) or whole sequences (long time
series), generated with a seed of its own and handed to a writer before the next one is made.
Chunk 0 uses the run's seed itself, so an output of one chunk is exactly what one call of the model
gives; chunk i > 0 uses a seed derived from (seed, i). The output therefore depends on the seed and
the chunk size only. Long time series get example ids numbered across chunks, formatted as the
model formats them for one call of the whole size. While the chunks stream by, a uniform sample of
units is kept for the report (whole sequences for time series).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synth.sampling import row_positions

Generate = Callable[[int, int], pa.Table]  # (units, seed) -> a table of that many rows or sequences


@dataclass(frozen=True)
class ChunkedOutput:
    """What `generate_chunked` wrote, and the sample of it kept for the report."""

    rows: int  # rows written
    units: int  # rows (tables) or sequences written
    chunks: int
    kept: pa.Table  # a uniform sample of the units written, in order


def chunk_seed(seed: int, index: int) -> int:
    """The seed of chunk `index`: the run seed for chunk 0, a seed derived from (seed, index) after it."""
    if index == 0:
        return seed
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def generate_chunked(generate: Generate, count: int, seed: int, write: Callable[[pa.Table], None], *,
                     chunk_units: int, keep_units: int, example_id: str | None = None,
                     on_chunk: Callable[[int, int], None] | None = None) -> ChunkedOutput:
    """Generate `count` units in chunks of `chunk_units`, `write` each chunk, keep `keep_units` of them.

    Args:
        generate: makes n units with a given seed (e.g. `lambda n, s: model.sample_table(n, seed=s)`).
        example_id: the id column of a long time series (one unit = every row of one id); None for rows.
        on_chunk: called with (units done, count) after each chunk is written.
    """
    if count < 1 or chunk_units < 1:
        raise ValueError(f"count={count} and chunk_units={chunk_units} must be at least 1")
    keep = row_positions(count, keep_units, seed)
    n_chunks = -(-count // chunk_units)
    kept: list[pa.Table] = []
    rows = 0
    for index in range(n_chunks):
        start = index * chunk_units
        size = min(chunk_units, count - start)
        chunk = generate(size, chunk_seed(seed, index))
        units = _unit_of_rows(chunk, example_id)
        if example_id is not None and n_chunks > 1 and chunk.num_rows:
            chunk = _renumber(chunk, example_id, units, start, count)
        write(chunk)
        rows += chunk.num_rows
        low, high = np.searchsorted(keep, [start, start + size])
        if high > low:
            local = keep[low:high] - start
            kept.append(chunk.take(pa.array(local)) if units is None else
                        chunk.filter(pa.array(np.isin(units, local))))
        if on_chunk is not None:
            on_chunk(start + size, count)
    return ChunkedOutput(rows, count, n_chunks, pa.concat_tables(kept))


def _unit_of_rows(chunk: pa.Table, example_id: str | None) -> np.ndarray | None:
    """For each row, which sequence of the chunk it belongs to (0, 1, ... in order); None for rows."""
    if example_id is None:
        return None
    return pc.dictionary_encode(chunk.column(example_id)).combine_chunks().indices.to_numpy(zero_copy_only=False)


def _renumber(chunk: pa.Table, example_id: str, units: np.ndarray, start: int, total: int) -> pa.Table:
    """Ids `start`, `start + 1`, ... for the chunk's sequences, as the model numbers `total` sequences:
    the number itself for a numeric id column, else `synthetic-<number>` zero-padded to the width
    of `total - 1` (synth/timeseries/dgan.py, `DGAN._ids`)."""
    index = chunk.schema.get_field_index(example_id)
    target = chunk.schema.field(index).type
    numbers = np.arange(start, start + int(units.max()) + 1)
    if pa.types.is_integer(target) or pa.types.is_floating(target):
        ids = pa.array(numbers)
    else:
        width = len(str(total - 1))
        ids = pa.array([f"synthetic-{i:0{width}d}" for i in numbers])
    return chunk.set_column(index, chunk.schema.field(index), ids.take(pa.array(units)).cast(target))


@dataclass(frozen=True)
class OutputEstimate:
    """What generating and writing `units` units will take, scaled from a small pilot."""

    rows: int  # rows the output will have (a sequence is several)
    bytes: int  # its size as Parquet (the writer's defaults)
    seconds: float  # time to generate and encode it (on this machine, now)
    pilot_units: int


PILOT_ROWS = 2_000  # rows of the pilot behind an estimate: a few hundredths of a second for the demo models


def estimate_output(generate: Generate, units: int, seed: int) -> OutputEstimate:
    """Generate a pilot of about PILOT_ROWS rows, encode it as Parquet in memory, and scale its rows, bytes
    (the footer counted once) and time to `units`."""
    import io
    import time

    import pyarrow.parquet as pq

    def parquet_bytes(table: pa.Table) -> int:
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        return buffer.tell()

    start = time.perf_counter()
    probe = generate(1, seed)
    pilot = max(1, min(units, PILOT_ROWS // max(probe.num_rows, 1)))
    table = generate(pilot, seed)
    written = parquet_bytes(table)
    seconds = time.perf_counter() - start
    footer = parquet_bytes(table.slice(0, 0))  # schema and footer: written once
    per_unit = (written - footer) / pilot
    return OutputEstimate(round(table.num_rows / pilot * units), round(footer + per_unit * units),
                          seconds * units / pilot, pilot)
