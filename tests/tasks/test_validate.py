"""Contract validation with real Great Expectations on real Parquet, and the Prefect task around it."""
from __future__ import annotations

import datetime as dt
import json
import os
import pickle

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synth.contract import default_contract_path, infer_contract, load_contract, save_contract
from synth.errors import ConfigError
from tasks.validate import ValidationFailed, resolve_contract, validate_table
from tests.support.storage import read_all
from tests.support.tables import diamonds_like

ROWS = 60


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> pa.Table:
    """Diamonds-like data, through a real Parquet file."""
    data = diamonds_like(ROWS)
    path = tmp_path_factory.mktemp("data") / "diamonds.parquet"
    pq.write_table(data, path)
    return read_all(path)


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
    ("sold_at", pa.timestamp("us"), "timestamp[us, tz=UTC]"),  # the time zone dropped
    ("graded_on", pa.timestamp("ms"), "date32[day]"),
    ("certified", pa.int8(), "bool"),
])
def test_changed_arrow_type(table, contract, name, new_type, old):
    index = table.schema.get_field_index(name)
    changed = table.set_column(index, name, table.column(name).cast(new_type))
    assert only_failure(changed, contract) == ("expect_column_arrow_type", name, str(new_type))
    assert validate_table(changed, contract).failures[0].expected == old


@pytest.mark.parametrize("name, new_type", [
    ("cut", pa.large_string()), ("cut", pa.string_view()), ("cut", pa.dictionary(pa.int16(), pa.string())),
    ("color", pa.string()), ("color", pa.large_string()), ("price", pa.int32()), ("price", pa.uint16()),
    ("carat", pa.float32()), ("sold_at", pa.timestamp("ns", tz="UTC")), ("sold_at", pa.timestamp("ms", tz="UTC")),
    ("graded_on", pa.date64()),
])
def test_another_encoding_of_the_same_values_passes(table, contract, name, new_type):
    index = table.schema.get_field_index(name)
    changed = table.set_column(index, name, table.column(name).cast(new_type))
    result = validate_table(changed, contract)
    assert result.success, [f.line() for f in result.failures]


def test_a_nightly_table_that_grew_passes_and_an_outlier_fails(table, contract):
    def shifted(carat_max: float) -> pa.Table:
        prices = table.column("price").to_pylist()
        nightly = with_values(table, "price", prices[:-1] + [round(max(prices) * 1.01)])  # the max up 1%
        for name in ("sold_at", "graded_on"):  # a day newer
            nightly = with_values(nightly, name, [t + dt.timedelta(days=1) for t in table.column(name).to_pylist()])
        return with_values(nightly, "carat", table.column("carat").to_pylist()[:-1] + [carat_max])

    carat = table.column("carat").to_pylist()
    assert validate_table(shifted(max(carat) * 1.01), contract).success
    far = max(carat) + 10 * (max(carat) - min(carat))
    assert only_failure(shifted(far), contract)[:2] == ("expect_column_values_to_be_between", "carat")


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
    ("graded_on", dt.date(2019, 1, 1), "2019-01-01"),  # dates have a min only: new ones arrive every night
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


def test_a_time_zone_change_is_one_type_failure(table, contract):
    berlin = table.column("sold_at").cast(pa.timestamp("us", tz="Europe/Berlin"))
    changed = table.set_column(table.schema.get_field_index("sold_at"), "sold_at", berlin)
    result = validate_table(changed, contract)  # same instants, another zone: the type says it, not the values
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


def test_accept_schema_re_infers_from_the_input_unless_the_contract_is_the_users(table, contract, tmp_path):
    output = str(tmp_path / "out" / "diamonds_synth.parquet")
    stored = save_contract(infer_contract(table.slice(0, 10)), default_contract_path(output))
    changed = table.set_column(1, "price", table.column("price").cast(pa.float64()))
    assert resolve_contract(changed, None, output, accept_schema=True) == (
        infer_contract(changed), str(stored), True)
    explicit = save_contract(contract, tmp_path / "mine.contract.yaml")
    before = explicit.read_bytes()
    with pytest.raises(ConfigError, match=f"your own file at {explicit}.*edit it"):
        resolve_contract(changed, str(explicit), output, accept_schema=True)
    assert explicit.read_bytes() == before


def test_failure_message_ends_with_the_next_step_and_survives_pickling():
    from synth.contract import Failure

    failures = (Failure("expect_column_arrow_type", "price", "int64", "double"),)
    stored = ValidationFailed(failures, "out/x.contract.yaml")
    assert str(stored).splitlines()[-1] == (
        "next step: if this change is intended, accept the new schema with `prefect-synth run CONFIG "
        "--accept-schema` (or set validation.accept_schema: true), or edit out/x.contract.yaml")
    mine = ValidationFailed(failures, "mine.yaml", explicit=True)
    assert str(mine).splitlines()[-1] == "next step: edit mine.yaml (validation.contract) if the change is intended"
    for error in (stored, mine):
        again = pickle.loads(pickle.dumps(error))
        assert str(again) == str(error) and again.failures == failures and again.explicit == error.explicit


def test_task_infers_then_catches_drift_with_a_failure_artifact(prefect_api, table, tmp_path):
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    from flows.prefect_tasks import FAILURES_ARTIFACT_KEY
    from flows.prefect_tasks import store_inferred_contract as store_task
    from flows.prefect_tasks import validate as validate_task

    output = str(tmp_path / "diamonds_synth.parquet")

    @flow
    def refresh(data: pa.Table, accept_schema: bool = False):
        result = validate_task(data, None, output, accept_schema=accept_schema)
        return result, store_task(result)

    result, stored = refresh(table)
    assert result.success and result.inferred and stored == str(default_contract_path(output))

    drifted = with_values(table, "carat", [9.5] + table.column("carat").to_pylist()[1:])
    state = refresh(drifted, return_state=True)
    assert state.is_failed()
    with pytest.raises(ValidationFailed, match=r"column 'carat': expect_column_values_to_be_between.*9\.5") as info:
        state.result()
    assert "--accept-schema" in str(info.value) and str(info.value).endswith(f"or edit {stored}")

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=[FAILURES_ARTIFACT_KEY]),
            flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))
    assert len(artifacts) == 1 and artifacts[0].type == "table"
    rows = json.loads(artifacts[0].data) if isinstance(artifacts[0].data, str) else artifacts[0].data
    assert rows == [{"column": "carat", "expectation": "expect_column_values_to_be_between",
                     "expected": rows[0]["expected"], "observed": f"1 of {ROWS} values outside, e.g. 9.5"}]

    result, stored_again = refresh(drifted, accept_schema=True)  # the change was intended: accept it
    assert result.success and result.inferred and stored_again == stored
    assert load_contract(stored) == infer_contract(drifted)
    result, _ = refresh(drifted)
    assert result.success and not result.inferred
