"""Publish: write the synthetic Parquet atomically, stamped with where it came from."""
from __future__ import annotations

import pyarrow as pa
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from synth.io import write_parquet_atomic
from tasks._retry import transient_io

METADATA_PREFIX = "prefect_synth."


@task(name="publish", retries=2, retry_delay_seconds=2, retry_condition_fn=transient_io, cache_policy=NO_CACHE)
def publish(table: pa.Table, path: str, metadata: dict[str, str]) -> str:
    """Write `table` to `path` (readers see the old file or the new one); returns the path."""
    stamped = {f"{METADATA_PREFIX}{k}": v for k, v in metadata.items()}
    written = write_parquet_atomic(table, path, stamped)
    get_run_logger().info("Published %d rows to %s", table.num_rows, written)
    return str(written)
