"""The deployments of deployments/prefect.yaml on a real Prefect server, run by real process workers,
tracked by a real MLflow server: what a data platform sees when it schedules and triggers refreshes."""
from __future__ import annotations

import json
import time
from zoneinfo import ZoneInfo

import mlflow
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from mlflow import MlflowClient
from prefect.exceptions import PrefectHTTPStatusError
from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

from tests.support.servers import MLFLOW_SECRET_KEY, MLFLOW_USERS, PREFECT_AUTH, REPO, tiny_actgan_config, wait_final

pytestmark = pytest.mark.slow

DEPLOYMENTS = {d["name"]: d for d in yaml.safe_load((REPO / "deployments" / "prefect.yaml").read_text())["deployments"]}


@pytest.fixture
def mlflow_client(stack, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", stack.mlflow_uri)
    mlflow.set_tracking_uri(stack.mlflow_uri)
    yield MlflowClient(stack.mlflow_uri)
    mlflow.set_tracking_uri(None)


def test_every_deployment_is_registered_with_schedule_pool_tags_and_limit(prefect_client):
    pools = {p.name: p.type for p in prefect_client.read_work_pools()}
    assert pools["local-process"] == "process" and pools["docker-pool"] == "docker" and pools["k8s-gpu"] == "kubernetes"
    gpu_variables = prefect_client.read_work_pool("k8s-gpu").base_job_template["variables"]["properties"]
    assert {"gpu_count", "node_selector", "tolerations"} <= set(gpu_variables)
    for name, spec in DEPLOYMENTS.items():
        flow = "refresh-many" if name == "refresh-many" else "synthetic-refresh"
        deployment = prefect_client.read_deployment_by_name(f"{flow}/{name}")
        assert deployment.work_pool_name == spec["work_pool"]["name"]
        assert set(deployment.tags) == set(spec["tags"])
        assert deployment.enforce_parameter_schema
        assert deployment.global_concurrency_limit is not None and deployment.global_concurrency_limit.limit == 1
        assert deployment.concurrency_options.collision_strategy.value == "ENQUEUE"
        [schedule] = deployment.schedules
        assert schedule.schedule.cron.endswith("* * *") and schedule.schedule.timezone == "Europe/Amsterdam"
    nightly = prefect_client.read_deployment_by_name("synthetic-refresh/diamonds-nightly")
    assert nightly.schedules[0].active and nightly.pull_steps[0][
        "prefect.deployments.steps.set_working_directory"]["directory"] == str(REPO)
    gpu = prefect_client.read_deployment_by_name("synthetic-refresh/weather-gpu")
    assert gpu.job_variables["gpu_count"] == 1 and gpu.job_variables["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert gpu.parameters["config"]["model"]["training"]["device"] == "cuda"


def test_the_server_schedules_the_nightly_runs(prefect_client):
    """The scheduler service inserts the coming 02:00 (Amsterdam) runs of an active schedule (with SQLAlchemy
    2.1 Prefect 3.8.8's scheduler failed at that insert: schedules never fired)."""
    from prefect.client.schemas.filters import (DeploymentFilter, DeploymentFilterId, FlowRunFilter, FlowRunFilterState,
                                               FlowRunFilterStateType)
    from prefect.client.schemas.objects import StateType

    nightly = prefect_client.read_deployment_by_name("synthetic-refresh/diamonds-nightly")
    scheduled = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])))
    runs, deadline = [], time.monotonic() + 90
    while not runs and time.monotonic() < deadline:
        time.sleep(2)
        runs = prefect_client.read_flow_runs(flow_run_filter=scheduled, deployment_filter=DeploymentFilter(
            id=DeploymentFilterId(any_=[nightly.id])))
    assert runs, "the server scheduled no run of an active nightly schedule in 90 s"
    amsterdam = ZoneInfo("Europe/Amsterdam")
    assert {(r.expected_start_time.astimezone(amsterdam).hour, r.expected_start_time.minute) for r in runs} == {(2, 0)}
    assert all(r.parameters == nightly.parameters for r in runs)
    counts = [prefect_client.count_flow_runs()]  # let the scheduler finish with every deployment, so that
    while len(counts) < 3 or len(set(counts[-3:])) > 1:  # the tests that count runs count only their own
        assert time.monotonic() < deadline + 60, f"the scheduler is still adding runs: {counts}"
        time.sleep(3)
        counts.append(prefect_client.count_flow_runs())


