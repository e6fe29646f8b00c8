"""Ingest: read the source Parquet, or a uniform sample of it, and check that it can be trained on."""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from synth import storage
from synth.sampling import draw_examples, draw_rows
from synth.storage import BATCH_ROWS, ParquetSource, check_not_empty, index_notes, read_source, source_fingerprint
from synth.tables import ColumnHealth, check_trainable
from tasks import log


@dataclass(frozen=True)
class Ingested:
    """The training data (the input, or a uniform sample of it) and what it was drawn from."""

    table: pa.Table
    source: ParquetSource
    source_rows: int  # rows in the whole input
    source_examples: int | None = None  # distinct example ids in the whole input (long time series)
    sample_seed: int | None = None  # the seed of the sample (None: the input was read whole)
    fingerprint: str | None = None  # the whole input's data hash when `table` is a sample of it

    @property
    def sampled(self) -> bool:
        """True when `table` holds fewer rows than the input."""
        return self.table.num_rows < self.source_rows

    @property
    def units(self) -> int:
        """Examples (long time series) or rows in the whole input: the default synthetic size."""
        return self.source_examples if self.source_examples is not None else self.source_rows

    def describe(self) -> dict:
        """JSON-ready: what was trained on, out of what (report notes, logs)."""
        return {"path": self.source.path, "source_rows": self.source_rows, "source_examples": self.source_examples,
                "sampled": self.sampled, "sample_rows": self.table.num_rows, "sample_seed": self.sample_seed}


def read_input(path: str, columns: list[str] | None = None, sample_rows: int | None = None, seed: int = 0,
               example_id: str | None = None, batch_rows: int = BATCH_ROWS, pandas_index: str = "auto") -> Ingested:
    """The input (or a sample of it) as one table, without logging; see `ingest`.

    Without `sample_rows` the input is read whole. With it, the input streams by in record batches
    once (twice for examples) and a uniform sample of `sample_rows` rows, or of that many whole
    examples of `example_id`, is kept; every batch is checked on the way (all-null columns, ±inf),
    and the input's data hash is computed column by column. An input with fewer is taken whole.

    Raises:
        DataError: the input is missing, not Parquet, empty, or has a column no model can train on.
    """
    with storage.store_errors(str(path), "input"):
        return _read_input(str(path), columns, sample_rows, seed, example_id, batch_rows, pandas_index)


def _read_input(path: str, columns: list[str] | None, sample_rows: int | None, seed: int, example_id: str | None,
                batch_rows: int, pandas_index: str = "auto") -> Ingested:
    source = storage.open_source(path, columns, pandas_index)
    if sample_rows is None:
        table = read_source(source)
        check_trainable(table, source=f"input {path}")
        examples = _distinct(table, example_id)
        return Ingested(table, source, table.num_rows, examples)
    check_not_empty(source)
    health = ColumnHealth(source.schema(), source=f"input {path}")
    if example_id is not None:
        drawn = draw_examples(source, example_id, sample_rows, seed, batch_rows=batch_rows, on_batch=health.update)
    else:
        drawn = draw_rows(source, sample_rows, seed, batch_rows=batch_rows, on_batch=health.update)
    health.check()
    if drawn.whole:
        return Ingested(drawn.table, source, drawn.source_rows, drawn.source_examples, seed)
    check_trainable(drawn.table, source=f"the training sample of input {path} (seed {seed}; try another seed "
                                        "or a larger source.sample_rows)")
    return Ingested(drawn.table, source, drawn.source_rows, drawn.source_examples, seed, source_fingerprint(source))


def _distinct(table: pa.Table, column: str | None) -> int | None:
    if column is None or column not in table.column_names:
        return None
    return int(pc.count_distinct(table.column(column)).as_py())


def ingest(path: str, columns: list[str] | None = None, sample_rows: int | None = None, seed: int = 0,
           example_id: str | None = None, batch_rows: int = BATCH_ROWS, pandas_index: str = "auto") -> Ingested:
    """Read a Parquet file or directory (local or s3://), or a uniform sample of it; DataError if it is missing,
    empty or unusable."""
    data = read_input(path, columns, sample_rows, seed, example_id, batch_rows, pandas_index)
    for line in index_notes(data.source):
        log.info(line)
    if not data.sampled:
        log.info("Read %s: %d rows x %d columns", path, data.table.num_rows, data.table.num_columns)
    elif data.source_examples is not None:
        log.info("Drew %d of %d examples ('%s') of %s uniformly (seed %d): %d of %d rows x %d columns",
                    pc.count_distinct(data.table.column(example_id)).as_py(), data.source_examples, example_id,
                    path, seed, data.table.num_rows, data.source_rows, data.table.num_columns)
    else:
        log.info("Drew %d of %d rows of %s uniformly (seed %d): %d columns", data.table.num_rows,
                    data.source_rows, path, seed, data.table.num_columns)
    return data
