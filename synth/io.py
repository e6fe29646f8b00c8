"""Reading Parquet (a file, a directory, hive partitions) and publishing it atomically."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from synth.errors import DataError
from synth.schema import ColumnKind, schema_specs

FINGERPRINT_BLOCK_ROWS = 1 << 16  # rows hashed per step: bounds the copies made on a table of any size


def read_table(path: str | os.PathLike, columns: list[str] | None = None) -> pa.Table:
    """Read a Parquet file or a directory of Parquet files (hive partitions become columns).

    Raises:
        DataError: the path is missing, is not Parquet, lacks a requested column or has no rows.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"input {path}: no such file or directory")
    try:
        if path.is_dir():
            dataset = ds.dataset(path, format="parquet", partitioning="hive", exclude_invalid_files=False)
        else:
            dataset = ds.dataset(path, format="parquet")
    except (pa.ArrowInvalid, OSError) as e:
        raise DataError(f"input {path}: not a readable Parquet file or dataset ({_first_line(e)})") from e
    if columns is not None:
        missing = [c for c in columns if c not in dataset.schema.names]
        if missing:
            raise DataError(f"input {path}: configured column(s) {missing} not in the data "
                            f"(columns are {dataset.schema.names})")
    try:
        table = dataset.to_table(columns=columns)
    except (pa.ArrowInvalid, OSError) as e:
        raise DataError(f"input {path}: could not read Parquet ({_first_line(e)})") from e
    if table.num_columns == 0:
        raise DataError(f"input {path}: the table has no columns")
    if table.num_rows == 0:
        raise DataError(f"input {path}: the table has zero rows")
    return table


def check_trainable(table: pa.Table, source: str = "input") -> None:
    """Rules every training table must meet: supported types, no all-null column, no ±inf.

    A constant column is allowed (it comes back constant).
    """
    names = table.schema.names
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DataError(f"{source}: duplicate column name(s) {duplicates}")
    specs = schema_specs(table.schema)  # raises on unsupported types, naming the column
    for spec in specs:
        column = table.column(spec.name)
        if column.null_count == len(column):
            raise DataError(f"{source}: column '{spec.name}' has only null values: nothing to learn from it")
        if spec.kind is ColumnKind.CONTINUOUS and pa.types.is_floating(column.type):
            n_inf = pc.sum(pc.is_inf(column)).as_py() or 0
            if n_inf:
                raise DataError(f"{source}: column '{spec.name}' has {n_inf} infinite value(s) (±inf); "
                                "replace or drop them before training")


def write_parquet_atomic(table: pa.Table, path: str | os.PathLike, metadata: dict[str, str] | None = None) -> Path:
    """Write `table` to `path` so that a reader sees the old file or the new one, never a partial one.

    The file is written beside its destination and renamed over it (rename is atomic on POSIX).
    `metadata` goes into the Parquet key-value metadata, next to any the table already carries.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if metadata:
        merged = dict(table.schema.metadata or {})
        merged.update({k.encode(): str(v).encode() for k, v in metadata.items()})
        table = table.replace_schema_metadata(merged)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The key-value metadata of a Parquet file, decoded."""
    raw = pq.read_schema(path).metadata or {}
    return {k.decode(): v.decode() for k, v in raw.items() if not k.startswith(b"ARROW:")}


def table_fingerprint(table: pa.Table) -> str:
    """A 16-hex-digit digest of a table's column names, types and values.

    It depends on the data only: not on chunking, schema metadata, dictionary order or the bytes
    under null slots, so the same Parquet file read twice gives the same digest and one changed
    value (or null) a different one. Each column is hashed in fixed row blocks, decoded and
    null-free, through Arrow IPC, which writes any array's values in one canonical layout.
    """
    digest = hashlib.blake2b(digest_size=8)
    schema = [[field.name, str(field.type)] for field in table.schema]
    digest.update(json.dumps([table.num_rows, schema]).encode())
    for column in table.columns:
        for start in range(0, table.num_rows, FINGERPRINT_BLOCK_ROWS):
            block = column.slice(start, FINGERPRINT_BLOCK_ROWS)
            if pa.types.is_dictionary(block.type):  # hash values, not codes into a per-chunk dictionary
                block = block.cast(block.type.value_type)
            values = block.combine_chunks()
            if pa.types.is_boolean(values.type):  # bit-packed: bits past the end are not guaranteed zero
                values = values.cast(pa.uint8())
            nulls = pc.indices_nonzero(values.is_null())  # where the nulls are, as plain uint64
            for array in (nulls, values.drop_null()):
                digest.update(pa.record_batch([array], names=["v"]).serialize())
    return digest.hexdigest()


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__



def as_table(data: pa.Table | pd.DataFrame) -> pa.Table:
    """A pyarrow Table as it is, or a DataFrame converted without its index."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False)
    raise TypeError(f"expected a pyarrow Table or pandas DataFrame, got {type(data).__name__}")


def sample_rows(table: pa.Table, rows: int, rng: np.random.Generator) -> pa.Table:
    """At most `rows` rows of `table`, drawn without replacement from `rng`, in their original order."""
    if table.num_rows <= rows:
        return table
    return table.take(pa.array(np.sort(rng.choice(table.num_rows, size=rows, replace=False))))
