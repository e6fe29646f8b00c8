"""Ingest: read the source Parquet and check that it can be trained on."""
from __future__ import annotations

import pyarrow as pa
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from synth.io import check_trainable, read_table
from tasks._retry import transient_io


@task(name="ingest", retries=2, retry_delay_seconds=2, retry_condition_fn=transient_io, cache_policy=NO_CACHE)
def ingest(path: str, columns: list[str] | None = None) -> pa.Table:
    """Read a Parquet file or directory; DataError if it is missing, empty or has unusable columns."""
    table = read_table(path, columns)
    check_trainable(table, source=f"input {path}")
    get_run_logger().info("Read %s: %d rows x %d columns", path, table.num_rows, table.num_columns)
    return table
