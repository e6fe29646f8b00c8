"""Parquet for the storage tests: an input read as the pipeline reads it, and two small tables."""
from __future__ import annotations

import os

import numpy as np
import pyarrow as pa

from synth import storage


def read_all(uri: str | os.PathLike, columns: list[str] | None = None) -> pa.Table:
    """Every row of the input at `uri` (local or s3://), as ingest reads it: `open_source`, then
    `read_source`, a store's failures turned into DataErrors (`store_errors(uri, "input")`)."""
    with storage.store_errors(str(uri), "input"):
        return storage.read_source(storage.open_source(uri, columns))


def id_table(start: int = 0, rows: int = 6) -> pa.Table:
    """Ids from `start`, a score, and two regions."""
    ids = list(range(start, start + rows))
    return pa.table({"id": ids, "score": [i / 2 for i in ids], "region": ["north", "south"] * (rows // 2)})


def version_table(version: int, rows: int) -> pa.Table:
    """`rows` rows marked with `version`, and random values drawn from it."""
    return pa.table({"version": pa.array(np.full(rows, version), pa.int64()),
                     "value": np.random.default_rng(version).normal(size=rows)})
