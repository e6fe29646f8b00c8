"""Schema contracts: the columns, Arrow types, nullability and value ranges a table must keep.

A contract is a small YAML file meant to be read and edited by hand::

    version: 1
    range_policy: 'observed min/max widened by 25% of the observed span on each side ...'
    columns:
      carat: {type: double, nullable: false, min: 0.2, max: 5.01}
      sold_at: {type: 'timestamp[us, tz=UTC]', nullable: true, min: '2021-01-04T00:00:00+00:00'}
      cut:
        type: string
        nullable: false
        allowed: [Fair, Good, Ideal, Premium, Very Good]

Per column: `type` is `str(pa.DataType)`; `nullable` says whether nulls (and NaN) may appear;
`min`/`max` bound numeric and datetime columns (datetimes as ISO strings, with a UTC offset exactly
when the column has a time zone); `allowed` lists the values of a string or boolean column. Every
bound is optional: a missing `min`, `max` or `allowed` means "anything goes". `range_policy` (optional,
text) says how an inferred contract drew its ranges (`RangePolicy`); it is for the reader.

This module is pure Python: it checks Arrow types itself, by family (`synth.io.type_family`): a
column may change its physical encoding (`string` to `large_string`, as pandas 3 writes it; int32 to
int64; a timestamp's unit; date32 to date64) but not its logical type (int to double, string to int,
a timestamp's time zone). The contract keeps the exact type it saw; out-of-range values of a wider
int are the min/max rules' to catch. The value rules are run by `tasks/validate.py` through Great
Expectations.
"""
from __future__ import annotations

import datetime as dt
import decimal
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from synth import storage
from synth.errors import ConfigError, DataError
from synth.io import type_family
from synth.schema import ColumnKind, arrow_type_from_string, column_kind

CONTRACT_VERSION = 1
_TOP_KEYS = ("version", "range_policy", "columns")
_COLUMN_KEYS = ("type", "nullable", "min", "max", "allowed")

Bound = int | float | str  # a number, or an ISO date/timestamp for datetime columns


@dataclass(frozen=True)
class RangePolicy:
    """How an inferred contract draws a column's min and max from the first table it sees, so that
    the next night's table passes unless a value is truly out of line.

    Exact observed bounds would fail a table whose maximum grows by 1%. So each bound moves out by a
    share of the observed span (a constant column: of its value), not across zero when every
    observed value had one sign (prices, counts, durations stay non-negative), rounded outward to
    two significant digits of that margin (integers: to whole numbers, at least) to read well in YAML. Datetime
    columns keep only a min: new dates arrive every night. `margin=0, datetime_max=True` gives the
    exact observed bounds.
    """

    margin: float = 0.25  # share of the observed span added below the min and above the max
    keep_sign: bool = True  # all observed values >= 0 (<= 0): the min (max) never crosses zero
    datetime_max: bool = False  # datetime columns: False = no max (tomorrow's rows are newer)

    def describe(self) -> str:
        """The policy in words, written into the contract file as `range_policy`."""
        sign = ", never across zero if every value was >= 0 (or <= 0)" if self.keep_sign else ""
        dates = "min and max alike" if self.datetime_max else "min alike, no max (new dates arrive every night)"
        return (f"observed min/max widened by {self.margin:.0%} of the observed span on each side (a constant: "
                f"of its value){sign}, rounded outward; datetimes: {dates}. Edit any bound; delete it for none.")


@dataclass(frozen=True)
class InferenceRules:
    """What `infer_contract` writes down: the allowed sets of string columns, and the ranges."""

    max_allowed_values: int = 1000  # more distinct values than this: no allowed set is stored
    id_like_min_distinct: int = 50  # an ID-like column has at least this many distinct values ...
    id_like_unique_ratio: float = 0.5  # ... and this share of its non-null values are distinct
    ranges: RangePolicy = RangePolicy()  # how far the inferred min/max lie beyond the observed ones


@dataclass(frozen=True)
class ColumnContract:
    """The rules one column must keep."""

    name: str
    arrow_type: str  # str(pa.DataType), e.g. "int64", "timestamp[us, tz=UTC]"
    nullable: bool = True  # False: no null (or NaN) may appear
    min: Bound | None = None  # inclusive; None = unbounded
    max: Bound | None = None  # inclusive; None = unbounded
    allowed: tuple[str | bool, ...] | None = None  # string/boolean columns; None = any value

    @property
    def kind(self) -> ColumnKind:
        return column_kind(self.name, arrow_type_from_string(self.arrow_type))