def test_the_form_schema_has_titles_descriptions_enums_and_bounds(prefect_client):
    schema = prefect_client.read_deployment_by_name("synthetic-refresh/diamonds-nightly").parameter_openapi_schema
    definitions = schema["definitions"]
    model = definitions["RefreshConfig"]["properties"]["model"]
    assert [ref["$ref"].split("/")[-1] for ref in model["anyOf"]] == ["ActganModelConfig", "DganModelConfig"]
    actgan = definitions["ActganModelConfig"]
    assert actgan["title"] == "ACTGAN (tables)"
    assert actgan["properties"]["epochs"]["minimum"] == 1 and actgan["properties"]["epochs"]["description"]
    assert actgan["properties"]["conditioning"]["enum"] == ["single_discrete", "anyway"]
    assert definitions["TrainingConfig"]["properties"]["device"]["enum"] == ["auto", "cpu", "cuda"]


@pytest.mark.parametrize("bad", [
    {"model": {"kind": "actgan", "epochs": 0}},            # below the bound
    {"model": {"kind": "actgan", "epochs": 3, "learning_rate": 1}},  # unknown key
    {"model": {"kind": "gan", "epochs": 3}},                # not a kind
    {"model": {"kind": "actgan", "training": {"device": "tpu"}}},  # not in the enum
])
def test_the_server_refuses_invalid_parameters_before_a_run_starts(prefect_client, tiny_data, bad):
    deployment = prefect_client.read_deployment_by_name("synthetic-refresh/diamonds-nightly")
    config = {**tiny_actgan_config(tiny_data["table"], tiny_data["folder"] / "never.parquet"), **bad}
    before = prefect_client.count_flow_runs()  # the scheduled nights included (a list stops at 200)
    with pytest.raises(PrefectHTTPStatusError, match="409"):
        prefect_client.create_flow_run_from_deployment(deployment.id, parameters={"config": config})
    assert prefect_client.count_flow_runs() == before


def test_a_deployment_run_reaches_the_mlflow_server_and_moves_the_champion(
        stack, workers, prefect_client, mlflow_client, tiny_data, tmp_path):
    output = tmp_path / "out" / "gems_synth.parquet"
    deployment = prefect_client.read_deployment_by_name("synthetic-refresh/diamonds-nightly")
    run = prefect_client.create_flow_run_from_deployment(
        deployment.id, parameters={"config": tiny_actgan_config(tiny_data["table"], output)})
    run = wait_final(prefect_client, run.id)
    assert run.state.is_completed(), _logs(stack)
    assert pq.read_table(output).num_rows == pq.read_table(tiny_data["table"]).num_rows

    # Prefect: the validation table, the fidelity summary, the MLflow link and a finished progress bar
    artifacts = {a.key: a for a in prefect_client.read_artifacts() if a.flow_run_id == run.id}
    assert {"validation-table", "validation-summary", "fidelity-summary", "mlflow-run", "training-progress"} <= set(artifacts)
    assert artifacts["training-progress"].data == 100.0
    assert stack.mlflow_uri in artifacts["mlflow-run"].data
    rows = json.loads(artifacts["validation-table"].data)
    assert [r["column"] for r in rows] == ["carat", "cut", "price"]

    # MLflow: one experiment per dataset, the run's tags, params, per-epoch metrics, report and model
    experiment = mlflow_client.get_experiment_by_name("gems_synth")
    [mlrun] = mlflow_client.search_runs([experiment.experiment_id],
                                        filter_string=f"tags.`prefect.flow_run_id` = '{run.id}'")
    tags, params = mlrun.data.tags, mlrun.data.params
    assert tags["prefect.deployment_name"] == "diamonds-nightly" and tags["synth.dataset"] == "gems_synth"
    assert tags["synth.model_kind"] == "actgan" and len(tags["synth.data_hash"]) == 16
    assert tags["synth.quality_gate"] == "passed" and params["model.epochs"] == "3"
    assert [m.step for m in mlflow_client.get_metric_history(mlrun.info.run_id, "wasserstein")] == [1, 2, 3]
    assert "report.overall" in mlrun.data.metrics
    assert {"report/report.json", "report/report.html"} <= {
        a.path for a in mlflow_client.list_artifacts(mlrun.info.run_id, "report")}
    champion = mlflow_client.get_model_version_by_alias("gems_synth", "champion")
    assert champion.run_id == mlrun.info.run_id
    model = mlflow.pyfunc.load_model("models:/gems_synth@champion")
    rows = model.predict(pd.DataFrame({"num_rows": [7], "seed": [1]}))
    assert list(rows.columns) == ["carat", "cut", "price"] and len(rows) == 7

    # the run went through both servers' authentication with the runner's credentials, and left none
    # of them (nor the admin's or the viewer's) in a log, a Prefect artifact, an MLflow param, tag or
    # artifact, the report or the output's metadata
    downloaded = tmp_path / "mlflow-artifacts"
    mlflow.artifacts.download_artifacts(run_id=mlrun.info.run_id, dst_path=str(downloaded))
    texts = {path.name: path.read_bytes().decode("utf-8", "replace") for path in downloaded.rglob("*") if path.is_file()}
    texts.update({log.name: log.read_text() for log in stack.home.glob("*.log")})
    texts["flow run logs"] = "\n".join(log.message for log in prefect_client.read_logs() if log.flow_run_id == run.id)
    texts["prefect artifacts"] = "\n".join(str(a.data) for a in artifacts.values())
    texts["mlflow params and tags"] = json.dumps([params, tags])
    texts["output metadata"] = str(pq.read_metadata(output).metadata)
    texts["report"] = (output.parent / "gems_synth.report" / "report.json").read_text()
    assert len(texts) > 10 and texts["flow run logs"]
    secrets = [PREFECT_AUTH.split(":", 1)[1], *MLFLOW_USERS.values(), MLFLOW_SECRET_KEY]
    assert not [name for name, text in texts.items() if any(secret in text for secret in secrets)]


