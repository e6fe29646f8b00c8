"""synth.storage against a real S3-compatible server: moto in server mode, a child process on a free
loopback port, with dummy credentials from the environment (the AWS SDK's own chain, as in production).
"""
from __future__ import annotations

import json
import os
import threading
import time
import uuid

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from synth import storage
from synth.errors import DataError
from tests.support.servers import ACCESS_KEY, SECRET, free_port, s3_client_env, start_moto, stop
from tests.support.storage import read_all


def _table(version: int, rows: int) -> pa.Table:
    rng = np.random.default_rng(version)
    return pa.table({"version": pa.array(np.full(rows, version), pa.int64()),
                     "row": pa.array(np.arange(rows), pa.int64()),
                     "value": rng.normal(size=rows),
                     "label": pa.array(rng.choice(["a", "b", "c"], rows))})


def test_publish_and_read_round_trip(bucket):
    uri = f"s3://{bucket}/out/diamonds_synth.parquet"
    table = _table(1, 500)
    published = storage.publish_table(table, uri, {"prefect_synth.model_kind": "actgan"})
    assert published.num_rows == 500 and published.version
    assert published.files == (f"s3://{bucket}/out/diamonds_synth/versions/{published.version}/part-00000.parquet",)
    back = storage.read_published(uri)
    assert back.equals(table)
    assert back.schema.metadata[b"prefect_synth.model_kind"] == b"actgan"
    assert read_all(uri).equals(table)  # a published dataset read as a source: its current version
    assert storage.read_published(uri, columns=["label"]).column_names == ["label"]
    empty = storage.publish_table(table.slice(0, 0), f"s3://{bucket}/out/empty.parquet")
    assert empty.num_rows == 0 and storage.read_published(empty.uri).schema.equals(table.schema)
    assert storage.current_version(uri) == published
    pointer = json.loads(storage.read_bytes(f"s3://{bucket}/out/diamonds_synth/_CURRENT"))
    assert pointer["version"] == published.version and pointer["num_rows"] == 500
    assert pointer["files"] == ["part-00000.parquet"]
    assert pointer["metadata"] == {"prefect_synth.model_kind": "actgan"}


def test_streaming_writer_splits_files_and_commits_on_exit(bucket):
    uri = f"s3://{bucket}/stream.parquet"
    table = _table(2, 1000)
    with storage.open_writer(uri, table.schema, {"k": "v"}, max_rows_per_file=300) as writer:
        for batch in table.to_batches(max_chunksize=100):
            writer.write_batch(batch)
        assert storage.current_version(uri) is None  # nothing visible before the block ends
    assert len(writer.published.files) == 4  # 300 + 300 + 300 + 100 rows
    assert storage.read_published(uri).equals(table)


def test_reads_plain_parquet_file_and_hive_prefix(bucket):
    fs, _ = storage.resolve(f"s3://{bucket}")
    table = _table(3, 200)
    pq.write_table(table, f"{bucket}/raw/one.parquet", filesystem=fs)
    ds.write_dataset(table, f"{bucket}/raw/parts", filesystem=fs, format="parquet",
                     partitioning=ds.partitioning(pa.schema([("label", pa.string())]), flavor="hive"))
    assert read_all(f"s3://{bucket}/raw/one.parquet").equals(table)
    parts = read_all(f"s3://{bucket}/raw/parts/")
    assert parts.num_rows == 200 and sorted(parts.column("label").unique().to_pylist()) == ["a", "b", "c"]
    assert read_all(f"s3://{bucket}/raw/one.parquet", ["value"]).column_names == ["value"]
    with pytest.raises(DataError, match=r"s3://.*/raw/one.parquet: configured column\(s\) \['nope'\]"):
        read_all(f"s3://{bucket}/raw/one.parquet", ["nope"])
    source = storage.open_source(f"s3://{bucket}/raw/parts", ["row", "label"])  # streamed, batch by batch
    with storage.store_errors(f"s3://{bucket}/raw/parts", "input"):
        rows = sum(batch.num_rows for batch in source.batches(batch_rows=64))
    assert rows == 200


