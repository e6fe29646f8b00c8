"""Parquet I/O: reading files, directories and hive partitions; clear errors; atomic publishing."""
from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synth.errors import DataError
from synth.io import check_trainable, read_metadata, read_table, write_parquet_atomic
from synth.schema import ColumnKind, schema_specs


def _table(start: int = 0, rows: int = 6) -> pa.Table:
    ids = list(range(start, start + rows))
    return pa.table({"id": ids, "score": [i / 2 for i in ids], "region": ["north", "south"] * (rows // 2)})


def test_read_a_file_with_column_selection(tmp_path):
    path = tmp_path / "data.parquet"
    pq.write_table(_table(), path)
    assert read_table(path).equals(_table())
    assert read_table(path, columns=["score", "id"]).column_names == ["score", "id"]


def test_read_a_directory_of_files(tmp_path):
    pq.write_table(_table(0), tmp_path / "part-0.parquet")
    pq.write_table(_table(6), tmp_path / "part-1.parquet")
    table = read_table(tmp_path)
    assert table.num_rows == 12
    assert sorted(table.column("id").to_pylist()) == list(range(12))


def test_read_hive_partitions_as_a_column(tmp_path):
    pq.write_to_dataset(_table(), tmp_path / "data", partition_cols=["region"])
    assert (tmp_path / "data" / "region=north").is_dir()
    table = read_table(tmp_path / "data")
    assert set(table.column_names) == {"id", "score", "region"}
    north = {r["id"] for r in table.to_pylist() if r["region"] == "north"}
    assert north == {0, 2, 4}
    assert read_table(tmp_path / "data", columns=["region"]).num_rows == 6


def test_missing_path_is_a_data_error_naming_it(tmp_path):
    path = tmp_path / "nowhere.parquet"
    with pytest.raises(DataError, match="nowhere.parquet"):
        read_table(path)


@pytest.mark.parametrize("as_directory", [False, True])
def test_non_parquet_is_a_data_error_naming_the_path(tmp_path, as_directory):
    folder = tmp_path / "input"
    folder.mkdir()
    path = folder / "data.parquet"
    path.write_text("id,score\n1,2.0\n")  # a CSV in disguise
    target = folder if as_directory else path
    with pytest.raises(DataError, match=str(target)):
        read_table(target)


def test_zero_rows_is_a_data_error(tmp_path):
    path = tmp_path / "empty.parquet"
    pq.write_table(_table().slice(0, 0), path)
    with pytest.raises(DataError, match=f"{path}.*zero rows"):
        read_table(path)


def test_missing_configured_column_is_a_data_error_naming_it(tmp_path):
    path = tmp_path / "data.parquet"
    pq.write_table(_table(), path)
    with pytest.raises(DataError, match=f"{path}.*'income'"):
        read_table(path, columns=["id", "income"])


@pytest.mark.parametrize("column", [
    pa.array([[1, 2], [3]]),
    pa.array([{"a": 1}, {"a": 2}]),
    pa.array([b"x", b"y"]),
    pa.array([[("k", 1)], [("k", 2)]], pa.map_(pa.string(), pa.int64())),
])
def test_nested_and_binary_columns_are_refused_by_name(column):
    table = pa.table({"fine": [1, 2], "nested": column})
    with pytest.raises(DataError, match="'nested'.*unsupported"):
        schema_specs(table.schema)
    with pytest.raises(DataError, match="'nested'"):
        check_trainable(table)


def test_check_trainable_accepts_constants_and_refuses_duplicates():
    check_trainable(pa.table({"constant": [5, 5, 5], "x": [1.0, None, 2.0]}))
    duplicated = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])
    with pytest.raises(DataError, match="duplicate"):
        check_trainable(duplicated)


def test_schema_specs_kinds():
    schema = pa.schema([("n", pa.int16()), ("s", pa.large_string()), ("b", pa.bool_()),
                        ("t", pa.timestamp("ms", tz="UTC")), ("d", pa.dictionary(pa.int8(), pa.string()))])
    assert [s.kind for s in schema_specs(schema)] == [ColumnKind.CONTINUOUS, ColumnKind.DISCRETE,
                                                      ColumnKind.BOOLEAN, ColumnKind.DATETIME,
                                                      ColumnKind.DISCRETE]


def test_atomic_write_keeps_metadata_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "out" / "synthetic.parquet"
    table = _table().replace_schema_metadata({"source": "unit-test"})
    write_parquet_atomic(table, path, metadata={"model_uri": "runs:/abc/model", "rows": 6})
    assert read_metadata(path) == {"source": "unit-test", "model_uri": "runs:/abc/model", "rows": "6"}
    assert pq.read_table(path).select(["id", "score", "region"]).equals(_table())
    assert os.listdir(path.parent) == ["synthetic.parquet"]


def test_failed_write_leaves_the_existing_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "synthetic.parquet"
    write_parquet_atomic(_table(), path, metadata={"version": "1"})
    before = path.read_bytes()

    def write_half_then_fail(table, where, **kwargs):
        with open(where, "wb") as f:
            f.write(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        write_parquet_atomic(_table(100), path, metadata={"version": "2"})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert read_metadata(path)["version"] == "1"
    assert os.listdir(tmp_path) == ["synthetic.parquet"]  # the temporary file is gone too
