"""Versions under a prefix and the pointer that names the current one: how it is switched, read
(checksummed, so a read torn by a concurrent replace is read again) and pruned; and whole folders
(checkpoints) copied in and out as versions."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import secrets
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pyarrow.fs as pafs

from synth.errors import DataError, SynthError
from synth.storage.locations import _check_bucket, _copy, _is_gone, _shown, _write_bytes, resolve, store_errors

POINTER = "_CURRENT"  # leading underscore: pyarrow.dataset skips it when a prefix is read as a dataset
VERSIONS = "versions"
MANIFEST = "_MANIFEST"  # in each version's folder: what the pointer will say once it is published
POINTER_FORMAT = 1
HISTORY = 20  # earlier published versions the pointer remembers, newest first (what pruning keeps)
KEEP_VERSIONS = 3  # published versions kept by default, the current one included
POINTER_RETRIES = 5  # re-reads of the pointer: torn by a concurrent replace, or its version pruned

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishedVersion:
    """One published version of a dataset or directory."""

    uri: str  # the dataset's (or directory's) URI, as given
    version: str | None  # version id; None for a local file, which is replaced in place
    files: tuple[str, ...]  # URIs (or local paths) of its files
    num_rows: int | None  # None for a directory
    created_at: str  # ISO 8601, UTC
    metadata: dict[str, str] = field(default_factory=dict)


def put_dir(local_dir: str | os.PathLike, uri: str | os.PathLike, *, keep_versions: int | None = 2) -> PublishedVersion:
    """Copy the files under `local_dir` to a new version at `uri` (local or s3://), then switch the pointer.

    Hidden entries (a name starting with ".", e.g. a checkpoint being written) are left out. A reader
    (`get_dir`) gets the previous copy or this one, whole. Versions beyond the newest `keep_versions`
    are pruned.
    """
    uri = str(uri)
    fs, path = resolve(uri)
    path = _prefix(path)
    root = Path(local_dir).resolve()
    names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                   if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts))
    version = _new_version_id()
    version_dir = f"{path}/{VERSIONS}/{version}"
    manifest = {"format": POINTER_FORMAT, "version": version, "created_at": _now(), "files": names,
                "num_rows": None, "metadata": {}}
    try:
        with store_errors(uri, "checkpoint"):
            for name in names:
                _copy(pafs.LocalFileSystem(), str(root / name), fs, f"{version_dir}/{name}")
            _write_bytes(fs, f"{version_dir}/{MANIFEST}", _encode_signed(manifest))
            manifest = _switch_pointer(fs, path, version_dir, uri)
    except BaseException:
        if not _points_at(fs, path, version):
            with suppress(Exception):
                fs.delete_dir(version_dir)
        raise
    _prune_quietly(uri, keep_versions)
    return _published(uri, manifest)


def get_dir(uri: str | os.PathLike, local_dir: str | os.PathLike) -> bool:
    """Copy the current version at `uri` into `local_dir` (created; files of the same name replaced,
    once all of one version have been fetched).

    Returns:
        False when nothing was ever put there, True once copied.
    """
    uri = str(uri)
    fs, path = resolve(uri)
    path = _prefix(path)
    root = Path(local_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    with store_errors(uri, "checkpoint"):
        for _ in range(POINTER_RETRIES):
            pointer = _read_pointer(fs, path)
            if pointer is None:
                _check_bucket(fs, path, uri, "checkpoint")
                return False
            names = [_safe_name(name, uri) for name in pointer["files"]]
            with tempfile.TemporaryDirectory(prefix=".get_dir-", dir=root) as staging:
                try:
                    for name in names:  # all of one version first, then into place
                        _copy(fs, _version_file(path, pointer["version"], name), pafs.LocalFileSystem(),
                              os.path.join(staging, name))
                except OSError as e:
                    if _is_gone(e):
                        continue  # pruned under us: read the new pointer
                    raise
                for name in names:
                    (root / name).parent.mkdir(parents=True, exist_ok=True)
                    os.replace(os.path.join(staging, name), root / name)
            return True
    raise DataError(f"checkpoint {uri}: the current version changed {POINTER_RETRIES} times while being read")


def list_versions(uri: str | os.PathLike) -> list[str]:
    """Version ids stored at `uri`, oldest first (committed or not); [] for a local file."""
    fs, path = resolve(uri)
    selector = pafs.FileSelector(f"{_prefix(path)}/{VERSIONS}", allow_not_found=True)
    with store_errors(str(uri), "versions of"):
        infos = fs.get_file_info(selector)
    return sorted(PurePosixPath(i.path).name for i in infos if i.type == pafs.FileType.Directory)


def prune_versions(uri: str | os.PathLike, keep: int = KEEP_VERSIONS) -> list[str]:
    """Delete the versions older than the current one but the `keep - 1` published last before it
    (staged versions never published go too). The current version and newer ones (a write in
    progress) are never touched. Returns the deleted ids.
    """
    if keep < 1:
        raise ValueError(f"keep={keep}: the current version is always kept (keep >= 1)")
    fs, path = resolve(uri)
    prefix = _prefix(path)
    with store_errors(str(uri), "versions of"):
        pointer = _read_signed(fs, f"{prefix}/{POINTER}")
        if pointer is None:
            return []
        kept = {pointer["version"], *pointer.get("history", [])[:keep - 1]}
        doomed = [v for v in list_versions(uri) if v < pointer["version"] and v not in kept]
        for version in doomed:
            fs.delete_dir(f"{prefix}/{VERSIONS}/{version}")
    return doomed


def remove_dir(uri: str | os.PathLike) -> None:
    """Delete what `put_dir` wrote at `uri`: its pointer first (readers then find nothing), then every
    version. Anything else under the prefix is left alone."""
    fs, path = resolve(uri)
    prefix = _prefix(path)
    with store_errors(str(uri), "versions of"):
        if fs.get_file_info(f"{prefix}/{POINTER}").type == pafs.FileType.File:
            fs.delete_file(f"{prefix}/{POINTER}")
        if fs.get_file_info(f"{prefix}/{VERSIONS}").type == pafs.FileType.Directory:
            fs.delete_dir(f"{prefix}/{VERSIONS}")


def _prefix(path: str) -> str:
    """Where a dataset's versions and pointer live: the path without a trailing `.parquet`."""
    path = path.rstrip("/")
    return path[: -len(".parquet")] if path.endswith(".parquet") else path


def _version_file(prefix: str, version: str, name: str) -> str:
    return f"{prefix}/{VERSIONS}/{version}/{name}"


def _new_version_id() -> str:
    # sorts by time (microseconds), random suffix so two writers never share one
    return f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(4)}"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


