"""Reading Parquet (a file, a directory, hive partitions, or a published version's files) whole or by
record batches, the checks every training table must pass, one local file written atomically, and the
data fingerprint.

Readers take a `pyarrow.fs.FileSystem` (None: the local one); `synth.storage` resolves s3:// URIs to
one and publishes to object stores.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from synth.errors import DataError
from synth.schema import ColumnKind, schema_specs

FINGERPRINT_BLOCK_ROWS = 1 << 16  # rows hashed per step: bounds the copies made on a table of any size
BATCH_ROWS = 1 << 17  # rows per record batch when a dataset is streamed (about 10 MB for 12 columns)


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class ParquetSource:
    """A Parquet file or directory (hive partitions become columns) and the columns to read from it.

    Opening it reads footers only; `batches` streams the rows, so a source of any size can be
    scanned in memory bounded by one record batch.
    """

    path: str
    columns: tuple[str, ...] | None = None  # None: every column (less pandas' index columns, see `index`)
    filesystem: pafs.FileSystem | None = field(default=None, compare=False)  # None: local paths
    files: tuple[str, ...] | None = None  # exactly these files (a published version), not a listing of `path`
    index: str = "auto"  # pandas' index columns: auto (drop unnamed, keep named as data), drop, or keep

    def dataset(self) -> ds.Dataset:
        """The opened dataset (footers read, no rows), opened once.

        Raises:
            DataError: the path is missing, is not Parquet, or lacks a configured column.
        """
        return self._opened

    @cached_property
    def _opened(self) -> ds.Dataset:
        fs = self.filesystem or pafs.LocalFileSystem()
        # a remote path may be given as a URI (s3://bucket/key, for messages); its filesystem wants bucket/key
        where = os.path.abspath(self.path) if self.filesystem is None else self.path.split("://", 1)[-1]
        if self.files is not None:
            try:
                return self._checked(ds.dataset(list(self.files), filesystem=fs, format="parquet"))
            except (pa.ArrowInvalid, OSError) as e:
                raise DataError(f"input {self.path}: not a readable Parquet dataset ({_first_line(e)})") from e
        info = fs.get_file_info(where)
        if info.type == pafs.FileType.NotFound:
            raise DataError(f"input {self.path}: no such file or directory{_tried(self.path, self.filesystem)}")
        if info.type == pafs.FileType.File and self.filesystem is None:
            _check_parquet_magic(where, self.path)
        try:
            if info.type == pafs.FileType.Directory:
                dataset = ds.dataset(where, filesystem=fs, format="parquet", partitioning="hive",
                                     exclude_invalid_files=False)
            else:
                dataset = ds.dataset(where, filesystem=fs, format="parquet")
        except (pa.ArrowInvalid, OSError) as e:
            if "duplicate field names" in str(e):  # Arrow's message names no column: find it
                _find_duplicate_names(fs, where, info, self.path)
            raise DataError(f"input {self.path}: not a readable Parquet file or dataset ({_first_line(e)})") from e
        if info.type == pafs.FileType.Directory and not dataset.files:
            raise DataError(f"input {self.path}: no Parquet files in the directory")
        return self._checked(dataset)

    def _checked(self, dataset: ds.Dataset) -> ds.Dataset:
        _check_names(dataset.schema.names, self.path)
        if len(dataset.files) > 1:
            _check_file_schemas(dataset, dataset.filesystem, self.path)
        if self.columns is not None:
            missing = [c for c in self.columns if c not in dataset.schema.names]
            if missing:
                raise DataError(f"input {self.path}: configured column(s) {missing} not in the data "
                                f"(columns are {dataset.schema.names})")
        return dataset

    @cached_property
    def index_columns(self) -> tuple[str, ...]:
        """The columns pandas' metadata names as the DataFrame's index (`df.to_parquet()` keeps a filtered
        frame's index as `__index_level_0__`); a RangeIndex is stored as metadata only and names none."""
        return pandas_index_columns(self.dataset().schema)

    @cached_property
    def dropped_index_columns(self) -> tuple[str, ...]:
        """The pandas index columns left out of what is read (see `index`); none when `columns` is given."""
        if self.columns is not None or self.index == "keep":
            return ()
        if self.index == "drop":
            return self.index_columns
        return tuple(c for c in self.index_columns if _UNNAMED_INDEX.fullmatch(c))

    @property
    def read_columns(self) -> list[str]:
        """The columns read, in order: `columns`, else every column but the dropped index columns."""
        if self.columns is not None:
            return list(self.columns)
        return [n for n in self.dataset().schema.names if n not in self.dropped_index_columns]

    def schema(self) -> pa.Schema:
        """The schema of the columns read, in the order they are read."""
        schema = self.dataset().schema
        if self.columns is None and not self.index_columns:
            return schema
        # pandas' metadata would turn the index columns kept as data back into an index in to_pandas()
        metadata = schema.metadata if self.columns is None else None
        return _without_pandas_metadata(pa.schema([schema.field(c) for c in self.read_columns], metadata),
                                        bool(self.index_columns))

    def count_rows(self) -> int:
        """Rows in the source, from the Parquet footers (no data is read)."""
        with self._reading():
            return self.dataset().count_rows()

    def batches(self, columns: Iterable[str] | None = None, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """The rows in order, as record batches of at most `batch_rows` rows (`columns`: a subset)."""
        dataset = self.dataset()
        wanted = list(columns) if columns is not None else self.read_columns
        local = self.filesystem is None or isinstance(self.filesystem, pafs.LocalFileSystem)
        # Arrow's defaults read ahead 16 batches of 4 files, each row group's bytes buffered whole
        # (pre_buffer, a win on object stores): 1.3 GB for 1M-row row groups of 12 columns. A local
        # file needs neither; 2 batches ahead keep the scan as fast, at 0.45 GB.
        options = ds.ParquetFragmentScanOptions(pre_buffer=not local)
        with self._reading():
            yield from dataset.to_batches(columns=wanted, batch_size=batch_rows, batch_readahead=2,
                                          fragment_readahead=1, fragment_scan_options=options)

    def read(self) -> pa.Table:
        """Every row at once."""
        dataset = self.dataset()
        with self._reading():
            table = dataset.to_table(columns=self.read_columns)
        return table.replace_schema_metadata(self.schema().metadata) if self.index_columns else table

    @contextmanager
    def _reading(self) -> Iterator[None]:
        try:
            yield
        except (pa.ArrowInvalid, OSError) as e:
            raise DataError(f"input {self.path}: could not read Parquet ({_first_line(e)})") from e


def read_table(path: str | os.PathLike, columns: list[str] | None = None,
               filesystem: pafs.FileSystem | None = None, index: str = "auto") -> pa.Table:
    """Read a Parquet file or a directory of Parquet files (hive partitions become columns); pandas'
    unnamed index columns are left out (`index`: see ParquetSource).

    Raises:
        DataError: the path is missing, is not Parquet, lacks a requested column or has no rows.
    """
    return read_source(ParquetSource(str(path), tuple(columns) if columns is not None else None, filesystem,
                                     index=index))


def index_notes(source: ParquetSource) -> list[str]:
    """What was done with pandas' index columns, for the run log (nothing when there were none)."""
    index = source.index_columns
    if not index:
        return []
    dropped = source.dropped_index_columns
    kept = [c for c in index if c not in dropped]
    notes = []
    if dropped:
        notes.append(f"Dropped pandas index column(s) {list(dropped)} of {source.path} (written by "
                     "DataFrame.to_parquet with its index); set source.pandas_index: keep to train on them")
    if kept:
        notes.append(f"Kept pandas index column(s) {kept} of {source.path} as data (source.pandas_index: "
                     f"{source.index}); set source.pandas_index: drop to leave them out")
    return notes


_UNNAMED_INDEX = re.compile(r"__index_level_\d+__")
PARQUET_MAGIC = b"PAR1"


def pandas_index_columns(schema: pa.Schema) -> tuple[str, ...]:
    """The stored columns that pandas' schema metadata names as index columns (none without pandas metadata)."""
    raw = (schema.metadata or {}).get(b"pandas")
    if not raw:
        return ()
    try:
        index = json.loads(raw).get("index_columns") or []
    except (ValueError, AttributeError):
        return ()
    return tuple(c for c in index if isinstance(c, str) and c in schema.names)  # a RangeIndex is a dict


def _without_pandas_metadata(schema: pa.Schema, drop: bool) -> pa.Schema:
    """Without pandas' metadata when it names index columns: read as data, they must stay columns."""
    if not drop or not schema.metadata or b"pandas" not in schema.metadata:
        return schema
    return schema.with_metadata({k: v for k, v in schema.metadata.items() if k != b"pandas"})


def _tried(path: str, filesystem: pafs.FileSystem | None) -> str:
    """For a missing local relative path: the absolute path tried and what it was relative to."""
    if filesystem is not None or os.path.isabs(path):
        return ""
    return (f" (looked for {os.path.abspath(path)}: relative paths are relative to the working directory "
            f"{os.getcwd()}, not to the config file)")


def _check_parquet_magic(local_path: str, shown: str) -> None:
    """A local file that is not Parquet (CSV, JSON, Excel...) gets told so, with how to convert it, instead of
    Arrow's message about footers."""
    try:
        with open(local_path, "rb") as f:
            head = f.read(4)
            f.seek(max(0, os.path.getsize(local_path) - 4))
            tail = f.read(4)
    except OSError as e:
        raise DataError(f"input {shown}: cannot be read ({e.strerror or e})") from None
    if head == PARQUET_MAGIC and tail == PARQUET_MAGIC:
        return
    suffix = Path(local_path).suffix.lower()
    reader = {".csv": "read_csv", ".tsv": "read_csv", ".txt": "read_csv", ".json": "read_json",
              ".jsonl": "read_json", ".xlsx": "read_excel", ".xls": "read_excel", ".feather": "read_feather",
              ".arrow": "read_feather"}.get(suffix)
    if reader is None:
        reader = "read_json" if head[:1] in (b"{", b"[") else ("read_excel" if head[:2] == b"PK" else "read_csv")
    what = {"read_csv": "CSV", "read_json": "JSON", "read_excel": "Excel", "read_feather": "Arrow/Feather"}[reader]
    if head == PARQUET_MAGIC:
        problem = "is a truncated or damaged Parquet file (no Parquet footer)"
    elif not head:
        problem = "is an empty file, not Parquet"
    else:
        problem = f"is not a Parquet file (it looks like {what})"
    target = Path(shown).with_suffix(".parquet") if suffix != ".parquet" else Path(shown).with_suffix(".converted.parquet")
    raise DataError(f"input {shown}: {problem}; prefect-synth reads Parquet. Convert it first, e.g. "
                    f"python -c \"import pandas as pd; pd.{reader}('{shown}').to_parquet('{target}', index=False)\"")


def read_source(source: ParquetSource) -> pa.Table:
    """Every row of `source`; DataError as `read_table`."""
    path = source.path
    table = source.read()
    if table.num_columns == 0:
        raise DataError(f"input {path}: the table has no columns")
    if table.num_rows == 0:
        raise DataError(f"input {path}: the table has zero rows")
    return table


def check_trainable(table: pa.Table, source: str = "input") -> None:
    """Rules every training table must meet: supported types, no all-null column, no ±inf.

    A constant column is allowed (it comes back constant).
    """
    health = ColumnHealth(table.schema, source)
    health.update(table)
    health.check()


class ColumnHealth:
    """`check_trainable` added up over record batches: null and ±inf counts per column.

    The schema is checked when it is made (duplicate names, unsupported types); `update` with each
    batch (or a whole table), then `check` raises the first broken rule, column by column in order.
    """

    def __init__(self, schema: pa.Schema, source: str = "input"):
        names = schema.names
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise DataError(f"{source}: duplicate column name(s) {duplicates}")
        self.specs = schema_specs(schema)  # raises on unsupported types, naming the column
        self.source = source
        self.rows = 0
        self.nulls = dict.fromkeys(names, 0)
        self.infinities = dict.fromkeys(names, 0)
        self._text = {f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)}
        self._floating = {s.name for s, f in zip(self.specs, schema)
                          if s.kind is ColumnKind.CONTINUOUS and pa.types.is_floating(f.type)}

    def update(self, data: pa.RecordBatch | pa.Table) -> None:
        self.rows += data.num_rows
        for spec in self.specs:
            column = data.column(spec.name)
            self.nulls[spec.name] += column.null_count
            if spec.name in self._floating:
                self.infinities[spec.name] += pc.sum(pc.is_inf(column)).as_py() or 0
            if spec.name in self._text:
                try:  # Parquet readers do not check that a string column holds UTF-8
                    for chunk in getattr(column, "chunks", [column]):
                        chunk.validate(full=True)
                except pa.ArrowInvalid as e:
                    raise DataError(f"{self.source}: column '{spec.name}' holds text that is not valid UTF-8 "
                                    f"({e}); re-encode it, or read it as binary and drop it") from None

    def check(self) -> None:
        """Raises:
            DataError: a column is entirely null, or holds ±inf."""
        for spec in self.specs:
            if self.nulls[spec.name] == self.rows:
                raise DataError(f"{self.source}: column '{spec.name}' has only null values: nothing to learn from it")
            n_inf = self.infinities[spec.name]
            if n_inf:
                raise DataError(f"{self.source}: column '{spec.name}' has {n_inf} infinite value(s) (±inf); "
                                "replace or drop them before training")


# ---------------------------------------------------------------- writing


def write_parquet_atomic(table: pa.Table, path: str | os.PathLike, metadata: dict[str, str] | None = None) -> Path:
    """Write `table` to `path` so that a reader sees the old file or the new one, never a partial one.

    The file is written beside its destination and renamed over it (rename is atomic on POSIX).
    `metadata` goes into the Parquet key-value metadata, next to any the table already carries.
    """
    from synth.storage.locations import atomic_file  # synth.storage reads through this module

    path = Path(path)
    if metadata:
        table = table.replace_schema_metadata(stamped(table.schema, metadata).metadata)
    with atomic_file(path) as tmp:
        pq.write_table(table, tmp)
    return path


def stamped(schema: pa.Schema, metadata: dict[str, str] | None) -> pa.Schema:
    """`schema` with `metadata` (values as text) added to the key-value metadata it already carries."""
    merged = dict(schema.metadata or {})
    merged.update({k.encode(): str(v).encode() for k, v in (metadata or {}).items()})
    return schema.with_metadata(merged)


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The key-value metadata of a Parquet file, decoded."""
    raw = pq.read_schema(path).metadata or {}
    return {k.decode(): v.decode() for k, v in raw.items() if not k.startswith(b"ARROW:")}


# ---------------------------------------------------------------- fingerprints


def type_family(arrow_type: pa.DataType) -> str:
    """The logical type an Arrow type stores, whatever its physical encoding.

    `string`: string, large_string, string_view and dictionary<string> (pandas 2 writes the first,
    pandas 3 the second). `integer`: every int width, signed or not. `floating`: every float width.
    `decimal`: every precision and scale. `date`: date32 and date64. `timestamp` (or
    `timestamp[tz=Europe/Berlin]`): every unit of one time zone; another zone is another family.
    `binary`: binary, large_binary, binary_view. A dictionary of anything else stays
    `dictionary<family>` (a categorical, not a number); any other type is its own family.
    """
    t = arrow_type
    if pa.types.is_dictionary(t):
        values = type_family(t.value_type)
        return values if values == "string" else f"dictionary<{values}>"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return "binary"
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t):
        return "floating"
    if pa.types.is_decimal(t):
        return "decimal"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return f"timestamp[tz={t.tz}]" if t.tz is not None else "timestamp"
    return str(t)


def table_fingerprint(table: pa.Table) -> str:
    """A 16-hex-digit digest of a table's column names, type families and values.

    It depends on the data only: not on chunking, schema metadata, dictionary order, the bytes
    under null slots or the physical encoding (string or large_string, int32 or int64, a timestamp's
    unit, date32 or date64: see `type_family`), so the same data gives the same digest however it is
    stored, and one changed value (or null), a renamed column or a new time zone a different one.
    Each column is hashed in fixed row blocks, decoded, null-free and cast to one type per family
    (`_canonical`), through Arrow IPC, which writes any array's values in one canonical layout.
    A float32 column equals a float64 one exactly when its values, widened (exactly) to float64, do.
    """
    digest = _fingerprint_start(table.num_rows, table.schema)
    for column in table.columns:
        for start in range(0, table.num_rows, FINGERPRINT_BLOCK_ROWS):
            _fingerprint_block(digest, column.slice(start, FINGERPRINT_BLOCK_ROWS))
    return digest.hexdigest()


def source_fingerprint(source: ParquetSource) -> str:
    """`table_fingerprint` of the whole source, streamed: one column at a time, one block at a time.

    The digest is the same as for the source read whole; memory stays at one block of one column.
    """
    schema = source.schema()
    digest = _fingerprint_start(source.count_rows(), schema)
    for name in schema.names:
        arrays = (batch.column(0) for batch in source.batches([name], FINGERPRINT_BLOCK_ROWS))
        for block in _fixed_blocks(arrays, FINGERPRINT_BLOCK_ROWS):
            _fingerprint_block(digest, block)
    return digest.hexdigest()


def _fingerprint_start(rows: int, schema: pa.Schema):
    digest = hashlib.blake2b(digest_size=8)
    digest.update(json.dumps([rows, [[f.name, type_family(f.type)] for f in schema]]).encode())
    return digest


def _fingerprint_block(digest, block: pa.Array | pa.ChunkedArray) -> None:
    if pa.types.is_dictionary(block.type):  # hash values, not codes into a per-chunk dictionary
        block = block.cast(block.type.value_type)
    values = block.combine_chunks() if isinstance(block, pa.ChunkedArray) else block
    nulls = pc.indices_nonzero(values.is_null())  # where the nulls are, as plain uint64
    present = _canonical(values).drop_null()  # safe casts look at valid slots only
    digest.update(str(present.type).encode())  # int64 or uint64, a timestamp's unit: the bytes' meaning
    if pa.types.is_boolean(present.type):  # bit-packed: bits past the end are not guaranteed zero
        present = present.cast(pa.uint8())
    for array in (nulls, present):
        digest.update(pa.record_batch([array], names=["v"]).serialize())


def _canonical(values: pa.Array) -> pa.Array:
    """`values` cast to the one type of their family that holds them exactly, chosen by the (non-null)
    values alone, never by how they were stored: large_string, large_binary, float64 (exact for any
    narrower float), decimal256 of the same scale; int64, or uint64 past its range; date32, or date64
    for part days; a timestamp in the coarsest unit that holds every instant of the block."""
    t = values.type
    if type_family(t) == "string":
        candidates = [pa.large_string()]
    elif type_family(t) == "binary":
        candidates = [pa.large_binary()]
    elif pa.types.is_integer(t):
        candidates = [pa.int64(), pa.uint64()]
    elif pa.types.is_floating(t):
        candidates = [pa.float64()]
    elif pa.types.is_decimal(t):
        candidates = [pa.decimal256(76, t.scale)]
    elif pa.types.is_date(t):
        candidates = [pa.date32(), pa.date64()]
    elif pa.types.is_timestamp(t):
        units = ["s", "ms", "us", "ns"]
        candidates = [pa.timestamp(unit, t.tz) for unit in units[:units.index(t.unit) + 1]]
    else:
        return values
    for target in candidates[:-1]:
        try:
            return values.cast(target)  # a safe cast: it refuses to truncate or overflow
        except pa.ArrowInvalid:
            continue
    return values.cast(candidates[-1])


def _fixed_blocks(arrays: Iterable[pa.Array], size: int) -> Iterator[pa.ChunkedArray]:
    """The concatenation of `arrays`, re-cut into blocks of exactly `size` (the last one shorter)."""
    pending: list[pa.Array] = []
    held = 0
    for array in arrays:
        if pa.types.is_dictionary(array.type):  # chunks may carry different dictionaries
            array = array.cast(array.type.value_type)
        pending.append(array)
        held += len(array)
        while held >= size:
            joined = pa.chunked_array(pending, type=array.type)
            yield joined.slice(0, size)
            pending, held = list(joined.slice(size).chunks), held - size
    if held:
        yield pa.chunked_array(pending)


def _check_names(names: list[str], path: str) -> None:
    duplicated = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicated:
        raise DataError(f"input {path}: duplicate column name(s) {duplicated}; every column needs its own name")


def _find_duplicate_names(fs: pafs.FileSystem, where: str, info: pafs.FileInfo, path: str) -> None:
    files = [where] if info.type != pafs.FileType.Directory else sorted(
        f.path for f in fs.get_file_info(pafs.FileSelector(where, recursive=True))
        if f.type == pafs.FileType.File and not f.base_name.startswith((".", "_")))
    for file in files:
        try:
            names = pq.read_schema(file, filesystem=fs).names
        except (pa.ArrowInvalid, OSError):
            continue
        _check_names(names, path if file == where else f"{path} ({file})")


def _check_file_schemas(dataset: ds.Dataset, fs: pafs.FileSystem, path: str) -> None:
    """The files of a directory must agree on each timestamp column's unit and time zone: Arrow would
    otherwise convert every file to the first one's, silently shifting or re-zoning the others."""
    expected = {f.name: f.type for f in dataset.schema if pa.types.is_timestamp(f.type)}
    if not expected:
        return
    first = dataset.files[0]
    for file in dataset.files[1:]:
        try:
            schema = pq.read_schema(file, filesystem=fs)
        except (pa.ArrowInvalid, OSError) as e:
            raise DataError(f"input {path}: {file} is not a readable Parquet file ({_first_line(e)})") from e
        for column in schema:
            want = expected.get(column.name)
            if want is not None and pa.types.is_timestamp(column.type) and (
                    column.type.tz != want.tz or column.type.unit != want.unit):
                raise DataError(f"input {path}: column '{column.name}' is {column.type} in {file} but {want} in "
                                f"{first}; write every file with the same time zone and unit")


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
