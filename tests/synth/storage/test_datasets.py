"""Publishing on local paths (`synth.storage.datasets`, no server): one file replaced atomically, at
once or streamed, staged and published later. The s3:// side runs against a real S3-compatible server
in tests/servers/test_s3.py."""
from __future__ import annotations

import os

import pyarrow.parquet as pq
import pytest

from synth import storage
from synth.errors import DataError
from tests.support.storage import id_table, version_table


def test_local_publish_is_todays_atomic_file(tmp_path):
    path = tmp_path / "out" / "x.parquet"
    published = storage.publish_table(version_table(1, 50), str(path), {"prefect_synth.model_kind": "actgan"})
    assert published.uri == str(path)  # the path as given, as a string
    assert published.version is None and published.files == (str(path),) and published.num_rows == 50
    assert pq.read_table(path).equals(version_table(1, 50)) and os.listdir(path.parent) == ["x.parquet"]
    assert storage.read_metadata(path)["prefect_synth.model_kind"] == "actgan"
    storage.publish_table(version_table(2, 70), path)
    assert pq.read_table(path).equals(version_table(2, 70)) and os.listdir(path.parent) == ["x.parquet"]
    assert storage.read_published(path).equals(version_table(2, 70))
    assert storage.current_version(path).num_rows == 70 and storage.current_version(tmp_path / "no.parquet") is None
    assert storage.list_versions(path) == [] and storage.prune_versions(path) == []


def test_local_writer_replaces_the_file_on_a_clean_exit_only(tmp_path):
    path = tmp_path / "x.parquet"
    storage.publish_table(version_table(1, 30), path)
    with pytest.raises(RuntimeError, match="boom"):
        with storage.open_writer(path, version_table(2, 1).schema, {"k": "v"}) as writer:
            writer.write_table(version_table(2, 500))
            raise RuntimeError("boom")
    assert pq.read_table(path).equals(version_table(1, 30)) and os.listdir(tmp_path) == ["x.parquet"]
    with storage.open_writer(path, version_table(2, 1).schema, {"k": "v"}) as writer:
        for batch in version_table(2, 500).to_batches(max_chunksize=64):
            writer.write_batch(batch)
    assert writer.published.num_rows == 500 and pq.read_table(path).equals(version_table(2, 500))
    assert storage.read_metadata(path)["k"] == "v" and os.listdir(tmp_path) == ["x.parquet"]
    storage.publish_table(iter(version_table(3, 40).to_batches(max_chunksize=7)), path)
    assert pq.read_table(path).equals(version_table(3, 40))


def test_local_staged_file_is_renamed_over_the_output_later(tmp_path):
    path = tmp_path / "x.parquet"
    storage.publish_table(version_table(1, 30), path)
    with storage.open_writer(path, metadata={"k": "v"}, commit=False) as writer:
        writer.write(version_table(2, 20))
        writer.write(version_table(2, 5))
    assert os.path.dirname(writer.staged) == str(tmp_path) and os.path.basename(writer.staged).startswith(".x.parquet.")
    assert pq.read_table(path).equals(version_table(1, 30))
    published = storage.publish_staged(writer.staged, path)
    assert published.num_rows == 25 and published.metadata == {"k": "v"} and os.listdir(tmp_path) == ["x.parquet"]
    with storage.open_writer(path, commit=False) as rejected:
        rejected.write(version_table(3, 5))
    storage.discard_staged(rejected.staged)
    assert os.listdir(tmp_path) == ["x.parquet"] and pq.read_table(path).num_rows == 25
    with pytest.raises(ValueError, match="nothing was written"):
        with storage.open_writer(path):
            pass


def test_local_read_published_is_the_file(tmp_path):
    with pytest.raises(DataError, match="nothing published there"):
        storage.read_published(tmp_path / "missing.parquet")


def test_atomic_write_keeps_metadata_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "out" / "synthetic.parquet"
    table = id_table().replace_schema_metadata({"source": "unit-test"})
    storage.publish_table(table, path, metadata={"model_uri": "runs:/abc/model", "rows": 6})
    assert storage.read_metadata(path) == {"source": "unit-test", "model_uri": "runs:/abc/model", "rows": "6"}
    assert pq.read_table(path).select(["id", "score", "region"]).equals(id_table())
    assert os.listdir(path.parent) == ["synthetic.parquet"]


def test_failed_write_leaves_the_existing_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "synthetic.parquet"
    storage.publish_table(id_table(), path, metadata={"version": "1"})
    before = path.read_bytes()

    def write_half_then_fail(table, where, **kwargs):
        with open(where, "wb") as f:
            f.write(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        storage.publish_table(id_table(100), path, metadata={"version": "2"})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert storage.read_metadata(path)["version"] == "1"
    assert os.listdir(tmp_path) == ["synthetic.parquet"]  # the temporary file is gone too
