"""A real Airflow on loopback (API server, scheduler, DAG processor, SQLite metadata database) runs the
example DAG when triggered through its REST API or its trigger form with a run config: the refresh
publishes, the MLflow run is tagged with the task instance, the task links to it, and the dummy
secrets of the MLflow and object-store connections appear in no task log, XCom, rendered field or
MLflow param or tag. Bad configs (a missing input, an unknown key, a value out of bounds) are
refused or fail with their message, and the output stays as it was."""
from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request

import pyarrow.parquet as pq
import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, browser_or_skip, screenshots
from tests.support.pipeline import TINY_MODEL, mixed_table
from tests.support.servers import free_port, start, stop, wait_http

SECRET = "dummy-airflow-SECRET-5e4d3c"
STORAGE_SECRET = "dummy-storage-SECRET-9a8b7c"  # the object store's secret key, in the aws_default connection
USER, PASSWORD = "ci", "ci-password-for-tests"
DAG = "synthetic_refresh"
RUN_TIMEOUT_S = 900


class Api:
    def __init__(self, base: str):
        self.base = base
        self.token = self.call("POST", "/auth/token", {"username": USER, "password": PASSWORD})["access_token"]

    def call(self, method: str, path: str, body: dict | None = None):
        request = urllib.request.Request(f"{self.base}{path}", method=method,
                                         data=None if body is None else json.dumps(body).encode())
        request.add_header("Content-Type", "application/json")
        if getattr(self, "token", None):
            request.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"null")

    def trigger(self, conf: dict) -> str:
        run = self.call("POST", f"/api/v2/dags/{DAG}/dagRuns", {"logical_date": None, "conf": conf})
        return run["dag_run_id"]

    def wait(self, run_id: str) -> str:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while time.monotonic() < deadline:
            state = self.call("GET", f"/api/v2/dags/{DAG}/dagRuns/{run_id}")["state"]
            if state in ("success", "failed"):
                return state
            time.sleep(2)
        raise AssertionError(f"DAG run {run_id} not finished after {RUN_TIMEOUT_S} s")

    def task(self, run_id: str, what: str = "", map_index: int = 0):
        """The mapped task instance (`what` empty: its record, rendered fields included), or one of its
        sub-resources (`/logs/1`, `/links`, `/xcomEntries/<key>`)."""
        path = f"/api/v2/dags/{DAG}/dagRuns/{run_id}/taskInstances/refresh"
        if not what:
            return self.call("GET", f"{path}/{map_index}")
        return self.call("GET", f"{path}{what}?map_index={map_index}")

    def log(self, run_id: str) -> str:
        return json.dumps(self.task(run_id, "/logs/1"))


@pytest.fixture(scope="module")
def server(af, tmp_path_factory):
    """The three Airflow components in one process group, the API on a free loopback port."""
    work = tmp_path_factory.mktemp("work")
    (work / "data").mkdir()
    pq.write_table(mixed_table(300), work / "data" / "in.parquet")
    (af.home / "passwords.json").write_text(json.dumps({USER: PASSWORD}))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    mlflow_connection = {"conn_type": "synth_mlflow", "host": f"sqlite:///{work / 'mlflow.db'}",
                         "login": "runner", "password": SECRET}
    storage_connection = {"conn_type": "aws", "login": "runner-key", "password": STORAGE_SECRET,
                          "extra": {"endpoint_url": "http://127.0.0.1:9", "region_name": "us-east-1"}}
    env = {**af.env, "AIRFLOW__API__HOST": "127.0.0.1", "AIRFLOW__API__PORT": str(port),
           "AIRFLOW__API__BASE_URL": base, "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(af.home / "passwords.json"),
           "AIRFLOW_CONN_SYNTH_MLFLOW": json.dumps(mlflow_connection), "SYNTH_HOME": str(work),
           "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(storage_connection),
           "SYNTH_SCHEDULE": "none"}  # triggered runs only: no scheduled run of the demo's configs
    airflow = str(shutil.which("airflow", path=env["PATH"]))
    script = (f"'{airflow}' api-server >api.log 2>&1 & '{airflow}' scheduler --skip-serve-logs >scheduler.log 2>&1 & "
              f"'{airflow}' dag-processor >dag-processor.log 2>&1 & wait")
    group = start(["bash", "-c", script], af.home / "airflow.log", env, af.home)
    try:
        wait_http(f"{base}/api/v2/monitor/health", group, af.home / "api.log", timeout_s=300)
        api = Api(base)
        deadline = time.monotonic() + 300
        while True:  # until the DAG processor has parsed the example DAG
            try:
                api.call("GET", f"/api/v2/dags/{DAG}")
                break
            except urllib.error.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(2)
        yield api, work
    finally:
        stop(group)


