"""Contract validation with real Great Expectations on real Parquet, and the Prefect task around it."""
from __future__ import annotations

import datetime as dt
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synth.contract import default_contract_path, infer_contract, save_contract
from synth.io import read_table
from tasks.validate import (FAILURES_ARTIFACT_KEY, ValidationFailed, resolve_contract, store_inferred_contract,
                            validate, validate_table)

ROWS = 60
CUTS = ["Fair", "Good", "Ideal", "Premium", "Very Good"]


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> pa.Table:
    """Diamonds-like data, through a real Parquet file."""
    data = pa.table({
        "carat": pa.array([0.2 + 0.05 * i for i in range(ROWS)], pa.float64()),
        "price": pa.array([326 + 10 * i for i in range(ROWS)], pa.int64()),
        "cut": pa.array([CUTS[i % 5] for i in range(ROWS)], pa.string()),
        "color": pa.array(["DEF"[i % 3] for i in range(ROWS)]).dictionary_encode(),
        "sold_at": pa.array([dt.datetime(2021, 1, 4, tzinfo=dt.timezone.utc) + dt.timedelta(hours=i)
                             for i in range(ROWS)], pa.timestamp("us", tz="UTC")),
        "graded_on": pa.array([dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(ROWS)], pa.date32()),
        "certified": pa.array([i % 4 != 0 for i in range(ROWS)], pa.bool_()),
    })
    path = tmp_path_factory.mktemp("data") / "diamonds.parquet"
    pq.write_table(data, path)
    return read_table(path)


@pytest.fixture(scope="module")
def contract(table):
    return infer_contract(table)


def with_values(table: pa.Table, name: str, values: list) -> pa.Table:
    """`table` with column `name` replaced by `values`, keeping its Arrow type."""
    index = table.schema.get_field_index(name)
    return table.set_column(index, name, pa.array(values, table.schema.field(index).type))


def only_failure(table: pa.Table, contract) -> tuple[str, str | None, str]:
    result = validate_table(table, contract)
    assert not result.success and len(result.failures) == 1, [f.line() for f in result.failures]
    failure = result.failures[0]
    return failure.expectation, failure.column, failure.observed


def test_passes_on_the_data_it_was_inferred_from(table, contract):
    result = validate_table(table, contract)
    assert result.success, [f.line() for f in result.failures]
    assert result.rows == ROWS and result.checks > 2 * len(contract.columns)


def test_dropped_and_extra_columns(table, contract):
    changed = table.drop_columns(["price"]).append_column("discount", pa.array([0.1] * ROWS))
    kind, column, observed = only_failure(changed, contract)
    assert kind == "expect_table_columns_to_match_set" and column is None
    assert "missing ['price']" in observed and "extra ['discount']" in observed


@pytest.mark.parametrize("name, new_type, old", [
    ("price", pa.float64(), "int64"),
    ("cut", pa.large_string(), "string"),
    ("color", pa.string(), "dictionary<values=string, indices=int32, ordered=0>"),
    ("sold_at", pa.timestamp("ns", tz="UTC"), "timestamp[us, tz=UTC]"),
])
def test_changed_arrow_type(table, contract, name, new_type, old):
    index = table.schema.get_field_index(name)
    changed = table.set_column(index, name, table.column(name).cast(new_type))
    assert only_failure(changed, contract) == ("expect_column_arrow_type", name, str(new_type))
    assert validate_table(changed, contract).failures[0].expected == old


def test_string_turned_numeric_is_one_type_failure(table, contract):
    changed = with_values(table.drop_columns(["cut"]), "price", list(range(ROWS))).append_column(
        "cut", pa.array(range(ROWS), pa.int64()))
    changed = changed.select(table.column_names)
    result = validate_table(changed, contract)
    assert [(f.expectation, f.column) for f in result.failures] == [("expect_column_arrow_type", "cut"),
                                                                    ("expect_column_values_to_be_between", "price")]


@pytest.mark.parametrize("name", ["carat", "cut", "sold_at", "certified"])
def test_nulls_in_a_non_nullable_column(table, contract, name):
    values = table.column(name).to_pylist()
    changed = with_values(table, name, [None] + values[1:])
    assert only_failure(changed, contract) == ("expect_column_values_to_not_be_null", name,
                                               f"1 of {ROWS} values null")


