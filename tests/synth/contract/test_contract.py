"""Schema contracts without Great Expectations: inference and its range policy, YAML round trip, load
errors, Arrow type families."""
from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from synth.contract import (ColumnContract, Contract, InferenceRules, RangePolicy, check_arrow_types,
                            default_contract_path, infer_contract, load_contract, save_contract)
from synth.errors import ConfigError
from tests.support.storage import read_all

ROWS = 120
EXACT = InferenceRules(ranges=RangePolicy(margin=0.0, datetime_max=True))  # the observed min/max as they are


def diamonds() -> pa.Table:
    """A small diamonds-like table with one column of every kind the contract treats differently."""
    cuts = ["Fair", "Good", "Ideal", "Premium", "Very Good"]
    return pa.table({
        "carat": pa.array([0.2 + 0.04 * i for i in range(ROWS)], pa.float64()),
        "price": pa.array([326 + 10 * i for i in range(ROWS)], pa.int64()),
        "cut": pa.array([cuts[i % 5] for i in range(ROWS)], pa.string()),
        "color": pa.array(["DEF"[i % 3] for i in range(ROWS)]).dictionary_encode(),
        "sold_at": pa.array([dt.datetime(2021, 1, 4, tzinfo=dt.timezone.utc) + dt.timedelta(hours=i)
                             for i in range(ROWS)], pa.timestamp("us", tz="UTC")),
        "graded_on": pa.array([dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(ROWS)], pa.date32()),
        "certified": pa.array([i % 4 != 0 if i % 7 else None for i in range(ROWS)], pa.bool_()),
        "sku": pa.array([f"SKU-{i:05d}" for i in range(ROWS)], pa.string()),
    })


@pytest.fixture
def parquet_table(tmp_path) -> pa.Table:
    path = tmp_path / "diamonds.parquet"
    pq.write_table(diamonds(), path)
    return read_all(path)


def test_infer_records_types_nulls_ranges_and_values(parquet_table):
    contract = infer_contract(parquet_table, EXACT)
    by_name = {c.name: c for c in contract.columns}

    assert contract.names == parquet_table.column_names
    assert by_name["carat"] == ColumnContract("carat", "double", False, 0.2, 0.2 + 0.04 * (ROWS - 1))
    assert (by_name["price"].min, by_name["price"].max) == (326, 326 + 10 * (ROWS - 1))
    assert by_name["cut"].allowed == ("Fair", "Good", "Ideal", "Premium", "Very Good")
    assert by_name["color"].arrow_type == "dictionary<values=string, indices=int32, ordered=0>"
    assert by_name["color"].allowed == ("D", "E", "F")
    assert by_name["sold_at"].min == "2021-01-04T00:00:00+00:00"
    assert by_name["graded_on"].max == (dt.date(2020, 1, 1) + dt.timedelta(days=ROWS - 1)).isoformat()
    assert by_name["certified"].nullable and by_name["certified"].allowed == (False, True)
    assert by_name["sku"].allowed is None  # every value distinct: an ID, not a category


def test_infer_stores_no_allowed_set_for_many_distinct_values():
    table = pa.table({"city": [f"c{i % 30}" for i in range(300)]})
    assert infer_contract(table).columns[0].allowed is not None
    assert infer_contract(table, InferenceRules(max_allowed_values=20)).columns[0].allowed is None


def test_infer_counts_nan_as_null_and_rounds_decimals_outward():
    table = pa.table({"x": [1.0, float("nan")], "d": pa.array([decimal.Decimal("0.10")], pa.decimal128(5, 2))
                      .take([0, 0])})
    x, d = infer_contract(table, EXACT).columns
    assert x.nullable and (x.min, x.max) == (1.0, 1.0)
    assert d.min < decimal.Decimal("0.10") < d.max  # 0.1 is no float: the nearest ones either side


def test_save_load_round_trip(parquet_table, tmp_path):
    contract = infer_contract(parquet_table)
    path = save_contract(contract, tmp_path / "sub" / "c.contract.yaml")
    assert load_contract(path) == contract


def test_saved_yaml_is_one_short_mapping_per_column(tmp_path):
    contract = Contract((ColumnContract("carat", "double", False, 0.2, 5.01),
                         ColumnContract("cut", "string", False, allowed=("Fair", "yes", "1"))))
    text = save_contract(contract, tmp_path / "c.yaml").read_text()
    assert "carat: {type: double, nullable: false, min: 0.2, max: 5.01}" in text
    assert "allowed: [Fair, 'yes', '1']" in text  # quoted, so YAML reads them back as strings
    assert load_contract(tmp_path / "c.yaml") == contract


