"""The data fingerprint (`synth.storage.fingerprint`): the values, not the encoding."""
from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synth.storage import ParquetSource
from synth.storage.fingerprint import source_fingerprint, table_fingerprint
from tests.support.storage import read_all


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
        lambda p: table_fingerprint(read_all(tmp_path / f"{p}.parquet")),
        lambda p: source_fingerprint(ParquetSource(str(tmp_path / f"{p}.parquet"))))}
    assert digests == {table_fingerprint(table)}


def test_fingerprint_blocks_choose_their_type_by_the_values_alone(tmp_path, monkeypatch):
    """A block of whole seconds and one of milliseconds, stored in ms or ns, chunked or streamed."""
    monkeypatch.setattr("synth.storage.fingerprint.FINGERPRINT_BLOCK_ROWS", 5)
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
