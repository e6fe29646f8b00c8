"""Training tables (`synth.tables`): the rules every one must meet, and Arrow type families."""
from __future__ import annotations

import pyarrow as pa
import pytest

from synth.errors import DataError
from synth.schema import ColumnKind, schema_specs
from synth.tables import check_trainable, type_family


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


def test_type_families():
    assert {type_family(t) for t in (pa.string(), pa.large_string(), pa.string_view(),
                                     pa.dictionary(pa.int32(), pa.large_string()))} == {"string"}
    assert {type_family(t) for t in (pa.int8(), pa.uint64(), pa.int64())} == {"integer"}
    assert type_family(pa.timestamp("s", "UTC")) == type_family(pa.timestamp("ns", "UTC")) != type_family(
        pa.timestamp("ns"))
    assert type_family(pa.dictionary(pa.int8(), pa.int64())) == "dictionary<integer>"