def test_refresh_many_spreads_one_run_per_table_over_two_workers(stack, workers, prefect_client, tiny_data, tmp_path):
    from flows.refresh_many import RefreshPlan, TableRun, refresh_many

    out = tmp_path / "out"
    plan = RefreshPlan(tables=[
        TableRun(deployment="synthetic-refresh/diamonds-nightly", overrides=[
            f"source.path={tiny_data['table']}", f"output.path={out / 'gems_many.parquet'}", "model.epochs=2",
            "model.embedding_dim=16", "model.generator_dims=[32]", "model.critic_dims=[32]",
            "model.training.batch_size=100"]),
        TableRun(deployment="synthetic-refresh/weather-nightly", overrides=[
            f"source.path={tiny_data['weather']}", f"output.path={out / 'weather_many.parquet'}", "model.epochs=2",
            "model.training.batch_size=16"]),
    ], overrides=["report.gate.enabled=false", "report.bootstrap=0"], timeout_minutes=7)
    with temporary_settings({PREFECT_API_URL: stack.prefect_api, PREFECT_API_AUTH_STRING: PREFECT_AUTH}):
        outcome = refresh_many(plan)
    assert [e["state"] for e in outcome] == ["COMPLETED", "COMPLETED"], _logs(stack)
    assert (out / "gems_many.parquet").is_file() and (out / "weather_many.parquet").is_file()
    # each table's run is its own deployment run, and the two were executed by different workers
    children = [prefect_client.read_flow_run(e["flow_run_id"]) for e in outcome]
    assert {c.deployment_id for c in children} == {
        prefect_client.read_deployment_by_name("synthetic-refresh/diamonds-nightly").id,
        prefect_client.read_deployment_by_name("synthetic-refresh/weather-nightly").id}
    assert {c.parameters["config"]["model"]["epochs"] for c in children} == {2}
    executed = _executing_workers(prefect_client, [str(c.id) for c in children])
    assert sorted(executed.values()) == ["prefect.worker.process.worker-a", "prefect.worker.process.worker-b"]


def test_refresh_many_refuses_a_bad_override_before_starting_anything(stack, prefect_client):
    from flows.refresh_many import RefreshPlan, TableRun, refresh_many
    from synth.errors import ConfigError

    before = prefect_client.count_flow_runs()  # the scheduled nights included (a list stops at 200)
    plan = RefreshPlan(tables=[TableRun(deployment="synthetic-refresh/diamonds-nightly"),
                               TableRun(deployment="synthetic-refresh/weather-nightly")],
                       overrides=["model.epochs=-1"])
    with temporary_settings({PREFECT_API_URL: stack.prefect_api, PREFECT_API_AUTH_STRING: PREFECT_AUTH}):
        state = refresh_many(plan, return_state=True)
    assert state.is_failed()
    with pytest.raises(ConfigError, match="epochs"):
        state.result()
    assert prefect_client.count_flow_runs() == before + 1  # the refresh-many run itself: no refresh run was started
    assert prefect_client.read_flow_run(state.state_details.flow_run_id).deployment_id is None


def _executing_workers(client, flow_run_ids: list[str], timeout_s: float = 60) -> dict[str, str]:
    """flow run id → the worker that executed it, from the workers' own events (sent when a run's
    process has exited, so shortly after its final state: polled)."""
    deadline = time.monotonic() + timeout_s
    found: dict[str, str] = {}
    while len(found) < len(flow_run_ids) and time.monotonic() < deadline:
        for run_id in flow_run_ids:
            response = client.request("POST", "/events/filter", json={"limit": 50, "filter": {
                "event": {"name": ["prefect.worker.executed-flow-run"]},
                "related": {"id": [f"prefect.flow-run.{run_id}"]}}})
            for event in response.json()["events"]:
                found[run_id] = event["resource"]["prefect.resource.id"]
        time.sleep(1)
    return found


def _logs(stack) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-4000:]}" for p in sorted(stack.home.glob("worker-*.log")))
