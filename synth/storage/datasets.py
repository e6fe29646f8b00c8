"""Parquet datasets published at a URI: written atomically, whole or streamed, at once or staged for
later (locally one file replaced; on s3:// a new version and its pointer), and the current version read
back exactly. Inputs are opened by `synth.storage.sources`."""
from __future__ import annotations

import datetime as dt
import os
import tempfile
from contextlib import suppress
from pathlib import Path, PurePosixPath
from typing import Iterable

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from synth.errors import DataError
from synth.storage.locations import (_check_bucket, _is_gone, _local_path, _write_bytes, atomic_file, file_mode,
                                     is_remote, resolve, store_errors)
from synth.storage.versions import (KEEP_VERSIONS, MANIFEST, POINTER, POINTER_FORMAT, POINTER_RETRIES, VERSIONS,
                                    PublishedVersion, _encode_signed, _new_version_id, _now, _prefix, _published,
                                    _points_at, _prune_quietly, _read_pointer, _switch_pointer, _version_file)
from synth.tables import check_columns


def read_published(uri: str | os.PathLike, columns: list[str] | None = None) -> pa.Table:
    """The current published version, whole: the files its pointer names and no others (locally: the file).

    Raises:
        DataError: nothing is published there, or the store cannot be read.
    """
    if not is_remote(uri):
        path = _local_path(uri)
        if not os.path.isfile(path):
            raise DataError(f"{uri}: nothing published there (no such file)")
        return pq.read_table(path, columns=columns)
    uri = str(uri)
    fs, path = resolve(uri)
    with store_errors(uri, "published dataset"):
        return _read_current(fs, uri, path, columns)


def current_version(uri: str | os.PathLike) -> PublishedVersion | None:
    """What is published at `uri` now, or None when nothing is."""
    if not is_remote(uri):
        path = _local_path(uri)
        if not os.path.isfile(path):
            return None
        meta = pq.read_metadata(path)
        created = dt.datetime.fromtimestamp(os.path.getmtime(path), dt.timezone.utc).isoformat()
        path = str(Path(path))
        return PublishedVersion(path, None, (path,), meta.num_rows, created, read_metadata(path))
    fs, path = resolve(uri)
    with store_errors(str(uri), "published dataset"):
        pointer = _read_pointer(fs, _prefix(path))
    return None if pointer is None else _published(str(uri), pointer)


def _read_current(fs: pafs.FileSystem, uri: str, path: str, columns: list[str] | None) -> pa.Table:
    prefix, where = _prefix(path), f"published dataset {uri}"
    for _ in range(POINTER_RETRIES):
        pointer = _read_pointer(fs, prefix)
        if pointer is None:
            _check_bucket(fs, path, uri, "published dataset")
            raise DataError(f"{where}: nothing published there (no {POINTER} pointer)")
        try:
            dataset = _version_dataset(fs, prefix, pointer)
            check_columns(dataset.schema.names, columns, where)
            table = dataset.to_table(columns=columns)
        except OSError as e:
            if _is_gone(e):
                continue  # pruned between reading the pointer and the files: the pointer has moved on
            raise
        if table.num_rows != pointer["num_rows"]:
            raise DataError(f"{where}: version {pointer['version']} has {table.num_rows} rows, "
                            f"its pointer says {pointer['num_rows']}")
        return table
    raise DataError(f"{where}: the published version changed {POINTER_RETRIES} times while being read")


