"""Inferring a contract from data: what each column showed (its nulls, min/max, distinct values),
added up over record batches with pyarrow.compute, and ranges widened from the observed ones by a
`RangePolicy`. One inference, for a table in memory and for data streamed in batches alike."""
from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from synth.contract.model import Bound, ColumnContract, Contract, InferenceRules, RangePolicy, decoded
from synth.schema import ColumnKind, column_kind


def infer_contract(table: pa.Table, rules: InferenceRules = InferenceRules()) -> Contract:
    """The contract `table` keeps: its types, its nulls, its values, and ranges around the observed ones.

    Ranges follow `rules.ranges` (see `RangePolicy`), which is written into the contract: a later
    table with a value far outside them fails validation, which is the point (edit the YAML to move
    a bound). Every bound lies on or outside the observed values, so the table passes its own contract.
    The same as `infer_contract_batches` on the table's record batches (one inference, two entries).
    """
    inference = ContractInference(table.schema, rules)
    inference.update(table)
    return inference.contract()


# ---------------------------------------------------------------- adding up


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
            column = decoded(batch.column(seen.name))
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


# ---------------------------------------------------------------- ranges


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
