"""Schema contracts without Great Expectations: inference, YAML round trip, load errors, Arrow types."""
from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synth.contract import (ColumnContract, Contract, InferenceRules, check_arrow_types, default_contract_path,
                            infer_contract, load_contract, save_contract)
from synth.errors import ConfigError
from synth.io import read_table

ROWS = 120


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
    return read_table(path)


def test_infer_records_types_nulls_ranges_and_values(parquet_table):
    contract = infer_contract(parquet_table)
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
    x, d = infer_contract(table).columns
    assert x.nullable and (x.min, x.max) == (1.0, 1.0)
    assert d.min <= decimal.Decimal("0.10") <= d.max


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


def test_arrow_type_check_is_exact(parquet_table):
    contract = infer_contract(parquet_table)
    assert check_arrow_types(contract, parquet_table.schema) == []
    changed = (parquet_table.set_column(1, "price", parquet_table.column("price").cast(pa.float64()))
                            .set_column(2, "cut", parquet_table.column("cut").cast(pa.large_string()))
                            .drop_columns(["carat"]))
    failures = check_arrow_types(contract, changed.schema)
    assert [(f.column, f.expected, f.observed) for f in failures] == [
        ("price", "int64", "double"), ("cut", "string", "large_string")]
    assert "column 'price'" in failures[0].line() and "double" in failures[0].line()


@pytest.mark.parametrize("output, contract", [
    ("out/diamonds_synth.parquet", "out/diamonds_synth.contract.yaml"),
    ("out/partitioned", "out/partitioned.contract.yaml"),
])
def test_default_contract_path_is_beside_the_output(output, contract):
    assert Path(default_contract_path(output)) == Path(contract)
