"""Schema contracts over record batches: check (or infer) a contract on data too large to hold.

`ContractScan` adds up, batch by batch with pyarrow.compute, what Great Expectations computes on a
table in memory: per column the nulls (NaN included, as pandas counts them), the values outside
[min, max] and the values not in the allowed set, with a few examples of each. Its failures read
exactly like the ones `tasks/validate.py` makes from Great Expectations' results (the message
helpers below are shared), so a report does not change with the way the data was checked.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from synth.contract.model import ColumnContract, Contract, Failure, check_arrow_types, decoded
from synth.schema import ColumnKind

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
            column = decoded(batch.column(tally.rule.name))
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
