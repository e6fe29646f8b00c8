"""Contracts checked and inferred over record batches: the same failures (word for word) as Great
Expectations on the whole table, and the same contract as `infer_contract`."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from synth.contract import InferenceRules, RangePolicy, infer_contract
from synth.contract import infer_contract_batches, scan_contract
from tasks.validate import _value_checked, validate_table
from tests.support.tables import diamonds_like

ROWS = 60


@pytest.fixture(scope="module")
def table() -> pa.Table:
    return diamonds_like(ROWS)


def with_value(table: pa.Table, name: str, row: int, value) -> pa.Table:
    index = table.schema.get_field_index(name)
    values = table.column(name).to_pylist()
    values[row] = value
    return table.set_column(index, name, pa.array(values, table.schema.field(index).type))


CASES = {
    "range, float": lambda t: with_value(t, "carat", 0, 9.5),
    "range, int": lambda t: with_value(t, "price", 59, 1),
    "range, timestamp": lambda t: with_value(t, "sold_at", 30, dt.datetime(2020, 12, 31, tzinfo=dt.timezone.utc)),
    "range, date": lambda t: with_value(t, "graded_on", 59, dt.date(2019, 1, 1)),  # dates have no max
    "set, string": lambda t: with_value(t, "cut", 59, "Superb"),
    "set, dictionary": lambda t: with_value(t, "color", 12, "Z"),
    "null": lambda t: with_value(t, "price", 40, None),
    "NaN is null": lambda t: with_value(t, "carat", 3, float("nan")),
    "column set": lambda t: t.drop_columns(["cut"]).append_column("extra", pa.array([1] * ROWS)),
    "type": lambda t: t.set_column(1, "price", t.column("price").cast(pa.float64())),
    "several at once": lambda t: with_value(with_value(with_value(t, "cut", 5, "Superb"), "cut", 50, "Poor"),
                                            "price", 8, 10_000),
}


@pytest.mark.parametrize("case", CASES)
def test_batched_failures_read_exactly_like_great_expectations(table, case):
    contract = infer_contract(table)
    changed = CASES[case](table)
    expected = [f.line() for f in validate_table(changed, contract).failures]
    scan = scan_contract(contract, changed.schema, changed.to_batches(max_chunksize=7),
                         _value_checked(contract, changed.schema))
    assert expected and [f.line() for f in scan.failures()] == expected
    assert scan.rows == ROWS


def test_inference_over_batches_equals_inference_on_the_table(table):
    rng = np.random.default_rng(0)
    n = 3_000
    wide = pa.table({
        "ratio": pa.array(np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n))),
        "all_nan_early": pa.array(np.r_[np.full(100, np.nan), rng.normal(size=n - 100)]),
        "count": pa.array(np.where(rng.random(n) < 0.05, None, rng.integers(-5, 50, n)), pa.int32()),
        "code": pa.array(np.char.add("c", rng.integers(0, 1_500, n).astype(str))),  # > 1,000 values: no set
        "id": pa.array([f"row-{i}" for i in range(n)]),  # ID-like: no set
        "rare": pa.array(["x"] * (n - 1) + ["y"]),  # the second value only in the last batch
        "flag": pa.array(np.where(rng.random(n) < 0.1, None, rng.random(n) < 0.5), pa.bool_()),
        "day": pa.array([dt.date(2020, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 900, n)]),
        "at": pa.array(np.datetime64("2024-01-01T00:00:00", "ms") + rng.integers(0, 10**9, n), pa.timestamp("ms")),
        "small": pa.array(rng.integers(0, 200, n), pa.uint8()),
        "amount": pa.array(np.round(rng.gamma(2.0, 40.0, n), 2)).cast(pa.decimal128(9, 2)),
    })
    for data in (table, wide):
        batched = infer_contract_batches(data.schema, data.to_batches(max_chunksize=128))
        assert batched == infer_contract(data)
    for policy in (RangePolicy(margin=0.0, datetime_max=True), RangePolicy(margin=1.0, keep_sign=False)):
        rules = InferenceRules(ranges=policy)
        batched = infer_contract_batches(wide.schema, wide.to_batches(max_chunksize=128), rules)
        assert batched == infer_contract(wide, rules) and batched.range_policy == policy.describe()