def test_readers_only_ever_see_a_whole_version(bucket):
    """A reader polling while versions of different sizes are published (and old ones pruned) sees
    each version whole: its row count, one version marker, its own rows, never a mix."""
    uri = f"s3://{bucket}/live/data.parquet"
    sizes = {1: 120, 2: 2600, 3: 700, 4: 1500, 5: 50, 6: 900}
    storage.publish_table(_table(0, 10), uri)
    seen: dict[int, int] = {}
    problems: list[str] = []
    done = threading.Event()

    def reader():
        while not done.is_set():
            try:
                table = storage.read_published(uri)
            except Exception as e:  # noqa: BLE001 - any failure is a finding
                problems.append(f"read failed: {e!r}")
                return
            markers = table.column("version").unique().to_pylist()
            expected = 10 if markers == [0] else sizes.get(markers[0]) if len(markers) == 1 else None
            rows = table.column("row").to_pylist()
            if expected is None or table.num_rows != expected or rows != list(range(expected)):
                problems.append(f"mixed or partial read: markers {markers}, {table.num_rows} rows")
                return
            seen[markers[0]] = seen.get(markers[0], 0) + 1

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for version, rows in sizes.items():
            # several files per version, and only two versions kept: pruning runs under the reader
            storage.publish_table(_table(version, rows), uri, max_rows_per_file=400, keep_versions=2)
            deadline = time.monotonic() + 30
            while version not in seen and not problems and time.monotonic() < deadline:
                time.sleep(0.01)  # let the reader see this version before the next one starts
        for version in [*sizes, *sizes]:  # then back to back: the reader's version is pruned under it
            storage.publish_table(_table(version, sizes[version]), uri, max_rows_per_file=400, keep_versions=2)
    finally:
        done.set()
        thread.join(60)
    assert not problems, problems
    assert set(sizes) <= set(seen)
    assert len(storage.list_versions(uri)) == 2


def test_failed_writer_leaves_the_current_version(bucket):
    uri = f"s3://{bucket}/out/x.parquet"
    first = storage.publish_table(_table(1, 300), uri)
    with pytest.raises(RuntimeError, match="sampler crashed"):
        with storage.open_writer(uri, _table(2, 1).schema, max_rows_per_file=100) as writer:
            for batch in _table(2, 1000).to_batches(max_chunksize=100)[:5]:
                writer.write_batch(batch)
            raise RuntimeError("sampler crashed")
    assert writer.published is None
    assert storage.read_published(uri).equals(_table(1, 300))
    assert storage.current_version(uri) == first
    assert storage.list_versions(uri) == [first.version]  # the aborted version's files are gone


def test_staged_version_is_published_or_discarded_later(bucket):
    """sample stages, the quality gate decides: publish_staged switches the pointer, discard_staged drops it."""
    uri = f"s3://{bucket}/gated.parquet"
    first = storage.publish_table(_table(1, 40), uri)
    with storage.open_writer(uri, metadata={"run": "2"}, commit=False) as writer:
        for chunk in (_table(2, 30), _table(2, 30)):
            writer.write(chunk)
    assert writer.published is None and writer.staged.startswith(f"s3://{bucket}/gated/versions/")
    assert storage.current_version(uri) == first and storage.read_published(uri).equals(_table(1, 40))
    published = storage.publish_staged(writer.staged, uri)
    assert published.num_rows == 60 and published.metadata == {"run": "2"}
    assert storage.publish_staged(writer.staged, uri) == published  # a retried publish task changes nothing
    assert storage.read_published(uri).column("version").unique().to_pylist() == [2]
    with storage.open_writer(uri, commit=False) as rejected:
        rejected.write(_table(3, 5))
    storage.discard_staged(rejected.staged)
    storage.discard_staged(rejected.staged)  # gone already is fine
    assert storage.list_versions(uri) == [first.version, published.version]
    with pytest.raises(DataError, match="is gone"):
        storage.publish_staged(rejected.staged, uri)
    with pytest.raises(ValueError, match="not a staged version"):
        storage.publish_staged(writer.staged, f"s3://{bucket}/other.parquet")


def test_prune_keeps_the_current_and_newer_versions(bucket):
    uri = f"s3://{bucket}/many.parquet"
    versions = [storage.publish_table(_table(i, 10 + i), uri, keep_versions=None).version for i in range(5)]
    assert storage.list_versions(uri) == versions
    fs, path = storage.resolve(f"s3://{bucket}/many/versions/99991231T000000000000Z-inflight/part-00000.parquet")
    with fs.open_output_stream(path) as f:  # a version still being written: newer than the current one
        f.write(b"partial")
    assert storage.prune_versions(uri, keep=2) == versions[:3]
    assert storage.list_versions(uri) == versions[3:] + ["99991231T000000000000Z-inflight"]
    assert storage.read_published(uri).equals(_table(4, 14))
    assert storage.prune_versions(uri, keep=1) == [versions[3]]
    with pytest.raises(ValueError, match="keep"):
        storage.prune_versions(uri, keep=0)
    with storage.open_writer(uri, commit=False) as abandoned:  # staged, never published nor discarded
        abandoned.write(_table(9, 3))
    newest = storage.publish_table(_table(5, 15), uri, keep_versions=None).version
    abandoned_id = abandoned.staged.rsplit("/", 1)[1]
    assert storage.prune_versions(uri, keep=2) == [abandoned_id]  # not one of the last two published
    assert storage.list_versions(uri)[:2] == [versions[4], newest]


