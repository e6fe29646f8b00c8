"""Sample: draw synthetic rows from a fitted model."""
from __future__ import annotations

import pyarrow as pa
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE


@task(name="sample", cache_policy=NO_CACHE)
def sample(model, num_rows: int, seed: int, conditions: dict | None = None) -> pa.Table:
    """`num_rows` synthetic rows with the training data's exact schema; same seed, same rows."""
    table = model.sample_table(num_rows, seed=seed, conditions=conditions)
    get_run_logger().info("Sampled %d synthetic rows (seed %d)", table.num_rows, seed)
    return table