@dataclass(frozen=True)
class Contract:
    """A table's schema contract: its columns, in order."""

    columns: tuple[ColumnContract, ...]
    version: int = CONTRACT_VERSION
    range_policy: str | None = None  # how inferred ranges were drawn, in words (None: not said)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass(frozen=True)
class Failure:
    """One broken rule: which check, on which column, what was expected and what was found."""

    expectation: str  # e.g. "expect_column_values_to_be_between", "expect_column_arrow_type"
    column: str | None  # None for table-level checks (the column set)
    expected: str
    observed: str

    def line(self) -> str:
        where = f"column '{self.column}'" if self.column is not None else "table"
        return f"{where}: {self.expectation}: expected {self.expected}, observed {self.observed}"


def default_contract_path(output_path: str | os.PathLike) -> str:
    """Where an inferred contract is kept: beside the output, `x/name.parquet` -> `x/name.contract.yaml`
    (a local path, or an s3:// URI beside an s3:// output)."""
    return storage.beside(output_path, ".contract.yaml")


# ---------------------------------------------------------------- inference


def infer_contract(table: pa.Table, rules: InferenceRules = InferenceRules()) -> Contract:
    """The contract `table` keeps: its types, its nulls, its values, and ranges around the observed ones.

    Ranges follow `rules.ranges` (see `RangePolicy`), which is written into the contract: a later
    table with a value far outside them fails validation, which is the point (edit the YAML to move
    a bound). Every bound lies on or outside the observed values, so the table passes its own contract.

    Raises:
        DataError: a column has a type no model supports (naming it).
    """
    return Contract(columns=tuple(_infer_column(f, table.column(f.name), rules) for f in table.schema),
                    range_policy=rules.ranges.describe())


def _infer_column(arrow_field: pa.Field, column: pa.ChunkedArray, rules: InferenceRules) -> ColumnContract:
    kind = column_kind(arrow_field.name, arrow_field.type)
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    n_nan = (pc.sum(pc.is_nan(column)).as_py() or 0) if pa.types.is_floating(column.type) else 0
    base = ColumnContract(arrow_field.name, str(arrow_field.type), nullable=column.null_count + n_nan > 0)
    if kind in (ColumnKind.CONTINUOUS, ColumnKind.DATETIME):
        bounds = pc.min_max(column)
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        if low is None:  # every value null
            return base
        low, high = inferred_range(low, high, rules.ranges)
        return replace(base, min=low, max=high)
    values = pc.unique(column.drop_null()).to_pylist()
    non_null = len(column) - column.null_count
    id_like = (len(values) >= rules.id_like_min_distinct
               and len(values) >= rules.id_like_unique_ratio * non_null)
    if kind is ColumnKind.DISCRETE and (len(values) > rules.max_allowed_values or id_like):
        return base
    return replace(base, allowed=tuple(sorted(values)))


def inferred_range(low: Any, high: Any, policy: RangePolicy) -> tuple[Bound | None, Bound | None]:
    """The contract's (min, max) for a column whose values were seen in [low, high] (as `as_py` gives
    them: numbers, decimals, dates, datetimes), by `policy`. Shared by both ways of inferring."""
    if isinstance(low, float) and math.isnan(low):  # NaN only: kept as found, the column is all missing
        return low, high
    if isinstance(low, dt.datetime):
        return _datetime_range(pd.Timestamp(low), pd.Timestamp(high), policy)
    if isinstance(low, dt.date):
        pad = dt.timedelta(days=math.ceil((high - low).days * policy.margin))
        start, end = _shifted(low, -pad), (_shifted(high, pad) if policy.datetime_max else None)
        return _bound(start, -1), None if end is None else _bound(end, +1)
    if isinstance(low, int) and isinstance(high, int):
        return _integer_range(low, high, policy)
    return _number_range(low, high, policy)


