"""Sample: draw synthetic rows from a fitted model and write them, chunk by chunk, to a staged Parquet file.

The staged file lies beside the output (on s3://, a new version under the output's prefix), already
stamped with the run's metadata; `publish` renames it over the output (s3://: switches the pointer
to it) once the quality gate has passed, and `discard` deletes it otherwise. Only one
chunk and the rows kept for the report are ever in memory.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from synth.chunked import estimate_output, generate_chunked
from synth import storage
from synth.timeseries import DGAN
from synth.units import duration, size
from tasks import log

DEFAULT_CHUNK_ROWS = 200_000  # synthetic rows generated and written per chunk
LOG_EVERY_SECONDS = 30.0
ROWS_PER_OBJECT = 5_000_000  # s3://: a new part file after this many rows (a local output is one file)


@dataclass(frozen=True)
class Staged:
    """A synthetic output written beside its destination, not yet published."""

    path: str  # the staged file
    destination: str  # where `publish` puts it
    rows: int  # rows written
    units: int  # rows (tables) or sequences (time series) written
    chunks: int
    kept: pa.Table  # a uniform sample of the output, for the report (whole sequences for time series)


def write_synthetic(model, count: int, seed: int, destination: str, metadata: dict[str, str] | None = None,
                    conditions: dict | None = None, *, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                    keep_rows: int = 50_000, example_id: str | None = None, on_chunk=None,
                    mode: int | None = None) -> Staged:
    """`sample` without its logging: `count` units (rows, or sequences of a time series)
    in chunks of about `chunk_rows` rows, written to a staged file with `metadata`; about `keep_rows`
    rows of them kept for the report. On any error the staged file is deleted.

    `example_id`: the id column of a long time series (chunks and the kept sample are whole sequences).
    """
    per_unit = _rows_per_unit(model, example_id)
    with storage.open_writer(destination, metadata=metadata, max_rows_per_file=ROWS_PER_OBJECT,
                             commit=False, mode=mode) as staged:
        out = generate_chunked(lambda n, s: model.sample_table(n, seed=s, conditions=conditions), count, seed,
                               staged.write, chunk_units=max(1, chunk_rows // per_unit),
                               keep_units=max(1, keep_rows // per_unit), example_id=example_id, on_chunk=on_chunk)
    return Staged(staged.staged, destination, out.rows, out.units, out.chunks, out.kept)


def _rows_per_unit(model, example_id: str | None) -> int:
    """Rows one unit can take: a whole sequence for a long time series, else one row."""
    return model.max_sequence_len_ if isinstance(model, DGAN) and example_id is not None else 1


def sample(model, num_rows: int, seed: int, destination: str, metadata: dict[str, str] | None = None,
           conditions: dict | None = None, *, chunk_rows: int = DEFAULT_CHUNK_ROWS, keep_rows: int = 50_000,
           example_id: str | None = None, mode: int | None = None,
           on_progress: Callable[[int, int], None] | None = None) -> Staged:
    """`num_rows` synthetic rows (sequences for dgan) with the training data's exact schema, written in
    chunks to a staged file beside `destination`; same seed and chunk size, same file. Logs an estimate of
    the time and disk it will take first, then its progress with an ETA."""
    what = "sequences" if example_id else "rows"
    estimate = estimate_output(lambda n, s: model.sample_table(n, seed=s, conditions=conditions), num_rows, seed + 1)
    log.info("Sampling %s synthetic %s: about %s and %s on disk (from a %d-%s pilot)", f"{num_rows:,}", what,
                duration(estimate.seconds), size(estimate.bytes), estimate.pilot_units, what[:-1])
    started, last = time.monotonic(), [time.monotonic()]

    def progress(done: int, total: int) -> None:
        if on_progress is not None:
            on_progress(done, total)
        if time.monotonic() - last[0] >= LOG_EVERY_SECONDS and done < total:
            last[0] = time.monotonic()
            elapsed = time.monotonic() - started
            log.info("Sampled %s of %s %s (%.0f%%), ETA %s", f"{done:,}", f"{total:,}", what, 100 * done / total,
                        duration(elapsed / done * (total - done)))

    staged = write_synthetic(model, num_rows, seed, destination, metadata, conditions, chunk_rows=chunk_rows,
                             keep_rows=keep_rows, example_id=example_id, on_chunk=progress, mode=mode)
    log.info("Sampled %d synthetic %s (%d rows, seed %d) in %d chunk(s) and %s, staged at %s", staged.units,
                what, staged.rows, seed, staged.chunks, duration(time.monotonic() - started), staged.path)
    return staged