def test_nan_counts_as_null(table, contract):
    changed = with_values(table, "carat", [float("nan")] + table.column("carat").to_pylist()[1:])
    assert only_failure(changed, contract)[:2] == ("expect_column_values_to_not_be_null", "carat")


@pytest.mark.parametrize("name, value, shown", [
    ("carat", 9.5, "9.5"),
    ("price", 1, "1"),
    ("sold_at", dt.datetime(2020, 12, 31, tzinfo=dt.timezone.utc), "2020-12-31T00:00:00+00:00"),
    ("graded_on", dt.date(2030, 1, 1), "2030-01-01"),
])
def test_value_out_of_range(table, contract, name, value, shown):
    changed = with_values(table, name, [value] + table.column(name).to_pylist()[1:])
    kind, column, observed = only_failure(changed, contract)
    assert (kind, column) == ("expect_column_values_to_be_between", name)
    assert observed.startswith(f"1 of {ROWS} values outside") and shown in observed


@pytest.mark.parametrize("name, value", [("cut", "Superb"), ("color", "Z"), ("certified", False)])
def test_unseen_category(table, contract, name, value):
    if name == "certified":  # a boolean column that only ever held True has allowed [true]
        table = with_values(table, name, [True] * ROWS)
        contract = infer_contract(table)
    changed = with_values(table, name, table.column(name).to_pylist()[:-1] + [value])
    kind, column, observed = only_failure(changed, contract)
    assert (kind, column) == ("expect_column_values_to_be_in_set", name)
    assert observed.startswith(f"1 of {ROWS} values not allowed") and repr(value) in observed


def test_tz_aware_bounds_compare_across_time_zones(table, contract):
    berlin = table.column("sold_at").cast(pa.timestamp("us", tz="Europe/Berlin"))
    changed = table.set_column(table.schema.get_field_index("sold_at"), "sold_at", berlin)
    result = validate_table(changed, contract)  # same instants: only the type differs
    assert [(f.expectation, f.column) for f in result.failures] == [("expect_column_arrow_type", "sold_at")]


def test_resolve_contract_prefers_explicit_then_beside_then_inferred(table, contract, tmp_path):
    output = tmp_path / "out" / "diamonds_synth.parquet"
    inferred, path, is_new = resolve_contract(table, None, str(output))
    assert (inferred, path, is_new) == (contract, default_contract_path(output), True)
    assert not os.path.exists(path)  # inferring writes nothing
    narrower = infer_contract(table.slice(0, 10))
    save_contract(narrower, path)
    assert resolve_contract(table, None, str(output)) == (narrower, path, False)
    explicit = save_contract(contract, tmp_path / "explicit.yaml")
    assert resolve_contract(table, str(explicit), str(output)) == (contract, str(explicit), False)


def test_task_infers_then_catches_drift_with_a_failure_artifact(prefect_api, table, tmp_path):
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    output = str(tmp_path / "diamonds_synth.parquet")

    @flow
    def refresh(data: pa.Table):
        result = validate(data, None, output)
        return result, store_inferred_contract(result)

    result, stored = refresh(table)
    assert result.success and result.inferred and stored == str(default_contract_path(output))

    drifted = with_values(table, "carat", [9.5] + table.column("carat").to_pylist()[1:])
    state = refresh(drifted, return_state=True)
    assert state.is_failed()
    with pytest.raises(ValidationFailed, match=r"column 'carat': expect_column_values_to_be_between.*9\.5"):
        state.result()

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=[FAILURES_ARTIFACT_KEY]),
            flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))
    assert len(artifacts) == 1 and artifacts[0].type == "table"
    rows = json.loads(artifacts[0].data) if isinstance(artifacts[0].data, str) else artifacts[0].data
    assert rows == [{"column": "carat", "expectation": "expect_column_values_to_be_between",
                     "expected": rows[0]["expected"], "observed": f"1 of {ROWS} values outside, e.g. 9.5"}]
