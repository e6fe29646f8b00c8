"""Parquet I/O: reading files, directories and hive partitions; clear errors; atomic publishing."""
from __future__ import annotations

import datetime as dt
import decimal
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synth.errors import DataError
from synth.io import (ParquetSource, check_trainable, read_metadata, read_table, source_fingerprint,
                      table_fingerprint, type_family, write_parquet_atomic)
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


# ---------------------------------------------------------------- fingerprints: the values, not the encoding


def _fingerprinted() -> pa.Table:
    """One column per family, each with a null, in a first encoding."""
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    return pa.table({
        "region": pa.array(["north", None, "south", "north"], pa.string()),
        "count": pa.array([3, -7, None, 2**31 - 1], pa.int32()),
        "ratio": pa.array([0.5, None, -1.25, 3.0], pa.float32()),  # exact in float32: the same in float64
        "at": pa.array([start, start + dt.timedelta(milliseconds=1), None, start + dt.timedelta(days=400)],
                       pa.timestamp("ms", tz="UTC")),
        "day": pa.array([dt.date(2020, 1, 1), None, dt.date(1969, 12, 31), dt.date(2020, 1, 2)], pa.date32()),
        "amount": pa.array([decimal.Decimal("1.50"), None, decimal.Decimal("-2.25"), decimal.Decimal("0")],
                           pa.decimal128(5, 2)),
        "flag": pa.array([True, None, False, True]),
    })


def _recast(table: pa.Table, name: str, arrow_type: pa.DataType) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, table.column(name).cast(arrow_type))


@pytest.mark.parametrize("name, arrow_type", [
    ("region", pa.large_string()), ("region", pa.string_view()), ("region", pa.dictionary(pa.int8(), pa.string())),
    ("count", pa.int64()),
    ("ratio", pa.float64()),
    ("at", pa.timestamp("us", tz="UTC")), ("at", pa.timestamp("ns", tz="UTC")),
    ("day", pa.date64()),
    ("amount", pa.decimal128(20, 2)), ("amount", pa.decimal256(40, 2)),
])
def test_fingerprint_is_the_same_for_another_encoding_of_the_same_values(name, arrow_type):
    table = _fingerprinted()
    assert table_fingerprint(_recast(table, name, arrow_type)) == table_fingerprint(table)


def test_fingerprint_of_large_string_parquet_equals_the_string_one_streamed_or_whole(tmp_path):
    table = _fingerprinted()
    pq.write_table(table, tmp_path / "pandas2.parquet")
    pq.write_table(_recast(_recast(table, "region", pa.large_string()), "count", pa.int64()),
                   tmp_path / "pandas3.parquet")
    digests = {f(p) for p in ("pandas2", "pandas3") for f in (
        lambda p: table_fingerprint(read_table(tmp_path / f"{p}.parquet")),
        lambda p: source_fingerprint(ParquetSource(str(tmp_path / f"{p}.parquet"))))}
    assert digests == {table_fingerprint(table)}


def test_fingerprint_blocks_choose_their_type_by_the_values_alone(tmp_path, monkeypatch):
    """A block of whole seconds and one of milliseconds, stored in ms or ns, chunked or streamed."""
    import synth.io

    monkeypatch.setattr(synth.io, "FINGERPRINT_BLOCK_ROWS", 5)
    start = dt.datetime(2024, 1, 1)
    stamps = [start + dt.timedelta(seconds=i) for i in range(5)] + [
        start + dt.timedelta(milliseconds=7 * i) for i in range(6)]
    table = pa.table({"at": pa.array(stamps, pa.timestamp("ms")), "n": pa.array(range(-1, 10), pa.int16())})
    fingerprint = table_fingerprint(table)
    wide = _recast(_recast(table, "at", pa.timestamp("ns")), "n", pa.int64())
    assert table_fingerprint(pa.Table.from_batches(wide.to_batches(max_chunksize=3))) == fingerprint
    pq.write_table(wide, tmp_path / "wide.parquet", row_group_size=4)
    assert source_fingerprint(ParquetSource(str(tmp_path / "wide.parquet"))) == fingerprint


@pytest.mark.parametrize("change", [
    lambda t: t.set_column(2, "ratio", pa.array([0.1, None, -1.25, 3.0], pa.float32())),
    lambda t: t.set_column(0, "region", pa.array(["north", "", "south", "north"])),  # a null became a value
    lambda t: t.set_column(1, "count", pa.array([3, -7, 0, 2**31 - 1], pa.int32())),
    lambda t: t.set_column(1, "count", pa.array([3, -7, None, 2**31], pa.int64())),
    lambda t: t.rename_columns(["area", *t.column_names[1:]]),
    lambda t: _recast(t, "at", pa.timestamp("ms", tz="Europe/Berlin")),  # same instants, another zone
    lambda t: _recast(t, "at", pa.timestamp("ms")),
    lambda t: _recast(t, "count", pa.float64()),  # int -> double is a change of type
    lambda t: _recast(t, "region", pa.dictionary(pa.int8(), pa.string())).set_column(
        0, "region", pa.array(["north", None, "south", "south"]).dictionary_encode()),
])
def test_fingerprint_changes_with_a_value_a_null_a_name_or_a_time_zone(change):
    table = _fingerprinted()
    assert table_fingerprint(change(table)) != table_fingerprint(table)


def test_fingerprint_tells_float32_values_from_the_float64_ones_they_only_resemble():
    as_float32 = pa.table({"x": pa.array([0.1, 0.5], pa.float32())})
    assert table_fingerprint(as_float32) != table_fingerprint(pa.table({"x": pa.array([0.1, 0.5])}))
    widened = pa.table({"x": as_float32.column("x").cast(pa.float64())})  # 0.10000000149011612: exact
    assert table_fingerprint(as_float32) == table_fingerprint(widened)


def test_fingerprint_keeps_uint64_past_int64_apart_from_negative_int64():
    unsigned = pa.table({"n": pa.array([2**64 - 1], pa.uint64())})
    assert table_fingerprint(unsigned) != table_fingerprint(pa.table({"n": pa.array([-1], pa.int64())}))
    assert table_fingerprint(pa.table({"n": pa.array([5], pa.uint64())})) == table_fingerprint(
        pa.table({"n": pa.array([5], pa.int8())}))


def test_type_families():
    assert {type_family(t) for t in (pa.string(), pa.large_string(), pa.string_view(),
                                     pa.dictionary(pa.int32(), pa.large_string()))} == {"string"}
    assert {type_family(t) for t in (pa.int8(), pa.uint64(), pa.int64())} == {"integer"}
    assert type_family(pa.timestamp("s", "UTC")) == type_family(pa.timestamp("ns", "UTC")) != type_family(
        pa.timestamp("ns"))
    assert type_family(pa.dictionary(pa.int8(), pa.int64())) == "dictionary<integer>"