def _integer_range(low: int, high: int, policy: RangePolicy) -> tuple[int, int]:
    pad = (high - low or abs(low)) * policy.margin
    if pad <= 0:
        return low, high
    step = max(1, 10 ** (math.floor(math.log10(pad)) - 1))
    start = (low - math.ceil(pad)) // step * step
    end = -(-(high + math.ceil(pad)) // step) * step
    if policy.keep_sign:
        start, end = (max(start, 0) if low >= 0 else start), (min(end, 0) if high <= 0 else end)
    return start, end


def _number_range(low: float | decimal.Decimal, high: float | decimal.Decimal,
                  policy: RangePolicy) -> tuple[float, float]:
    pad = float(high - low or abs(low)) * policy.margin  # a decimal's span exactly, before it turns float
    low, high = _bound(low, -1), _bound(high, +1)  # decimals as floats, rounded outward
    if not pad > 0 or not math.isfinite(pad):  # no margin, or ±inf seen: the observed bounds
        return low, high
    exponent = math.floor(math.log10(pad)) - 1  # 2 significant digits of the margin
    start, end = _round_outward(low - pad, exponent, -1), _round_outward(high + pad, exponent, +1)
    if policy.keep_sign:
        start, end = (max(start, 0.0) if low >= 0 else start), (min(end, 0.0) if high <= 0 else end)
    return start, end


def _round_outward(value: float, exponent: int, outward: int) -> float:
    """`value` rounded down (outward=-1) or up (+1) to a multiple of 10**exponent."""
    rounding = decimal.ROUND_FLOOR if outward < 0 else decimal.ROUND_CEILING
    try:
        rounded = float(decimal.Decimal(value).quantize(decimal.Decimal(1).scaleb(exponent), rounding=rounding))
    except decimal.InvalidOperation:  # more digits than a float holds: as it is
        return value
    return rounded if rounded * outward >= value * outward else math.nextafter(rounded, outward * math.inf)


def _datetime_range(low: pd.Timestamp, high: pd.Timestamp, policy: RangePolicy) -> tuple[Bound, Bound | None]:
    pad = (high - low) * policy.margin
    start, end = _shifted(low, -pad), (_shifted(high, pad) if policy.datetime_max else None)
    if pad:  # whole seconds, rounded outward (on UTC time: no DST ambiguity)
        start = _whole_seconds(start, "floor")
        end = None if end is None else _whole_seconds(end, "ceil")
    return _bound(start, -1), None if end is None else _bound(end, +1)


def _shifted(value, pad):
    """`value + pad`, or `value` itself where that leaves the calendar (year 1 or 9999, pandas' range)."""
    try:
        return value + pad
    except (OverflowError, pd.errors.OutOfBoundsDatetime):
        return value


def _whole_seconds(stamp: pd.Timestamp, how: str) -> pd.Timestamp:
    if stamp.tz is None:
        return getattr(stamp, how)("s")
    return getattr(stamp.tz_convert("UTC"), how)("s").tz_convert(stamp.tz)


def _bound(value: Any, outward: int) -> Bound:
    """A YAML-friendly bound: ISO text for dates and timestamps, a float for decimals (rounded outward)."""
    if isinstance(value, dt.datetime):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        as_float = float(value)
        if decimal.Decimal(as_float) != value:
            as_float = math.nextafter(as_float, outward * math.inf)
        return as_float
    return value


# ---------------------------------------------------------------- the Arrow type check


def check_arrow_types(contract: Contract, schema: pa.Schema) -> list[Failure]:
    """Columns in both the contract and `schema` whose Arrow type is of another family (int64 vs
    double, string vs int64, timestamp[us, tz=UTC] vs timestamp[us]; not string vs large_string nor
    int32 vs int64: see `synth.io.type_family`). Missing or extra columns are left to the column-set check."""
    failures = []
    for column in contract.columns:
        expected = type_family(arrow_type_from_string(column.arrow_type))
        for index in schema.get_all_field_indices(column.name):  # a duplicated name is checked twice
            actual = schema.field(index).type
            if type_family(actual) != expected:
                failures.append(Failure("expect_column_arrow_type", column.name, column.arrow_type, str(actual)))
    return failures


# ---------------------------------------------------------------- YAML


def save_contract(contract: Contract, path: str | os.PathLike) -> Path | str:
    """Write `contract` as YAML (one short mapping per column), creating the folder if needed."""
    columns = {}
    for column in contract.columns:
        entry: dict[str, Any] = {"type": column.arrow_type, "nullable": column.nullable}
        if column.min is not None:
            entry["min"] = column.min
        if column.max is not None:
            entry["max"] = column.max
        if column.allowed is not None:
            entry["allowed"] = list(column.allowed)
        columns[column.name] = entry
    tree: dict[str, Any] = {"version": contract.version}
    if contract.range_policy is not None:
        tree["range_policy"] = contract.range_policy
    tree["columns"] = columns
    text = yaml.safe_dump(tree, sort_keys=False, default_flow_style=None, allow_unicode=True, width=100)
    text = "# Schema contract: see synth/contract.py. Edit bounds freely; delete a key to drop a rule.\n" + text
    storage.write_bytes(path, text.encode())  # creates the folder; an s3:// URI is one PUT
    return path if storage.is_remote(path) else Path(path)


def load_contract(path: str | os.PathLike) -> Contract:
    """Read a contract YAML written by `save_contract` or by hand.

    Raises:
        ConfigError: the file is missing or not YAML, or a key is unknown or has a bad value;
            the message names the file and the key (e.g. `columns.carat.min`).
    """
    raw = storage.read_bytes(path) if storage.is_remote(path) or Path(path).is_file() else None
    if raw is None:
        raise ConfigError(f"contract {path}: no such file")
    try:
        tree = yaml.safe_load(raw.decode("utf-8", errors="replace"))
    except yaml.YAMLError as e:
        raise ConfigError(f"contract {path}: not valid YAML ({e})") from e
    if not isinstance(tree, dict):
        raise ConfigError(f"contract {path}: the top level must be a mapping with 'version' and 'columns'")
    unknown = sorted(str(k) for k in tree if k not in _TOP_KEYS)
    if unknown:
        raise ConfigError(f"contract {path}: {unknown[0]}: unknown key (expected {', '.join(_TOP_KEYS)})")
    policy = tree.get("range_policy")
    if policy is not None and not isinstance(policy, str):
        raise ConfigError(f"contract {path}: range_policy: expected text saying how the ranges were drawn")
    if tree.get("version") != CONTRACT_VERSION:
        raise ConfigError(f"contract {path}: version: expected {CONTRACT_VERSION}, got {tree.get('version')!r}")
    columns = tree.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise ConfigError(f"contract {path}: columns: expected a non-empty mapping of column name to rules")
    return Contract(columns=tuple(_parse_column(name, rules, path) for name, rules in columns.items()),
                    range_policy=policy)


def _parse_column(name: Any, rules: Any, path: Path) -> ColumnContract:
    where = f"contract {path}: columns.{name}"
    if not isinstance(name, str):
        raise ConfigError(f"{where}: column names must be strings; quote it ('{name}')")
    if not isinstance(rules, dict):
        raise ConfigError(f"{where}: expected a mapping like {{type: double, nullable: false}}")
    for key in rules:
        if key not in _COLUMN_KEYS:
            raise ConfigError(f"{where}.{key}: unknown key (expected one of {list(_COLUMN_KEYS)})")
    if "type" not in rules:
        raise ConfigError(f"{where}.type: missing (an Arrow type such as int64, double, string)")
    try:
        arrow_type = arrow_type_from_string(str(rules["type"]))
        kind = column_kind(name, arrow_type)
    except (ValueError, KeyError, DataError) as e:
        raise ConfigError(f"{where}.type: {rules['type']!r} is not a supported Arrow type ({e})") from e
    nullable = rules.get("nullable", True)
    if not isinstance(nullable, bool):
        raise ConfigError(f"{where}.nullable: expected true or false, got {nullable!r}")
    ranged = kind in (ColumnKind.CONTINUOUS, ColumnKind.DATETIME)
    misplaced = ("allowed",) if ranged else ("min", "max")
    for key in misplaced:
        if rules.get(key) is not None:
            raise ConfigError(f"{where}.{key}: not allowed for a {kind.value} column ({arrow_type})")
    low, high = (_parse_bound(rules.get(k), kind, arrow_type, f"{where}.{k}") for k in ("min", "max"))
    return ColumnContract(name, str(arrow_type), nullable, low, high,
                          _parse_allowed(rules.get("allowed"), kind, f"{where}.allowed"))


def _parse_bound(value: Any, kind: ColumnKind, arrow_type: pa.DataType, where: str) -> Bound | None:
    if value is None:
        return None
    if kind is ColumnKind.CONTINUOUS:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return value
    if isinstance(value, (dt.date, dt.datetime)):  # YAML reads unquoted 2021-01-04 as a date
        value = value.isoformat()
    try:
        stamp = pd.Timestamp(str(value))
    except ValueError as e:
        raise ConfigError(f"{where}: expected an ISO date or timestamp, got {value!r}") from e
    zoned = pa.types.is_timestamp(arrow_type) and arrow_type.tz is not None
    if zoned and stamp.tz is None:
        raise ConfigError(f"{where}: {value!r} has no UTC offset but the column is {arrow_type}; "
                          f"write e.g. '{stamp.isoformat()}+00:00'")
    if not zoned and stamp.tz is not None:
        raise ConfigError(f"{where}: {value!r} has a UTC offset but the column ({arrow_type}) has no time zone")
    return str(value)


def _parse_allowed(value: Any, kind: ColumnKind, where: str) -> tuple[str | bool, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list of values, e.g. [a, b]")
    wanted = bool if kind is ColumnKind.BOOLEAN else str
    for item in value:
        if not isinstance(item, wanted):
            hint = "; quote it" if wanted is str else ""
            raise ConfigError(f"{where}: {item!r} is not a {wanted.__name__}{hint}")
    return tuple(value)