def publish_table(data: pa.Table | pa.RecordBatchReader | Iterable[pa.RecordBatch], uri: str | os.PathLike,
                  metadata: dict[str, str] | None = None, *, max_rows_per_file: int | None = None,
                  keep_versions: int | None = KEEP_VERSIONS) -> PublishedVersion:
    """Publish `data` at `uri` atomically: readers see the previous version or this one, never a mix.

    Locally, `uri` is one Parquet file replaced in place (written beside it, then renamed over it).
    On s3://, a new version is written, the pointer switched to it, and published versions beyond the
    newest `keep_versions` pruned (None: keep all). `metadata` goes into each file's key-value metadata.
    """
    if isinstance(data, pa.Table) and not is_remote(uri):
        path = str(_write_local(data, _local_path(uri), metadata))
        return PublishedVersion(path, None, (path,), data.num_rows, _now(), _strings(metadata))
    schema = getattr(data, "schema", None)  # a table's or a reader's; else the first batch's
    if isinstance(data, pa.Table):
        step = max_rows_per_file or max(data.num_rows, 1)
        data = [data.slice(start, step) for start in range(0, data.num_rows, step)]
    with open_writer(uri, schema, metadata, max_rows_per_file=max_rows_per_file,
                     keep_versions=keep_versions) as writer:
        for chunk in data:
            writer.write(chunk)
    return writer.published


def open_writer(uri: str | os.PathLike, schema: pa.Schema | None = None, metadata: dict[str, str] | None = None,
                *, max_rows_per_file: int | None = None, keep_versions: int | None = KEEP_VERSIONS,
                commit: bool = True, mode: int | None = None) -> DatasetWriter:
    """A context manager that streams record batches or tables into a new version of `uri`.

    A clean exit publishes it (`writer.published`); with `commit=False` it is only staged
    (`writer.staged`, a string) for `publish_staged` or `discard_staged` later, e.g. after a quality
    gate. An exception inside the block removes what was written; the published version is untouched.
    `schema` defaults to the first write's; each file carries it with `metadata` added. A local file gets
    `synth.storage.file_mode(mode)` (the umask's mode unless `mode` is given).
    """
    return DatasetWriter(str(uri), schema, _strings(metadata), max_rows_per_file, keep_versions, commit, mode)


def publish_staged(staged: str, uri: str | os.PathLike, *,
                   keep_versions: int | None = KEEP_VERSIONS) -> PublishedVersion:
    """Make a staged version (`DatasetWriter.staged`) the published one: locally rename the staged file
    over `uri`; on s3:// switch the pointer to it (again is harmless: a retried task), then prune."""
    if not is_remote(uri):
        path = str(Path(_local_path(uri)))
        os.replace(staged, path)
        meta = pq.read_metadata(path)
        return PublishedVersion(path, None, (path,), meta.num_rows, _now(), read_metadata(path))
    uri = str(uri)
    fs, path = resolve(uri)
    prefix, version_dir = _prefix(path), resolve(staged)[1]
    if PurePosixPath(version_dir).parent != PurePosixPath(prefix, VERSIONS):
        raise ValueError(f"{staged} is not a staged version of {uri}")
    with store_errors(uri, "output"):
        manifest = _switch_pointer(fs, prefix, version_dir, uri)
    _prune_quietly(uri, keep_versions)
    return _published(uri, manifest)


def discard_staged(staged: str) -> None:
    """Delete a staged version that will not be published (gone already is fine)."""
    fs, path = resolve(staged)
    with store_errors(staged, "output"):
        if isinstance(fs, pafs.LocalFileSystem):
            Path(path).unlink(missing_ok=True)
        elif fs.get_file_info(path).type != pafs.FileType.NotFound:
            fs.delete_dir(path)


