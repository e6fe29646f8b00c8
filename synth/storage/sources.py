"""Reading Parquet: the one place a source is opened. A source is a local file, directory or hive
partitions, an s3:// object or prefix, or (s3://) the current version of a dataset published there.
Opening reads footers only, and finds what would fail later: a missing path or bucket, a file that is
not Parquet (CSV, JSON, Excel: with how to convert it), duplicate names, files that disagree on a
timestamp's unit or zone, a configured column that is not there. pandas' index columns are dropped or
kept as data (`ParquetSource.index`).

Rows stream as record batches (`ParquetSource.batches`) or are read whole (`read_source`); a store's
failures are turned into DataErrors (StorageUnavailable when worth retrying) by wrapping the reads in
`synth.storage.store_errors(uri, "input")`.
"""
from __future__ import annotations

import errno
import json
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from synth.errors import DataError
from synth.storage.datasets import current_version
from synth.storage.locations import _check_bucket, _detail, is_remote, resolve
from synth.tables import check_columns, duplicate_names

BATCH_ROWS = 1 << 17  # rows per record batch when a dataset is streamed (about 10 MB for 12 columns)
PARQUET_MAGIC = b"PAR1"
_UNNAMED_INDEX = re.compile(r"__index_level_\d+__")


@dataclass(frozen=True)
class ParquetSource:
    """A Parquet file or directory (hive partitions become columns), local or on `filesystem`, or exactly
    the `files` of a published version, and the columns to read from it.

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
                raise DataError(f"input {self.path}: not a readable Parquet dataset ({_detail(e)})") from e
        info = fs.get_file_info(where)
        if info.type == pafs.FileType.NotFound:
            if self.filesystem is None:
                _check_link(where, self.path)
            _check_bucket(fs, where, self.path, "input")
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
            raise DataError(f"input {self.path}: not a readable Parquet file or dataset ({_detail(e)})") from e
        if info.type == pafs.FileType.Directory and not dataset.files:
            raise DataError(f"input {self.path}: no Parquet files in the directory")
        return self._checked(dataset)

    def _checked(self, dataset: ds.Dataset) -> ds.Dataset:
        _check_names(dataset.schema.names, self.path)
        if len(dataset.files) > 1:
            _check_file_schemas(dataset, dataset.filesystem, self.path, self.columns)
        check_columns(dataset.schema.names, self.columns, f"input {self.path}")
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
            raise DataError(f"input {self.path}: could not read Parquet ({_detail(e)})") from e


def open_source(uri: str | os.PathLike, columns: list[str] | None = None, pandas_index: str = "auto") -> ParquetSource:
    """An input as a `ParquetSource`: a local file or directory, an s3:// dataset, or (s3://) the current
    version of an output this tool published there, whole. Nothing is read yet but footers when the
    source is used."""
    uri = str(uri)
    filesystem, files = None, None
    if is_remote(uri):  # credentials from the environment
        filesystem = resolve(uri)[0]
        published = current_version(uri)
        if published is not None:
            files = tuple(f.split("://", 1)[1] for f in published.files)
    return ParquetSource(uri, tuple(columns) if columns is not None else None, filesystem, files, pandas_index)


def read_source(source: ParquetSource) -> pa.Table:
    """Every row of `source`, at once.

    Raises:
        DataError: the source is missing, is not Parquet, lacks a configured column, or has no
            columns or no rows.
    """
    table = source.read()
    check_not_empty(source, table)
    return table


def check_not_empty(source: ParquetSource, table: pa.Table | None = None) -> int:
    """The rows of `table` (read from `source`), else of the whole source, from its footers.

    Raises:
        DataError: there are no columns, or no rows.
    """
    if (table.num_columns if table is not None else len(source.schema())) == 0:
        raise DataError(f"input {source.path}: the table has no columns")
    rows = table.num_rows if table is not None else source.count_rows()
    if rows == 0:
        raise DataError(f"input {source.path}: the table has zero rows")
    return rows


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


def _check_names(names: list[str], path: str) -> None:
    duplicated = duplicate_names(names)
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


def _check_link(where: str, shown: str) -> None:
    """A local path that is a symbolic link loop or points nowhere: say so, rather than 'no such file'."""
    if not os.path.islink(where):
        return
    try:
        os.stat(where)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise DataError(f"input {shown}: a symbolic link loop ({where} leads back to itself); point "
                            f"source.path at the data itself") from None
        raise DataError(f"input {shown}: a symbolic link to {os.readlink(where)}, which does not exist") from None


def _check_file_schemas(dataset: ds.Dataset, fs: pafs.FileSystem, path: str,
                        columns: tuple[str, ...] | None = None) -> None:
    """The files of a directory must agree on the columns read. Arrow takes the first file's schema and
    would silently drop a column that only later files have, fill one they lack with nulls, or convert
    a timestamp to the first file's unit and time zone (shifting or re-zoning the others). Types that
    convert without loss (a null column, integer or float widths, string encodings) are accepted."""
    first, schemas = dataset.files[0], {}
    for file in dataset.files:
        try:
            schemas[file] = pq.read_schema(file, filesystem=fs)
        except (pa.ArrowInvalid, OSError) as e:
            raise DataError(f"input {path}: {file} is not a readable Parquet file ({_detail(e)})") from e
    wanted = set(columns) if columns is not None else None
    expected = {f.name: f.type for f in schemas[first] if wanted is None or f.name in wanted}
    for file in dataset.files[1:]:
        schema = schemas[file]
        for name, want in expected.items():
            if schema.get_field_index(name) < 0:
                raise DataError(f"input {path}: column '{name}' is in {first} but not in {file}: the schema "
                                f"changes between files; rewrite them alike, or leave it out with source.columns")
            have = schema.field(name).type
            if pa.types.is_timestamp(have) and pa.types.is_timestamp(want) and (
                    have.tz != want.tz or have.unit != want.unit):
                raise DataError(f"input {path}: column '{name}' is {have} in {file} but {want} in "
                                f"{first}; write every file with the same time zone and unit")
            if not _convertible(have, want):
                raise DataError(f"input {path}: column '{name}' is {have} in {file} but {want} in {first}: the "
                                f"schema changes between files; rewrite them with one type")
        if wanted is None:
            extra = [n for n in schema.names if n not in expected]
            if extra:
                raise DataError(f"input {path}: column '{extra[0]}' is in {file} but not in {first} (the first "
                                f"file), so it would be dropped: rewrite the files alike, or name the columns to "
                                f"read in source.columns")


def _convertible(have: pa.DataType, want: pa.DataType) -> bool:
    """Arrow reads `have` as `want` without loss or reinterpretation."""
    def kind(t: pa.DataType) -> str:
        if pa.types.is_dictionary(t):
            t = t.value_type
        for name, test in (("null", pa.types.is_null), ("int", pa.types.is_integer), ("float", pa.types.is_floating),
                           ("str", lambda x: pa.types.is_string(x) or pa.types.is_large_string(x)),
                           ("time", pa.types.is_timestamp)):
            if test(t):
                return name
        return str(t)

    have_kind, want_kind = kind(have), kind(want)
    return (have == want or "null" in (have_kind, want_kind) or have_kind == want_kind
            or (have_kind, want_kind) == ("int", "float"))