def test_load_hand_written_yaml_normalises_dates_and_types(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("version: 1\ncolumns:\n"
                    "  day: {type: 'date32[day]', min: 2020-01-01}\n"
                    "  at: {type: 'timestamp[us,tz=UTC]', nullable: false, max: 2021-01-04 10:00:00+00:00}\n")
    day, at = load_contract(path).columns
    assert day == ColumnContract("day", "date32[day]", True, "2020-01-01", None)
    assert at == ColumnContract("at", "timestamp[us, tz=UTC]", False, None, "2021-01-04T10:00:00+00:00")


@pytest.mark.parametrize("body, names", [
    ("version: 1\ncolumns:\n  carat: {type: double, maximum: 3}\n", "columns.carat.maximum"),
    ("version: 1\ncolums: {}\n", "colums"),
    ("version: 2\ncolumns:\n  carat: {type: double}\n", "version"),
    ("version: 1\ncolumns:\n  carat: {type: float64}\n", "columns.carat.type"),
    ("version: 1\ncolumns:\n  carat: {nullable: false}\n", "columns.carat.type"),
    ("version: 1\ncolumns:\n  carat: {type: double, nullable: maybe}\n", "columns.carat.nullable"),
    ("version: 1\ncolumns:\n  carat: {type: double, min: low}\n", "columns.carat.min"),
    ("version: 1\ncolumns:\n  carat: {type: double, allowed: [1.0]}\n", "columns.carat.allowed"),
    ("version: 1\ncolumns:\n  cut: {type: string, allowed: [Fair, yes]}\n", "columns.cut.allowed"),
    ("version: 1\ncolumns:\n  cut: {type: string, min: a}\n", "columns.cut.min"),
    ("version: 1\ncolumns:\n  at: {type: 'timestamp[us, tz=UTC]', min: '2021-01-04'}\n", "columns.at.min"),
    ("version: 1\ncolumns:\n  at: {type: 'timestamp[us]', min: '2021-01-04T00:00:00+01:00'}\n", "columns.at.min"),
    ("version: 1\ncolumns: [carat]\n", "columns"),
    ("version: 1\nrange_policy: [wide]\ncolumns:\n  carat: {type: double}\n", "range_policy"),
    ("version: 1\ncolumns: {carat: {type: double}\n", "not valid YAML"),
])
def test_load_errors_name_file_and_key(tmp_path, body, names):
    path = tmp_path / "bad.contract.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError) as info:
        load_contract(path)
    assert str(path) in str(info.value) and names in str(info.value)


def test_load_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_contract(tmp_path / "absent.yaml")


@pytest.mark.parametrize("contract_type, data_type", [
    (pa.string(), pa.large_string()),  # pandas 2 wrote the contract's input, pandas 3 this one
    (pa.large_string(), pa.string()),
    (pa.string(), pa.string_view()),
    (pa.string(), pa.dictionary(pa.int32(), pa.string())),
    (pa.dictionary(pa.int8(), pa.large_string()), pa.string()),
    (pa.int32(), pa.int64()),
    (pa.int64(), pa.int32()),
    (pa.int64(), pa.uint16()),
    (pa.float32(), pa.float64()),
    (pa.decimal128(5, 2), pa.decimal128(12, 3)),
    (pa.date32(), pa.date64()),
    (pa.timestamp("us", tz="UTC"), pa.timestamp("ns", tz="UTC")),
    (pa.timestamp("ms"), pa.timestamp("s")),
])
def test_arrow_type_check_accepts_another_encoding_of_the_same_family(contract_type, data_type):
    contract = Contract((ColumnContract("x", str(contract_type)),))
    assert check_arrow_types(contract, pa.schema([("x", data_type)])) == []


@pytest.mark.parametrize("contract_type, data_type", [
    (pa.int64(), pa.float64()),
    (pa.float64(), pa.int64()),
    (pa.string(), pa.int64()),
    (pa.int64(), pa.string()),
    (pa.bool_(), pa.int8()),
    (pa.int64(), pa.dictionary(pa.int32(), pa.int64())),  # a categorical now, not a number
    (pa.float64(), pa.decimal128(10, 2)),
    (pa.date32(), pa.timestamp("ms")),
    (pa.timestamp("us", tz="UTC"), pa.timestamp("us")),  # a time zone change is a real change
    (pa.timestamp("us", tz="UTC"), pa.timestamp("us", tz="Europe/Berlin")),
])
def test_arrow_type_check_refuses_another_family(contract_type, data_type):
    contract = Contract((ColumnContract("x", str(contract_type)),))
    [failure] = check_arrow_types(contract, pa.schema([("x", data_type)]))
    assert (failure.column, failure.expected, failure.observed) == ("x", str(contract_type), str(data_type))


def test_arrow_type_check_reads_the_exact_type_and_skips_missing_columns(parquet_table):
    contract = infer_contract(parquet_table)
    assert check_arrow_types(contract, parquet_table.schema) == []
    changed = (parquet_table.set_column(1, "price", parquet_table.column("price").cast(pa.float64()))
                            .set_column(2, "cut", parquet_table.column("cut").cast(pa.large_string()))
                            .drop_columns(["carat"]))
    failures = check_arrow_types(contract, changed.schema)
    assert [(f.column, f.expected, f.observed) for f in failures] == [("price", "int64", "double")]
    assert "column 'price'" in failures[0].line() and "double" in failures[0].line()
    assert {c.name: c.arrow_type for c in contract.columns}["cut"] == "string"  # the exact type seen is kept


# ---------------------------------------------------------------- the range policy


def ranges(values, arrow_type=None, policy: RangePolicy = RangePolicy()):
    column = infer_contract(pa.table({"x": pa.array(values, arrow_type)}), InferenceRules(ranges=policy)).columns[0]
    return column.min, column.max


def test_ranges_widen_by_a_quarter_of_the_span_rounded_outward():
    assert ranges([100.0, 120.0, 140.0]) == (90.0, 150.0)  # span 40: 10 each side
    assert ranges([326, 1516]) == (20, 1820)  # 297.5 each side, out to tens (2 digits of the margin)
    assert ranges([7, 7, 7]) == (5, 9)  # a constant: a quarter of its value
    assert ranges([-3.0, 0.5, 12.25]) == (-6.9, 16.1)  # both signs seen: zero is no bound
    assert ranges([100.0, 140.0], policy=RangePolicy(margin=0.5)) == (80.0, 160.0)
    assert ranges([0.2, 1.7], policy=RangePolicy(margin=0.0)) == (0.2, 1.7)


@pytest.mark.parametrize("values", [[0.2 + 0.04 * i for i in range(ROWS)], list(range(326, 20_000, 37)),
                                    [-5.5, -1.0, 3.25], [1e-7, 3e-7]])
def test_a_one_percent_larger_max_passes_and_ten_spans_out_fails(values):
    low, high = ranges(values)
    span = max(values) - min(values)
    assert low <= min(values) and max(values) * 1.01 <= high
    assert not low <= max(values) + 10 * span <= high
    assert not low <= min(values) - 10 * span <= high


@pytest.mark.parametrize("values, arrow_type", [([0.5, 40.0], pa.float64()), ([0, 3, 12], pa.int32()),
                                                ([1, 2], pa.uint8())])
def test_non_negative_columns_never_get_a_negative_min(values, arrow_type):
    low, high = ranges(values, arrow_type)
    assert low == 0 and high > max(values)
    assert ranges([-40.0, -0.5])[1] == 0.0  # and non-positive ones no positive max


@pytest.mark.parametrize("arrow_type", [pa.int8(), pa.int32(), pa.int64(), pa.uint32()])
def test_integer_bounds_are_integers(arrow_type):
    low, high = ranges([3, 17, 101], arrow_type)
    assert type(low) is int and type(high) is int and (low, high) == (0, 126)


def test_datetime_columns_get_a_wider_min_and_no_max():
    start = dt.datetime(2021, 1, 4, tzinfo=dt.timezone.utc)
    stamps = [start + dt.timedelta(hours=i) for i in range(97)]  # 4 days: a day of margin
    assert ranges(stamps, pa.timestamp("us", tz="UTC")) == ("2021-01-03T00:00:00+00:00", None)
    assert ranges(stamps, pa.timestamp("ns", tz="UTC"), RangePolicy(datetime_max=True)) == (
        "2021-01-03T00:00:00+00:00", "2021-01-09T00:00:00+00:00")
    days = [dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(41)]
    assert ranges(days, pa.date32()) == ("2019-12-22", None)


def test_policy_is_written_into_the_yaml_and_loads_back(parquet_table, tmp_path):
    contract = infer_contract(parquet_table)
    assert contract.range_policy == RangePolicy().describe() and "25%" in contract.range_policy
    text = save_contract(contract, tmp_path / "c.yaml").read_text()
    assert text.splitlines()[1] == "version: 1" and text.splitlines()[2].startswith("range_policy: 'observed")
    assert yaml.safe_load(text)["range_policy"] == contract.range_policy
    assert load_contract(tmp_path / "c.yaml") == contract
    assert load_contract(tmp_path / "c.yaml").range_policy == contract.range_policy


def test_a_contract_without_a_policy_loads(tmp_path):
    path = tmp_path / "old.contract.yaml"
    path.write_text("version: 1\ncolumns:\n  carat: {type: double, min: 0.2, max: 5.01}\n")
    assert load_contract(path) == Contract((ColumnContract("carat", "double", True, 0.2, 5.01),))
    assert "range_policy" not in save_contract(load_contract(path), tmp_path / "again.yaml").read_text()


@pytest.mark.parametrize("output, contract", [
    ("out/diamonds_synth.parquet", "out/diamonds_synth.contract.yaml"),
    ("out/partitioned", "out/partitioned.contract.yaml"),
])
def test_default_contract_path_is_beside_the_output(output, contract):
    assert Path(default_contract_path(output)) == Path(contract)