class DatasetWriter:
    """Writes one new version: locally a temporary file beside the destination; on s3:// part files
    under `versions/<id>/` (a new one once a file holds `max_rows_per_file` rows) and a manifest."""

    def __init__(self, uri: str, schema: pa.Schema | None, metadata: dict[str, str], max_rows_per_file: int | None,
                 keep_versions: int | None, commit: bool, mode: int | None = None):
        self.uri = uri if is_remote(uri) else str(Path(_local_path(uri)))
        self.staged: str | None = None  # the staged file (local) or version URI (s3://), once closed
        self.published: PublishedVersion | None = None
        self.rows = 0
        self._fs, self._path = resolve(uri)
        self._remote = is_remote(uri)
        self._metadata = metadata
        self._schema = None if schema is None else stamped(schema, metadata)
        self._max_rows, self._keep, self._commit, self._mode = max_rows_per_file, keep_versions, commit, mode
        self._version = _new_version_id()
        self._files: list[str] = []  # names within the version (s3://) or the temporary path (local)
        self._file_rows = 0
        self._parquet: pq.ParquetWriter | None = None

    def write(self, data: pa.Table | pa.RecordBatch) -> None:
        """Append a table (a chunk: one row group up to 1Mi rows) or a record batch; its schema must be the
        first write's, metadata aside. On s3:// a new file starts once one holds `max_rows_per_file` rows."""
        table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
        if self._parquet is None or (self._remote and self._max_rows and self._file_rows >= self._max_rows):
            self._open_file(table.schema)
        with store_errors(self.uri, "output"):
            self._parquet.write_table(table)
        self.rows += table.num_rows
        self._file_rows += table.num_rows

    write_batch = write
    write_table = write

    def close(self) -> str:
        """Finish the files (nothing is visible yet); returns the staged handle."""
        if self._parquet is None:
            if self._schema is None:
                raise ValueError(f"output {self.uri}: nothing was written (and no schema to write an empty file)")
            self._open_file(self._schema)
        with store_errors(self.uri, "output"):
            self._parquet.close()
            if self._remote:
                manifest = {"format": POINTER_FORMAT, "version": self._version, "created_at": _now(),
                            "files": self._files, "num_rows": self.rows, "metadata": self._metadata}
                _write_bytes(self._fs, f"{self._version_dir()}/{MANIFEST}", _encode_signed(manifest))
        self.staged = f"s3://{self._version_dir()}" if self._remote else self._files[0]
        return self.staged

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            self._abort()
            return False
        try:
            self.close()
            if self._commit:
                self.published = publish_staged(self.staged, self.uri, keep_versions=self._keep)
        except BaseException:
            if not (self._remote and _points_at(self._fs, _prefix(self._path), self._version)):
                self._abort()  # unless the pointer already names this version: then its files must stay
            raise
        return False

    def _version_dir(self) -> str:
        return f"{_prefix(self._path)}/{VERSIONS}/{self._version}"

    def _open_file(self, schema: pa.Schema) -> None:
        if self._parquet is not None:
            with store_errors(self.uri, "output"):
                self._parquet.close()
        if self._schema is None:
            self._schema = stamped(schema, self._metadata)
        if self._remote:
            self._files.append(f"part-{len(self._files):05d}.parquet")
            target = f"{self._version_dir()}/{self._files[-1]}"
        else:
            folder = os.path.dirname(self._path)
            os.makedirs(folder, exist_ok=True)
            fd, target = tempfile.mkstemp(prefix=f".{os.path.basename(self._path)}.", suffix=".tmp", dir=folder)
            os.close(fd)
            os.chmod(target, file_mode(self._mode))  # mkstemp's 0o600 would stay with the published file
            self._files.append(target)
        with store_errors(self.uri, "output"):
            self._parquet = pq.ParquetWriter(target, self._schema, filesystem=self._fs)
        self._file_rows = 0

    def _abort(self) -> None:
        with suppress(Exception):
            self._parquet.close()
        with suppress(Exception):
            if self._remote:
                self._fs.delete_dir(self._version_dir())
            elif self._files:
                os.unlink(self._files[0])


def _version_dataset(fs: pafs.FileSystem, prefix: str, pointer: dict) -> ds.Dataset:
    files = [_version_file(prefix, pointer["version"], name) for name in pointer["files"]]
    return ds.dataset(files, filesystem=fs, format="parquet")  # these files only, never a listing


def _strings(metadata: dict | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (metadata or {}).items()}


def _write_local(table: pa.Table, path: str | os.PathLike, metadata: dict[str, str] | None) -> Path:
    """Write `table` to `path` so that a reader sees the old file or the new one, never a partial one
    (`atomic_file`: beside it, then renamed over it); `metadata` joins any the table already carries."""
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
    """The key-value metadata of a local Parquet file, decoded (Arrow's own keys left out)."""
    raw = pq.read_schema(path).metadata or {}
    return {k.decode(): v.decode() for k, v in raw.items() if not k.startswith(b"ARROW:")}
