"""Where a URI points: the filesystem and path behind a local path or s3:// URI, configured from the
environment, and how an object store's failures become DataErrors that never carry a credential."""
from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pyarrow.fs as pafs

from synth.errors import ConfigError, DataError, StorageUnavailable, SynthError

S3_MAX_ATTEMPTS = 3  # the SDK retries throttling and dropped connections itself, with backoff
_SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID")
_COPY_CHUNK = 8 << 20


def is_remote(uri: str | os.PathLike) -> bool:
    """True for an s3:// URI, False for a local path (or file:// URI)."""
    return _scheme(str(uri)) == "s3"


def resolve(uri: str | os.PathLike) -> tuple[pafs.FileSystem, str]:
    """The filesystem and the path within it: `("bucket/key", S3)` for s3://, an absolute path locally.

    Raises:
        ConfigError: an unsupported scheme, no bucket, or options/credentials written into the URI.
    """
    uri = str(uri)
    scheme = _scheme(uri)
    if scheme == "":
        return pafs.LocalFileSystem(), os.path.abspath(uri)
    if scheme == "file":
        return pafs.LocalFileSystem(), os.path.abspath(urlsplit(uri).path)
    if scheme != "s3":
        raise ConfigError(f"{_redacted(uri)}: unsupported scheme '{scheme}://' (use a local path or s3://bucket/key)")
    parts = urlsplit(uri)
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ConfigError(f"{_redacted(uri)}: options and credentials do not belong in the URI; "
                          "set them in the environment (AWS_* variables)")
    if not parts.netloc:
        raise ConfigError(f"{uri}: no bucket (expected s3://bucket/key)")
    return s3_filesystem(), f"{parts.netloc}/{parts.path.lstrip('/')}".rstrip("/")


