"""Schema contracts over record batches: check (or infer) a contract on data too large to hold.

`ContractScan` adds up, batch by batch with pyarrow.compute, what Great Expectations computes on a
table in memory: per column the nulls (NaN included, as pandas counts them), the values outside
[min, max] and the values not in the allowed set, with a few examples of each. Its failures read
exactly like the ones `tasks/validate.py` makes from Great Expectations' results (the message
helpers below are shared), so a report does not change with the way the data was checked.
`ContractInference` is `synth.contract.infer_contract` added up the same way: the same observed
min/max, widened by the same `RangePolicy`, so both give the same contract for the same data.
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from synth.contract import ColumnContract, Contract, Failure, InferenceRules, check_arrow_types, inferred_range
from synth.schema import ColumnKind, column_kind

EXAMPLES = 3  # unexpected values quoted per failure
PARTIAL = 20  # the first unexpected values kept; the most common of them are quoted (as GX does)

NOT_NULL = "expect_column_values_to_not_be_null"
BETWEEN = "expect_column_values_to_be_between"
IN_SET = "expect_column_values_to_be_in_set"
COLUMN_SET = "expect_table_columns_to_match_set"


# ---------------------------------------------------------------- messages (shared with tasks/validate.py)


def show_value(value: Any) -> str:
    """A value as a failure message quotes it: strings quoted, timestamps in ISO form."""
    if value is None:
        return "-"
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return repr(value) if isinstance(value, str) else str(value)


def typed_bound(column: ColumnContract, bound: Any) -> Any:
    """Datetime bounds are ISO text in the contract and Timestamps for comparing (tz-aware stays tz-aware)."""
    if bound is None or column.kind is not ColumnKind.DATETIME:
        return bound
    return pd.Timestamp(bound)


def between_expected(column: ColumnContract) -> str:
    """As Great Expectations states it (it keeps numeric bounds as floats: 326 shows as 326.0)."""
    low, high = (typed_bound(column, b) for b in (column.min, column.max))
    if column.kind is ColumnKind.CONTINUOUS:
        low, high = (None if b is None else float(b) for b in (low, high))
    return f"values in [{show_value(low)}, {show_value(high)}]"


def in_set_expected(values: list) -> str:
    return f"one of {values}" if len(values) <= 5 else f"one of {len(values)} allowed values"


def unexpected_observed(count: int, total: int, what: str, examples: list[str]) -> str:
    observed = f"{count} of {total} values {what}"
    if examples and what != "null":
        observed += f", e.g. {', '.join(examples[:EXAMPLES])}"
    return observed


def column_set_failure(contract: Contract, names: list[str]) -> Failure | None:
    """The contract's exact column set against the data's column names, or None when they match."""
    missing = sorted(set(contract.names) - set(names))
    extra = sorted(set(names) - set(contract.names))
    if not missing and not extra:
        return None
    observed = "; ".join(f"{label} {values}" for label, values in (("missing", missing), ("extra", extra)) if values)
    return Failure(COLUMN_SET, None, f"exactly the contract's {len(contract.names)} columns", observed)


# ---------------------------------------------------------------- checking


@dataclass
class _Tally:
    """What one column has shown so far, per rule: unexpected values counted, the first PARTIAL of them
    kept (to quote), or the error that stopped the rule being checked."""

    rule: ColumnContract
    counts: dict[str, int] = field(default_factory=lambda: {NOT_NULL: 0, BETWEEN: 0, IN_SET: 0})
    examples: dict[str, list] = field(default_factory=lambda: {BETWEEN: [], IN_SET: []})
    errors: dict[str, str] = field(default_factory=dict)


class ContractScan:
    """A contract's checks, added up over record batches.

    `value_columns` are the columns whose values are checked (present, and still of the contract's
    kind); the column set and the Arrow types are checked from `schema` once.
    """

    def __init__(self, contract: Contract, schema: pa.Schema, value_columns: set[str]):
        self.contract = contract
        self.schema = schema
        self.rows = 0
        self._tallies = [_Tally(c) for c in contract.columns if c.name in value_columns]

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        self.rows += batch.num_rows
        for tally in self._tallies:
            column = _decoded(batch.column(tally.rule.name))
            if not tally.rule.nullable:
                self._count(tally, NOT_NULL, lambda: _null_mask(column))
            if tally.rule.min is not None or tally.rule.max is not None:
                self._count(tally, BETWEEN, lambda: _outside_mask(column, tally.rule), column)
            if tally.rule.allowed is not None:
                self._count(tally, IN_SET, lambda: _not_allowed_mask(column, tally.rule), column)

    def failures(self) -> list[Failure]:
        """Every broken rule: the column set, then the Arrow types, then the value rules column by column."""
        failures = [f for f in [column_set_failure(self.contract, self.schema.names)] if f is not None]
        failures += check_arrow_types(self.contract, self.schema)
        for tally in self._tallies:
            rule = tally.rule
            checks = [(NOT_NULL, "no nulls", "null", not rule.nullable),
                      (BETWEEN, between_expected(rule), "outside", rule.min is not None or rule.max is not None),
                      (IN_SET, in_set_expected(list(rule.allowed or ())), "not allowed", rule.allowed is not None)]
            for kind, expected, what, applies in checks:
                if not applies:
                    continue
                if kind in tally.errors:
                    failures.append(Failure(kind, rule.name, expected, tally.errors[kind]))
                elif tally.counts[kind]:
                    examples = [show_value(_pandas_value(v)) for v in _most_common(tally.examples.get(kind, []))]
                    failures.append(Failure(kind, rule.name, expected,
                                            unexpected_observed(tally.counts[kind], self.rows, what, examples)))
        return failures

    @staticmethod
    def _count(tally: _Tally, kind: str, mask_of, column: pa.Array | pa.ChunkedArray | None = None) -> None:
        if kind in tally.errors:
            return
        try:
            mask = mask_of()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, TypeError, ValueError) as e:
            tally.errors[kind] = f"error: {str(e).strip().splitlines()[0]}"
            return
        count = pc.sum(mask).as_py() or 0
        tally.counts[kind] += count
        examples = tally.examples.get(kind)
        if count and examples is not None and len(examples) < PARTIAL:
            examples.extend(column.filter(mask).slice(0, PARTIAL - len(examples)).to_pylist())


def scan_contract(contract: Contract, schema: pa.Schema, batches: Iterable[pa.RecordBatch],
                  value_columns: set[str]) -> ContractScan:
    """Check every batch against `contract`; the scan holds the failures and the rows checked."""
    scan = ContractScan(contract, schema, value_columns)
    for batch in batches:
        scan.update(batch)
    return scan


def _decoded(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    return column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column


def _null_mask(column):
    mask = column.is_null()
    if pa.types.is_floating(column.type):  # pandas (and so GX) counts NaN as missing
        mask = pc.or_(mask, pc.fill_null(pc.is_nan(column), False))
    return mask


def _outside_mask(column, rule: ColumnContract):
    values = column
    if pa.types.is_date(column.type):  # compared as midnight timestamps, as pandas sees dates
        values = column.cast(pa.timestamp("ms"))
    low, high = (typed_bound(rule, b) for b in (rule.min, rule.max))
    parts = []
    if low is not None:
        parts.append(pc.less(values, pa.scalar(low)))
    if high is not None:
        parts.append(pc.greater(values, pa.scalar(high)))
    mask = parts[0] if len(parts) == 1 else pc.or_(parts[0], parts[1])
    return pc.fill_null(mask, False)


def _not_allowed_mask(column, rule: ColumnContract):
    allowed = pa.array(list(rule.allowed), pa.bool_() if pa.types.is_boolean(column.type) else pa.string())
    if not pa.types.is_boolean(column.type):
        allowed = allowed.cast(column.type)
    return pc.and_(column.is_valid(), pc.invert(pc.fill_null(pc.is_in(column, value_set=allowed), False)))


def _most_common(values: list) -> list:
    """Distinct `values`, most frequent first, ties in sorted order (GX's `partial_unexpected_counts`)."""
    counts: dict = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    try:
        return sorted(counts, key=lambda v: (-counts[v], v))
    except TypeError:  # values that do not sort: by count only
        return sorted(counts, key=lambda v: -counts[v])


def _pandas_value(value: Any) -> Any:
    """A value as the pandas view shows it (dates and datetimes as Timestamps), for quoting."""
    if isinstance(value, (dt.datetime, dt.date)):
        return pd.Timestamp(value)
    return value


# ---------------------------------------------------------------- inferring


@dataclass
class _Observed:
    """What one column has shown so far, for inference."""

    name: str
    kind: ColumnKind
    missing: int = 0  # nulls and NaN
    non_null: int = 0
    low: Any = None
    high: Any = None
    only_nan: bool = False  # some batch had values, all NaN (min_max gives NaN for the whole column then)
    distinct: pa.Array | None = None
    too_many: bool = False  # more distinct values than an allowed set may list


class ContractInference:
    """`infer_contract` added up over record batches: the same contract as on the whole table."""

    def __init__(self, schema: pa.Schema, rules: InferenceRules = InferenceRules()):
        self.schema = schema
        self.rules = rules
        self._columns = [_Observed(f.name, column_kind(f.name, f.type)) for f in schema]

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        for seen in self._columns:
            column = _decoded(batch.column(seen.name))
            n_nan = (pc.sum(pc.is_nan(column)).as_py() or 0) if pa.types.is_floating(column.type) else 0
            seen.missing += column.null_count + n_nan
            seen.non_null += len(column) - column.null_count
            if seen.kind in (ColumnKind.CONTINUOUS, ColumnKind.DATETIME):
                _widen(seen, pc.min_max(column))
            elif not seen.too_many:
                values = pc.unique(column.drop_null())
                seen.distinct = values if seen.distinct is None else pc.unique(pa.concat_arrays(
                    [seen.distinct, values.cast(seen.distinct.type)]))
                seen.too_many = (seen.kind is ColumnKind.DISCRETE
                                 and len(seen.distinct) > self.rules.max_allowed_values)

    def contract(self) -> Contract:
        return Contract(columns=tuple(self._column(f, seen) for f, seen in zip(self.schema, self._columns)),
                        range_policy=self.rules.ranges.describe())

    def _column(self, arrow_field: pa.Field, seen: _Observed) -> ColumnContract:
        base = ColumnContract(seen.name, str(arrow_field.type), nullable=seen.missing > 0)
        if seen.kind in (ColumnKind.CONTINUOUS, ColumnKind.DATETIME):
            if seen.low is None and seen.only_nan:
                return replace(base, min=math.nan, max=math.nan)
            if seen.low is None:
                return base
            low, high = inferred_range(seen.low, seen.high, self.rules.ranges)
            return replace(base, min=low, max=high)
        if seen.too_many:
            return base
        values = seen.distinct.to_pylist() if seen.distinct is not None else []
        id_like = (len(values) >= self.rules.id_like_min_distinct
                   and len(values) >= self.rules.id_like_unique_ratio * seen.non_null)
        if seen.kind is ColumnKind.DISCRETE and id_like:
            return base
        return replace(base, allowed=tuple(sorted(values)))


def _widen(seen: _Observed, bounds: pa.StructScalar) -> None:
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if low is None:
        return
    if isinstance(low, float) and math.isnan(low):  # a batch of NaN only: min_max skips NaN otherwise
        seen.only_nan = True
        return
    seen.low = low if seen.low is None else min(seen.low, low)
    seen.high = high if seen.high is None else max(seen.high, high)


def infer_contract_batches(schema: pa.Schema, batches: Iterable[pa.RecordBatch],
                           rules: InferenceRules = InferenceRules()) -> Contract:
    """The contract `synth.contract.infer_contract` gives for the concatenated `batches`."""
    inference = ContractInference(schema, rules)
    for batch in batches:
        inference.update(batch)
    return inference.contract()