def _encode_signed(document: dict) -> bytes:
    body = json.dumps(document, sort_keys=True)
    return json.dumps({**document, "sha256": hashlib.sha256(body.encode()).hexdigest()}, indent=1).encode()


def _read_signed(fs: pafs.FileSystem, path: str) -> dict | None:
    """A pointer or manifest, or None when there is none. An object read while it is being replaced can
    come back torn (the SDK reads its size, then its bytes), so each carries its checksum and is read again."""
    for attempt in range(POINTER_RETRIES):
        try:
            with fs.open_input_stream(path) as f:
                raw = f.read()
        except FileNotFoundError:
            return None
        try:
            document = json.loads(raw)
            checksum = document.pop("sha256")
            if hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest() == checksum:
                break
        except (ValueError, AttributeError, KeyError):
            pass
        time.sleep(0.05 * (attempt + 1))
    else:
        raise DataError(f"{_shown(fs, path)}: not a valid version pointer (read {POINTER_RETRIES} times)")
    if document.get("format") != POINTER_FORMAT:
        raise DataError(f"{_shown(fs, path)}: unknown pointer format {document.get('format')!r}")
    return document


def _read_pointer(fs: pafs.FileSystem, prefix: str) -> dict | None:
    return _read_signed(fs, f"{prefix}/{POINTER}")


def _switch_pointer(fs: pafs.FileSystem, prefix: str, version_dir: str, uri: str) -> dict:
    """Point `prefix` at the version in `version_dir` (its manifest), remembering the one it replaces."""
    manifest = _read_signed(fs, f"{version_dir}/{MANIFEST}")
    if manifest is None:
        raise DataError(f"output {uri}: the staged version {_shown(fs, version_dir)} is gone (discarded or pruned)")
    previous = _read_pointer(fs, prefix)
    if previous is not None and previous["version"] != manifest["version"]:
        manifest["history"] = [previous["version"], *previous.get("history", [])][:HISTORY]
    elif previous is not None:
        manifest["history"] = previous.get("history", [])  # published again (a retried task): same history
    _write_bytes(fs, f"{prefix}/{POINTER}", _encode_signed(manifest))
    return manifest


def _points_at(fs: pafs.FileSystem, prefix: str, version: str) -> bool:
    """Whether the pointer names `version`; True when that cannot be told (then its files must stay)."""
    try:
        pointer = _read_pointer(fs, prefix)
    except Exception:  # noqa: BLE001 - unreadable now: keep the files rather than risk the current version's
        return True
    return pointer is not None and pointer["version"] == version


def _published(uri: str, pointer: dict) -> PublishedVersion:
    base = uri[: -len(".parquet")] if uri.endswith(".parquet") else uri.rstrip("/")
    files = tuple(_version_file(base, pointer["version"], name) for name in pointer["files"])
    return PublishedVersion(uri, pointer["version"], files, pointer["num_rows"], pointer["created_at"],
                            dict(pointer["metadata"]))


def _safe_name(name: str, uri: str) -> str:
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or ".." in parts:
        raise DataError(f"checkpoint {uri}: the pointer names an unsafe file {name!r}")
    return name


def _prune_quietly(uri: str, keep: int | None) -> None:
    if keep is None:
        return
    try:
        prune_versions(uri, keep)
    except (OSError, SynthError) as e:  # the new version is already current: pruning can wait for the next one
        log.warning("could not prune old versions of %s: %s", uri, e)