def test_put_dir_get_dir_round_trip(bucket, tmp_path):
    from safetensors.numpy import save_file

    uri = f"s3://{bucket}/checkpoints/diamonds"
    assert storage.get_dir(uri, tmp_path / "none") is False
    source = tmp_path / "ckpt"
    (source / "critic").mkdir(parents=True)
    (source / "state.json").write_text(json.dumps({"epoch": 3}))
    save_file({"w": np.arange(12, dtype=np.float32).reshape(3, 4)}, source / "critic" / "weights.safetensors")
    first = storage.put_dir(source, uri)
    assert storage.get_dir(uri, tmp_path / "back") is True
    for name in ("state.json", "critic/weights.safetensors"):
        assert (tmp_path / "back" / name).read_bytes() == (source / name).read_bytes()
    (source / "state.json").write_text(json.dumps({"epoch": 4}))
    storage.put_dir(source, uri)
    storage.put_dir(source, uri)
    assert storage.get_dir(uri, tmp_path / "back") is True
    assert json.loads((tmp_path / "back" / "state.json").read_text()) == {"epoch": 4}
    assert first.version not in storage.list_versions(uri) and len(storage.list_versions(uri)) == 2


def test_missing_bucket_key_and_nothing_published(bucket):
    missing = f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/data.parquet"
    for call in (lambda: read_all(missing), lambda: storage.read_published(missing),
                 lambda: storage.publish_table(_table(1, 5), missing), lambda: storage.get_dir(missing, "/tmp/x")):
        with pytest.raises(DataError) as raised:
            call()
        assert missing in str(raised.value) and "no such bucket" in str(raised.value)
    with pytest.raises(DataError, match=rf"input s3://{bucket}/absent.parquet: no such file or directory"):
        read_all(f"s3://{bucket}/absent.parquet")
    with pytest.raises(DataError, match="nothing published there"):
        storage.read_published(f"s3://{bucket}/absent.parquet")
    assert storage.current_version(f"s3://{bucket}/absent.parquet") is None


def test_unreachable_endpoint_names_the_uri_not_the_secret(monkeypatch):
    s3_client_env(monkeypatch, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    uri = "s3://bucket/data.parquet"
    calls = {"read_all": lambda: read_all(uri), "read_published": lambda: storage.read_published(uri),
             "publish_table": lambda: storage.publish_table(_table(1, 5), uri),
             "put_dir": lambda: storage.put_dir(os.path.dirname(__file__), uri)}
    for attempts in (storage.locations.S3_MAX_ATTEMPTS, 1):  # as configured (the SDK retries, then gives up), then fast
        monkeypatch.setattr(storage.locations, "S3_MAX_ATTEMPTS", attempts)
        for name, call in calls.items():
            started = time.monotonic()
            with pytest.raises(DataError) as raised:
                call()
            message = str(raised.value)
            assert uri in message and "could not reach the S3 endpoint http://127.0.0.1" in message, (name, message)
            assert SECRET not in message and ACCESS_KEY not in message, (name, message)
            assert raised.value.__cause__ is None and raised.value.__suppress_context__
            assert time.monotonic() - started < 30, name
            if attempts > 1:
                break  # one call shows the retries end in bounded time; the rest run without them


def test_access_denied_names_the_uri_not_the_secret(tmp_path_factory, monkeypatch):
    endpoint, process = start_moto(tmp_path_factory, "moto-auth", INITIAL_NO_AUTH_ACTION_COUNT="0")  # IAM enforced
    try:
        s3_client_env(monkeypatch, endpoint)
        uri = "s3://locked/data.parquet"
        for call in (lambda: read_all(uri), lambda: storage.publish_table(_table(1, 5), uri)):
            with pytest.raises(DataError) as raised:
                call()
            message = str(raised.value)
            assert uri in message and "access denied" in message, message
            assert SECRET not in message
    finally:
        stop(process)
