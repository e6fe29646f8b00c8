"""The contract's types: a table's columns with their rules, the failures of a check, and the
rules that inference follows. See synth.contract for the YAML form."""
from __future__ import annotations

import os
from dataclasses import dataclass

import pyarrow as pa

from synth import storage
from synth.schema import ColumnKind, arrow_type_from_string, column_kind
from synth.tables import type_family

CONTRACT_VERSION = 1

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


# ---------------------------------------------------------------- the Arrow type check


def check_arrow_types(contract: Contract, schema: pa.Schema) -> list[Failure]:
    """Columns in both the contract and `schema` whose Arrow type is of another family (int64 vs
    double, string vs int64, timestamp[us, tz=UTC] vs timestamp[us]; not string vs large_string nor
    int32 vs int64: see `synth.tables.type_family`). Missing or extra columns are left to the column-set check."""
    failures = []
    for column in contract.columns:
        expected = type_family(arrow_type_from_string(column.arrow_type))
        for index in schema.get_all_field_indices(column.name):  # a duplicated name is checked twice
            actual = schema.field(index).type
            if type_family(actual) != expected:
                failures.append(Failure("expect_column_arrow_type", column.name, column.arrow_type, str(actual)))
    return failures


def decoded(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A dictionary-encoded column as plain values (checks and inference see values, not codes)."""
    return column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column
