"""synth.storage on local paths (no server): today's behaviour kept, URIs parsed, versioned folders.
The s3:// side runs against a real S3-compatible server in tests/servers/test_s3.py."""
from __future__ import annotations

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from synth import io, storage
from synth.errors import ConfigError, DataError


def _table(version: int, rows: int) -> pa.Table:
    return pa.table({"version": pa.array(np.full(rows, version), pa.int64()),
                     "value": np.random.default_rng(version).normal(size=rows)})


@pytest.fixture
def aws_env(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def _s3_options(fs: pafs.S3FileSystem) -> dict:
    return fs.__reduce__()[1][0]


def test_resolve_local_paths_and_file_uris(tmp_path):
    fs, path = storage.resolve(tmp_path / "out" / "x.parquet")
    assert isinstance(fs, pafs.LocalFileSystem) and path == str(tmp_path / "out" / "x.parquet")
    assert storage.resolve(f"file://{tmp_path}/x.parquet")[1] == str(tmp_path / "x.parquet")
    assert storage.resolve("relative/x.parquet")[1] == os.path.abspath("relative/x.parquet")
    assert not storage.is_remote(tmp_path) and storage.is_remote("s3://bucket/key") and storage.is_remote("S3://b/k")


def test_resolve_s3_takes_endpoint_and_region_from_the_environment(aws_env):
    aws_env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    aws_env.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    fs, path = storage.resolve("s3://bucket/out/x.parquet")
    assert path == "bucket/out/x.parquet"
    options = _s3_options(fs)
    assert (options["endpoint_override"], options["scheme"]) == ("127.0.0.1:9000", "http")
    assert options["region"] == "eu-west-1"
    aws_env.setenv("AWS_ENDPOINT_URL_S3", "https://minio.internal:9443")  # the S3-specific one wins
    options = _s3_options(storage.resolve("s3://bucket/")[0])
    assert (options["endpoint_override"], options["scheme"]) == ("minio.internal:9443", "https")
    assert storage.resolve("s3://bucket/")[1] == "bucket"


def test_resolve_refuses_other_schemes_and_credentials_in_the_uri(aws_env):
    with pytest.raises(ConfigError, match=r"unsupported scheme 'gs://'"):
        storage.resolve("gs://bucket/x.parquet")
    with pytest.raises(ConfigError, match="no bucket"):
        storage.resolve("s3:///x.parquet")
    for uri in ("s3://bucket/x.parquet?secret_key=hunter22", "s3://AKIA:hunter22@bucket/x.parquet"):
        with pytest.raises(ConfigError, match="do not belong in the URI") as raised:
            storage.resolve(uri)
        assert "hunter22" not in str(raised.value)


def test_local_publish_is_todays_atomic_file(tmp_path):
    path = tmp_path / "out" / "x.parquet"
    published = storage.publish_table(_table(1, 50), str(path), {"prefect_synth.model_kind": "actgan"})
    assert published.uri == str(path)  # what the publish task returns today: str(write_parquet_atomic(...))
    assert published.version is None and published.files == (str(path),) and published.num_rows == 50
    assert pq.read_table(path).equals(_table(1, 50)) and os.listdir(path.parent) == ["x.parquet"]
    assert io.read_metadata(path)["prefect_synth.model_kind"] == "actgan"
    storage.publish_table(_table(2, 70), path)
    assert pq.read_table(path).equals(_table(2, 70)) and os.listdir(path.parent) == ["x.parquet"]
    assert storage.read_published(path).equals(_table(2, 70))
    assert storage.current_version(path).num_rows == 70 and storage.current_version(tmp_path / "no.parquet") is None
    assert storage.list_versions(path) == [] and storage.prune_versions(path) == []


def test_local_writer_replaces_the_file_on_a_clean_exit_only(tmp_path):
    path = tmp_path / "x.parquet"
    storage.publish_table(_table(1, 30), path)
    with pytest.raises(RuntimeError, match="boom"):
        with storage.open_writer(path, _table(2, 1).schema, {"k": "v"}) as writer:
            writer.write_table(_table(2, 500))
            raise RuntimeError("boom")
    assert pq.read_table(path).equals(_table(1, 30)) and os.listdir(tmp_path) == ["x.parquet"]
    with storage.open_writer(path, _table(2, 1).schema, {"k": "v"}) as writer:
        for batch in _table(2, 500).to_batches(max_chunksize=64):
            writer.write_batch(batch)
    assert writer.published.num_rows == 500 and pq.read_table(path).equals(_table(2, 500))
    assert io.read_metadata(path)["k"] == "v" and os.listdir(tmp_path) == ["x.parquet"]
    storage.publish_table(iter(_table(3, 40).to_batches(max_chunksize=7)), path)
    assert pq.read_table(path).equals(_table(3, 40))


def test_local_staged_file_is_renamed_over_the_output_later(tmp_path):
    path = tmp_path / "x.parquet"
    storage.publish_table(_table(1, 30), path)
    with storage.open_writer(path, metadata={"k": "v"}, commit=False) as writer:
        writer.write(_table(2, 20))
        writer.write(_table(2, 5))
    assert os.path.dirname(writer.staged) == str(tmp_path) and os.path.basename(writer.staged).startswith(".x.parquet.")
    assert pq.read_table(path).equals(_table(1, 30))
    published = storage.publish_staged(writer.staged, path)
    assert published.num_rows == 25 and published.metadata == {"k": "v"} and os.listdir(tmp_path) == ["x.parquet"]
    with storage.open_writer(path, commit=False) as rejected:
        rejected.write(_table(3, 5))
    storage.discard_staged(rejected.staged)
    assert os.listdir(tmp_path) == ["x.parquet"] and pq.read_table(path).num_rows == 25
    with pytest.raises(ValueError, match="nothing was written"):
        with storage.open_writer(path):
            pass


def test_local_read_table_is_synth_io(tmp_path):
    with pytest.raises(DataError, match="no such file or directory"):
        storage.read_table(tmp_path / "missing.parquet")
    pq.write_table(_table(1, 10), tmp_path / "x.parquet")
    assert storage.read_table(tmp_path / "x.parquet", ["value"]).equals(_table(1, 10).select(["value"]))
    with pytest.raises(DataError, match="nothing published there"):
        storage.read_published(tmp_path / "missing.parquet")
    pq.write_to_dataset(_table(2, 30), tmp_path / "parts", partition_cols=["version"])
    dataset = storage.open_dataset(tmp_path / "parts", ["value", "version"])
    assert sum(b.num_rows for b in dataset.to_batches(batch_size=8)) == 30
    with pytest.raises(DataError, match="parts: configured column"):
        storage.open_dataset(tmp_path / "parts", ["nope"])


def test_put_dir_get_dir_locally(tmp_path):
    uri = str(tmp_path / "checkpoints" / "run")
    assert storage.get_dir(uri, tmp_path / "back") is False
    source = tmp_path / "ckpt"
    (source / "sub").mkdir(parents=True)
    (source / "state.json").write_text('{"epoch": 1}')
    (source / "sub" / "weights.safetensors").write_bytes(b"\x00\x01" * 100)
    (source / ".epoch-000004.tmp").mkdir()  # a checkpoint still being written: left out
    (source / ".epoch-000004.tmp" / "state.json").write_text("{}")
    versions = [storage.put_dir(source, uri).version]
    assert storage.get_dir(uri, tmp_path / "back") is True
    assert (tmp_path / "back" / "sub" / "weights.safetensors").read_bytes() == b"\x00\x01" * 100
    for epoch in (2, 3):
        (source / "state.json").write_text(f'{{"epoch": {epoch}}}')
        versions.append(storage.put_dir(source, uri).version)
    assert storage.get_dir(uri, tmp_path / "back") is True
    assert json.loads((tmp_path / "back" / "state.json").read_text()) == {"epoch": 3}
    assert storage.list_versions(uri) == versions[1:]  # keep_versions=2
    assert not [p for p in (tmp_path / "back").iterdir() if p.name.startswith(".")]  # no hidden entry, no staging


def test_a_torn_or_foreign_pointer_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(storage.versions, "POINTER_RETRIES", 2)
    uri = str(tmp_path / "ckpt")
    storage.put_dir(tmp_path, uri)
    pointer_path = tmp_path / "ckpt" / storage.POINTER
    pointer = json.loads(pointer_path.read_text())
    pointer["files"] = ["other.bin"]  # bytes of another write: the checksum no longer matches
    pointer_path.write_text(json.dumps(pointer))
    with pytest.raises(DataError, match="not a valid version pointer"):
        storage.get_dir(uri, tmp_path / "back")
    pointer_path.write_text('{"format": 1, "version": "x", "files": [')
    with pytest.raises(DataError, match="not a valid version pointer"):
        storage.get_dir(uri, tmp_path / "back")


def test_a_version_pruned_under_a_reader_is_read_again(tmp_path, monkeypatch):
    """A reader holding a pointer whose files were pruned reads the pointer again (never a mix)."""
    uri = str(tmp_path / "ckpt")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("old")
    stale = storage.versions._read_pointer(pafs.LocalFileSystem(), uri)
    assert stale is None
    storage.put_dir(tmp_path / "src", uri, keep_versions=None)
    stale = storage.versions._read_pointer(pafs.LocalFileSystem(), uri)
    (tmp_path / "src" / "a.txt").write_text("new")
    storage.put_dir(tmp_path / "src", uri, keep_versions=1)  # prunes the stale version's files
    real, calls = storage.versions._read_pointer, []

    def stale_first(fs, prefix):
        calls.append(prefix)
        return stale if len(calls) == 1 else real(fs, prefix)

    monkeypatch.setattr(storage.versions, "_read_pointer", stale_first)
    assert storage.get_dir(uri, tmp_path / "back") is True
    assert (tmp_path / "back" / "a.txt").read_text() == "new" and len(calls) == 2


def test_store_errors_name_the_uri_and_never_a_credential(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-value-123")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://user:pw@127.0.0.1:9")
    with pytest.raises(DataError) as raised:
        with storage.store_errors("s3://b/x.parquet", "output"):
            raise OSError("AWS Error NETWORK_CONNECTION: signing with s3cr3t-value-123 failed")
    message = str(raised.value)
    assert message.startswith("output s3://b/x.parquet: could not reach the S3 endpoint http://127.0.0.1:9")
    assert "s3cr3t-value-123" not in message and "pw" not in message and "***" in message
    assert storage.locations._is_gone(OSError("AWS Error RESOURCE_NOT_FOUND during GetObject operation: "))
    with pytest.raises(PermissionError):  # a local path's errors stay as they were
        with storage.store_errors("out/x.parquet", "output"):
            raise PermissionError("denied")