def test_a_rest_trigger_with_a_config_refreshes_and_a_bad_one_changes_nothing(server):
    api, work = server
    config = {"source": {"path": "data/in.parquet"}, "model": dict(TINY_MODEL), "output": {"path": "out/t.parquet"},
              "report": {"bootstrap": 0, "gate": {"enabled": False}}}
    run_id = api.trigger({"config": config})
    state = api.wait(run_id)
    assert state == "success", api.log(run_id)[-3000:]
    output = work / "out" / "t.parquet"
    assert pq.read_table(output).num_rows == 300
    before = output.read_bytes()

    summary = api.task(run_id, "/xcomEntries/return_value")["value"]
    summary = json.loads(summary) if isinstance(summary, str) else summary
    assert summary["output"] == "out/t.parquet" and summary["rows"] == 300
    links = api.task(run_id, "/links")["extra_links"]
    assert links["Fidelity report"].endswith("out/t.report/report.html") and links["MLflow run"]

    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{work / 'mlflow.db'}")
    run = client.get_run(summary["mlflow_run_id"])
    assert run.data.tags["airflow.run_id"] == run_id and run.data.tags["airflow.dag_id"] == DAG

    seen = [api.log(run_id), json.dumps(summary), json.dumps(api.task(run_id)),  # the last: its rendered fields
            json.dumps(run.data.params), json.dumps(run.data.tags)]
    assert not [text for text in seen if SECRET in text or STORAGE_SECRET in text]  # neither password is anywhere

    bad = api.trigger({"config": {**config, "source": {"path": "data/missing.parquet"}}})
    assert api.wait(bad) == "failed"
    assert "input data/missing.parquet: no such file or directory" in api.log(bad)
    assert output.read_bytes() == before


def test_the_trigger_form_runs_a_config_and_refuses_a_bad_one(server, tmp_path):
    """Airflow's own trigger form, in a browser: the run config typed into its `config` field runs;
    a config with an unknown key and an out-of-bounds value is refused by the form's schema (the
    same model as the Prefect form's), and no run is created."""
    sync_playwright = browser_or_skip()
    shots = screenshots(tmp_path)
    api, work = server
    good = {"source": {"path": "data/in.parquet"}, "model": {**TINY_MODEL, "epochs": 2},
            "output": {"path": "out/form.parquet"}, "report": {"bootstrap": 0, "gate": {"enabled": False}}}
    bad = {**good, "output": {"path": "out/refused.parquet"}, "colour": "red", "report": {"bootstrap": 5000}}
    answers: list[tuple[int, str]] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.on("response", lambda r: answers.append((r.status, r.text())) if r.request.method == "POST"
                    and r.url.endswith(f"/dags/{DAG}/dagRuns") else None)
            page.goto(api.base)
            page.locator("input[name=username]").fill(USER)
            page.locator("input[name=password]").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{api.base}/")
            for config in (good, bad):
                page.goto(f"{api.base}/dags/{DAG}")
                page.get_by_role("button", name="Trigger").click()
                form = page.get_by_role("dialog")
                form.get_by_text("Run config files").wait_for()  # the DAG's params, as form fields
                form.locator(".monaco-editor .view-lines").first.click()  # the `config` param's JSON editor
                page.keyboard.press("Control+A")
                page.keyboard.press("Delete")
                page.keyboard.insert_text(json.dumps(config))
                page.screenshot(path=str(shots / f"airflow-trigger-form-{len(answers)}.png"))
                before = len(answers)
                form.get_by_role("button", name="Trigger").click()
                deadline = time.monotonic() + 60
                while len(answers) == before and time.monotonic() < deadline:
                    page.wait_for_timeout(200)
            page.get_by_text("Failed to Trigger Dag").wait_for()  # what the form shows of the refusal
        finally:
            browser.close()

    [(ok, created), (refused, reason)] = answers
    assert ok == 200, created[:2000]
    assert refused == 400 and "Invalid input for param config" in reason
    assert "'colour' was unexpected" in reason  # the unknown key, named
    run_id = json.loads(created)["dag_run_id"]
    assert api.wait(run_id) == "success", api.log(run_id)[-3000:]
    runs = api.call("GET", f"/api/v2/dags/{DAG}/dagRuns")["dag_runs"]
    assert [r["conf"]["config"]["output"]["path"] for r in runs if r["dag_run_id"] == run_id] == ["out/form.parquet"]
    assert pq.read_table(work / "out" / "form.parquet").num_rows == 300
    assert not (work / "out" / "refused.parquet").exists()
    assert not [r for r in runs if (r.get("conf") or {}).get("config", {}).get("colour")]  # the bad one never ran


def test_the_rest_api_refuses_an_unknown_key_and_a_value_out_of_bounds(server):
    api, work = server
    config = {"source": {"path": "data/in.parquet"}, "model": dict(TINY_MODEL), "output": {"path": "out/never.parquet"}}
    for conf, named in (({"config": {**config, "colour": "red"}}, "'colour' was unexpected"),
                        ({"config": {**config, "report": {"bootstrap": 5000}}}, "5000 is greater than the maximum of 1000"),
                        ):
        with pytest.raises(urllib.error.HTTPError) as refused:
            api.trigger(conf)
        body = refused.value.read().decode()
        assert refused.value.code == 400 and named in body, body[:2000]
    # a key the DAG does not take: Airflow accepts any, so the DAG's first task refuses it, by name
    stray = api.trigger({"config": config, "shade": 1})
    assert api.wait(stray) == "failed"
    assert "unknown key(s) 'shade' in the run's config: this DAG takes configs, config, overrides" in json.dumps(
        api.call("GET", f"/api/v2/dags/{DAG}/dagRuns/{stray}/taskInstances/tables/logs/1"))
    assert not (work / "out" / "never.parquet").exists()
