"""Reading inputs (`synth.storage.sources`): files, directories and hive partitions; clear errors."""
from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from synth import storage
from synth.errors import DataError
from tests.support.storage import id_table, read_all, version_table


def test_read_a_file_with_column_selection(tmp_path):
    path = tmp_path / "data.parquet"
    pq.write_table(id_table(), path)
    assert read_all(path).equals(id_table())
    assert read_all(path, columns=["score", "id"]).column_names == ["score", "id"]


def test_read_a_directory_of_files(tmp_path):
    pq.write_table(id_table(0), tmp_path / "part-0.parquet")
    pq.write_table(id_table(6), tmp_path / "part-1.parquet")
    table = read_all(tmp_path)
    assert table.num_rows == 12
    assert sorted(table.column("id").to_pylist()) == list(range(12))


def test_read_hive_partitions_as_a_column(tmp_path):
    pq.write_to_dataset(id_table(), tmp_path / "data", partition_cols=["region"])
    assert (tmp_path / "data" / "region=north").is_dir()
    table = read_all(tmp_path / "data")
    assert set(table.column_names) == {"id", "score", "region"}
    north = {r["id"] for r in table.to_pylist() if r["region"] == "north"}
    assert north == {0, 2, 4}
    assert read_all(tmp_path / "data", columns=["region"]).num_rows == 6


def test_missing_path_is_a_data_error_naming_it(tmp_path):
    path = tmp_path / "nowhere.parquet"
    with pytest.raises(DataError, match="nowhere.parquet"):
        read_all(path)


@pytest.mark.parametrize("as_directory", [False, True])
def test_non_parquet_is_a_data_error_naming_the_path(tmp_path, as_directory):
    folder = tmp_path / "input"
    folder.mkdir()
    path = folder / "data.parquet"
    path.write_text("id,score\n1,2.0\n")  # a CSV in disguise
    target = folder if as_directory else path
    with pytest.raises(DataError, match=str(target)):
        read_all(target)


def test_zero_rows_is_a_data_error(tmp_path):
    path = tmp_path / "empty.parquet"
    pq.write_table(id_table().slice(0, 0), path)
    with pytest.raises(DataError, match=f"{path}.*zero rows"):
        read_all(path)


def test_missing_configured_column_is_a_data_error_naming_it(tmp_path):
    path = tmp_path / "data.parquet"
    pq.write_table(id_table(), path)
    with pytest.raises(DataError, match=f"{path}.*'income'"):
        read_all(path, columns=["id", "income"])


def test_local_sources_open_files_and_stream_hive_partitions(tmp_path):
    with pytest.raises(DataError, match="no such file or directory"):
        read_all(tmp_path / "missing.parquet")
    pq.write_table(version_table(1, 10), tmp_path / "x.parquet")
    assert read_all(tmp_path / "x.parquet", ["value"]).equals(version_table(1, 10).select(["value"]))
    pq.write_to_dataset(version_table(2, 30), tmp_path / "parts", partition_cols=["version"])
    source = storage.open_source(tmp_path / "parts", ["value", "version"])
    assert sum(b.num_rows for b in source.batches(batch_rows=8)) == 30
    with pytest.raises(DataError, match="parts: configured column"):
        storage.open_source(tmp_path / "parts", ["nope"]).dataset()
