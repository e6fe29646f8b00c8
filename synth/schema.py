"""Column kinds: how an Arrow type is modelled (continuous, discrete, datetime, boolean)."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import pyarrow as pa

from synth.errors import DataError


class ColumnKind(str, Enum):
    CONTINUOUS = "continuous"
    DISCRETE = "discrete"
    DATETIME = "datetime"
    BOOLEAN = "boolean"


@dataclass(frozen=True)
class ColumnSpec:
    """One column as the models see it."""

    name: str
    kind: ColumnKind
    arrow_type: str  # str(pa.DataType), e.g. "int64", "timestamp[us, tz=UTC]"


def column_kind(name: str, arrow_type: pa.DataType) -> ColumnKind:
    """Map an Arrow type to a column kind; nested and binary types are a DataError naming the column."""
    t = arrow_type
    if pa.types.is_dictionary(t):
        return ColumnKind.DISCRETE  # a dictionary is categorical, whatever its values (pandas Categorical)
    if pa.types.is_boolean(t):
        return ColumnKind.BOOLEAN
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return ColumnKind.CONTINUOUS
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return ColumnKind.DATETIME
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return ColumnKind.DISCRETE
    if pa.types.is_null(t):
        raise DataError(f"column '{name}' has only null values (Arrow type null): nothing to learn from it")
    raise DataError(
        f"column '{name}' has unsupported Arrow type {arrow_type}: supported are numbers, strings, "
        "booleans, dates and timestamps (lists, structs, maps and binary are not)"
    )


def schema_specs(schema: pa.Schema) -> list[ColumnSpec]:
    """ColumnSpecs for every field of an Arrow schema, in order."""
    return [ColumnSpec(f.name, column_kind(f.name, f.type), str(f.type)) for f in schema]


_SIMPLE_TYPES = {
    "bool": pa.bool_(), "int8": pa.int8(), "int16": pa.int16(), "int32": pa.int32(), "int64": pa.int64(),
    "uint8": pa.uint8(), "uint16": pa.uint16(), "uint32": pa.uint32(), "uint64": pa.uint64(),
    "halffloat": pa.float16(), "float": pa.float32(), "double": pa.float64(),
    "string": pa.string(), "large_string": pa.large_string(), "string_view": pa.string_view(),
    "date32[day]": pa.date32(), "date64[ms]": pa.date64(),
}


def arrow_type_from_string(text: str) -> pa.DataType:
    """Inverse of str(pa.DataType) for the types column_kind accepts."""
    if text in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[text]
    if text.startswith("timestamp["):
        inner = text[len("timestamp["):-1]
        unit, _, tz = inner.partition(",")
        tz = tz.strip().removeprefix("tz=") or None
        return pa.timestamp(unit.strip(), tz=tz)
    if text.startswith("dictionary<"):
        # e.g. dictionary<values=string, indices=int32, ordered=0>
        parts = dict(p.split("=", 1) for p in text[len("dictionary<"):-1].split(", "))
        return pa.dictionary(arrow_type_from_string(parts["indices"]), arrow_type_from_string(parts["values"]),
                             ordered=parts.get("ordered") == "1")
    if text.startswith("decimal"):
        precision, scale = text[text.index("(") + 1:-1].split(",")
        return pa.decimal128(int(precision), int(scale))
    raise ValueError(f"unknown Arrow type string {text!r}")