def s3_filesystem() -> pafs.S3FileSystem:
    """An S3 filesystem configured from the environment (see the module docstring)."""
    options: dict = {"retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=S3_MAX_ATTEMPTS)}
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        options["region"] = region
    endpoint = _endpoint()
    if endpoint:
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        options["endpoint_override"] = parts.netloc.rpartition("@")[2] + parts.path.rstrip("/")
        options["scheme"] = parts.scheme
    return pafs.S3FileSystem(**options)


@contextmanager
def store_errors(uri: str, doing: str) -> Iterator[None]:
    """Inside it, an object store's OSError becomes a DataError "<doing> <uri>: <reason> (<detail>)":
    no such bucket, file or prefix; access denied; or, as StorageUnavailable (which retries honour),
    endpoint unreachable or another storage error. Credentials are scrubbed from the detail and the
    original is dropped from the chain. A local path's errors pass unchanged."""
    try:
        yield
    except SynthError:
        raise
    except OSError as e:
        if not is_remote(uri):
            if e.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left on device" in str(e):
                raise DataError(f"{doing} {uri}: {_no_space(uri)}") from None
            raise  # local errors stay what they always were (and retryable by the tasks)
        text = str(e)
        error = DataError  # the user's to fix: no such bucket, file or prefix; access denied
        if isinstance(e, FileNotFoundError):
            reason = "no such file or prefix"
        elif re.search(r"NO_SUCH_BUCKET|NoSuchBucket|bucket does not exist", text, re.I):
            reason = "no such bucket"
        elif re.search(r"ACCESS_DENIED|AccessDenied|Access Denied|InvalidAccessKeyId|SignatureDoesNotMatch|"
                       r"INVALID_ACCESS_KEY_ID|SIGNATURE_DOES_NOT_MATCH|\b403\b|Forbidden", text):
            # ("Access Denied": a multi-object delete's per-key refusals, listed below its first line)
            reason = "access denied (check the credentials and permissions in the environment)"
        elif re.search(r"NETWORK_CONNECTION|curlCode|Could not (connect|resolve)|timed out", text, re.I):
            reason, error = f"could not reach the S3 endpoint {_endpoint_shown()}", StorageUnavailable
        else:  # a server error, a dropped connection: maybe gone on the next try
            reason, error = "storage error", StorageUnavailable
        raise error(f"{doing} {uri}: {reason} ({_detail(e)})") from None


def _no_space(uri: str) -> str:
    """Where the space ran out, and how much there is now (what was staged is removed by the caller)."""
    folder = Path(_local_path(uri)).parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        usage = shutil.disk_usage(folder)
        room = f"{usage.free / 2**20:.1f} MiB free of {usage.total / 2**20:.1f} MiB"
    except OSError:
        room = "free space unknown"
    return f"no space left on the device holding {folder} ({room} now); free some space there or write elsewhere"


def beside(uri: str | os.PathLike, suffix: str) -> str:
    """What belongs beside an output: its name without `.parquet`, plus `suffix`, in the same folder (or
    under the same prefix): `s3://b/out/x.parquet`, ".report" -> `s3://b/out/x.report`."""
    uri = str(uri).rstrip("/")
    folder, _, name = uri.rpartition("/")
    name = (name[: -len(".parquet")] if name.endswith(".parquet") else name) + suffix
    return f"{folder}/{name}" if is_remote(uri) else str(Path(_local_path(uri)).with_name(name))


def exists(uri: str | os.PathLike) -> bool:
    """Whether a file (or, on s3://, an object) is at `uri`."""
    fs, path = resolve(uri)
    with store_errors(str(uri), "file"):
        return fs.get_file_info(path).type == pafs.FileType.File


def check_writable(uri: str | os.PathLike, what: str = "output") -> None:
    """DataError naming the cause unless an object can be written beside `uri` (s3://: a probe object is
    written and deleted: no such bucket, access denied and an unreachable endpoint are found now);
    `what` the location is, in the message."""
    fs, path = resolve(uri)
    probe = f"{path.rpartition('/')[0]}/.prefect-synth-check-{os.urandom(6).hex()}"
    with store_errors(str(uri), what):
        _check_bucket(fs, path, str(uri), what)
        with fs.open_output_stream(probe) as f:
            f.write(b"")
        fs.delete_file(probe)


def read_bytes(uri: str | os.PathLike) -> bytes | None:
    """A small file's contents (a contract, a pointer), or None when it does not exist."""
    fs, path = resolve(uri)
    with store_errors(str(uri), "file"):
        try:
            with fs.open_input_stream(path) as f:
                return f.read()
        except FileNotFoundError:
            _check_bucket(fs, path, str(uri), "file")
            return None


def write_bytes(uri: str | os.PathLike, data: bytes, mode: int | None = None) -> None:
    """Replace a small file atomically (local: temporary file + rename, with `file_mode(mode)`; s3://: one PUT)."""
    fs, path = resolve(uri)
    with store_errors(str(uri), "file"):
        _write_bytes(fs, path, data, mode)


def _scheme(uri: str) -> str:
    match = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", uri)  # needs "://": C:\data is a local path
    return match.group(1).lower() if match else ""


def _local_path(uri: str | os.PathLike) -> str:
    return os.path.abspath(urlsplit(str(uri)).path) if _scheme(str(uri)) == "file" else str(uri)


def file_mode(mode: int | None = None) -> int:
    """The permission bits a published local file gets: `mode` when given, else what a plain `open(path, "w")`
    would give under the process's umask (0o644 under the usual 0022). Temporary files are made with
    0o600, so every writer sets this before renaming one into place."""
    return mode if mode is not None else 0o666 & ~_umask()


def set_mode(uri: str | os.PathLike, mode: int | None = None) -> None:
    """Give a local file `file_mode(mode)`; an s3:// object has no mode (bucket policies decide)."""
    if not is_remote(uri):
        os.chmod(_local_path(uri), file_mode(mode))


def _umask() -> int:
    try:  # Linux states it without changing it (os.umask would, for a moment, for every thread)
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


@contextmanager
def atomic_file(path: str | os.PathLike, mode: int | None = None, durable: bool = False) -> Iterator[str]:
    """The one way a local file is replaced: write to the yielded temporary path beside `path`; a clean
    exit renames it over `path` (atomic on POSIX: readers see the old file or the new one), with
    `file_mode(mode)` and, if `durable`, fsynced with its folder first. An exception removes it.
    Object stores need none of this: one PUT is visible whole or not at all."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, file_mode(mode))  # as a plain open() would make it, not mkstemp's 0o600
        if durable:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_bytes(fs: pafs.FileSystem, path: str, data: bytes, mode: int | None = None) -> None:
    if isinstance(fs, pafs.LocalFileSystem):
        with atomic_file(path, mode) as tmp:
            Path(tmp).write_bytes(data)
        return
    with fs.open_output_stream(path) as f:  # one object, visible whole or not at all
        f.write(data)


def _copy(src_fs: pafs.FileSystem, src: str, dst_fs: pafs.FileSystem, dst: str) -> None:
    if isinstance(dst_fs, pafs.LocalFileSystem):
        os.makedirs(os.path.dirname(dst), exist_ok=True)
    with src_fs.open_input_stream(src) as source, dst_fs.open_output_stream(dst) as target:
        shutil.copyfileobj(source, target, _COPY_CHUNK)


def _is_gone(e: OSError) -> bool:
    """A file deleted before (FileNotFoundError) or while (the SDK's not-found) it was read."""
    return isinstance(e, FileNotFoundError) or bool(re.search(r"RESOURCE_NOT_FOUND|NoSuchKey|NO_SUCH_KEY", str(e)))


def _check_bucket(fs: pafs.FileSystem, path: str, uri: str, doing: str) -> None:
    if isinstance(fs, pafs.S3FileSystem):
        bucket = path.split("/", 1)[0]
        if fs.get_file_info(bucket).type == pafs.FileType.NotFound:
            raise DataError(f"{doing} {uri}: no such bucket '{bucket}'")


def _detail(e: Exception) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    for name in _SECRET_ENV:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return text


def _endpoint() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


def _endpoint_shown() -> str:
    endpoint = _endpoint()
    if not endpoint:
        return "(AWS default)"
    parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _shown(fs: pafs.FileSystem, path: str) -> str:
    return f"s3://{path}" if isinstance(fs, pafs.S3FileSystem) else path


def _redacted(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"

