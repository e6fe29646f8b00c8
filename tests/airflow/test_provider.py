"""The Airflow provider in a real Airflow 3.3 (its own environment, no Prefect): registered from its
entry point, the example DAG parsed without heavy imports, and `airflow dags test synthetic_refresh`
refreshing a table end to end against a SQLite metadata database, with the same output and scores as
the Prefect flow gives for the same config, and a bad config failing with the run's own message."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import pyarrow.parquet as pq
import pytest
import yaml

from synth_airflow.params import build_schema, config_schema
from tests.support.pipeline import REPO, TINY_MODEL, child_env, mixed_table
from tests.support.servers import free_port

PROBE = textwrap.dedent('''
    import json, sys, time
    from airflow.providers_manager import ProvidersManager
    manager = ProvidersManager()
    info = manager.providers["prefect-synth"]
    from importlib.metadata import metadata
    classifiers = metadata("prefect-synth").get_all("Classifier")
    from airflow.dag_processing.dagbag import DagBag
    before = set(sys.modules)
    start = time.perf_counter()
    bag = DagBag(dag_folder=sys.argv[1])
    seconds = time.perf_counter() - start
    dag = bag.dags["synthetic_refresh"]
    heavy = sorted({m.split(".")[0] for m in set(sys.modules) - before} & {"torch", "mlflow", "great_expectations",
                                                                            "tasks", "synth", "pandas", "prefect"})
    print(json.dumps({"name": info.data["name"], "links": info.data["extra-links"],
                      "hooks": sorted(manager.hooks), "classifiers": classifiers, "errors": bag.import_errors,
                      "schedule": getattr(dag.timetable, "_expression", None) or str(dag.schedule), "params": sorted(dag.params.keys()),
                      "tasks": sorted(dag.task_ids), "heavy": heavy, "parse_seconds": seconds}))
''')


def test_the_trigger_forms_schema_is_the_run_configs():
    """The DAG reads the schema from a file (parse time); it must be what the run config makes now
    (regenerate with `python -m synth_airflow.params`)."""
    assert config_schema() == json.loads(json.dumps(build_schema(), sort_keys=True))
    assert config_schema()["properties"]["model"]["anyOf"]  # the kinds, as the Prefect form has them


def test_the_provider_is_registered_and_the_dag_parses_without_heavy_imports(af):
    done = af.python(PROBE, str(REPO / "synth_airflow" / "example_dags"))
    assert done.returncode == 0, done.stderr[-3000:]
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe["name"] == "Synthetic refresh" and probe["errors"] == {}
    assert "synth_mlflow" in probe["hooks"]
    assert "synth_airflow.operators.MlflowRunLink" in probe["links"]
    assert "Framework :: Apache Airflow :: Provider" in probe["classifiers"]
    assert probe["schedule"] == "0 2 * * *"
    assert probe["params"] == ["config", "configs", "overrides"] and probe["tasks"] == ["refresh", "tables"]
    assert probe["heavy"] == []  # the pipeline is imported when a task runs, not when the DAG is parsed
    print(f"DAG parse: {probe['parse_seconds']:.3f} s")


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    folder = tmp_path_factory.mktemp("table")
    pq.write_table(mixed_table(300), folder / "in.parquet")
    return folder / "in.parquet"


def _workdir(folder, table) -> tuple:
    """A working folder with the table at data/in.parquet and a run config with relative paths."""
    (folder / "data").mkdir(parents=True)
    shutil.copy(table, folder / "data" / "in.parquet")
    config = {"source": {"path": "data/in.parquet"}, "model": dict(TINY_MODEL), "output": {"path": "out/t.parquet"},
              "report": {"bootstrap": 0, "gate": {"enabled": False}}}
    (folder / "run.yaml").write_text(yaml.safe_dump(config))
    return folder, config


def _dags_test(af, work, conf: dict):
    return af.run(["dags", "test", "synthetic_refresh", "-c", json.dumps(conf)],
                  env={"SYNTH_HOME": str(work), "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}"})


LAST_TRIES = textwrap.dedent('''
    from airflow.models import DagRun, TaskInstance
    from airflow.utils.session import create_session
    with create_session() as session:
        run = session.query(DagRun).filter(DagRun.dag_id == "synthetic_refresh").order_by(DagRun.id.desc()).first()
        [ti] = session.query(TaskInstance).filter(TaskInstance.run_id == run.run_id, TaskInstance.task_id == "refresh")
        print(ti.try_number)
''')


def _tries(af) -> int:
    """How many tries the refresh task of the latest DAG run took, from Airflow's metadata database."""
    done = af.python(LAST_TRIES)
    assert done.returncode == 0, done.stderr[-3000:]
    return int(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def published(af, table, tmp_path_factory):
    """`airflow dags test synthetic_refresh` on the config file: (its working folder, its config)."""
    work, config = _workdir(tmp_path_factory.mktemp("airflow"), table)
    done = _dags_test(af, work, {"configs": ["run.yaml"]})
    assert done.returncode == 0, done.stdout[-5000:]
    return work, config


def test_dags_test_refreshes_a_table_as_the_prefect_flow_does(published, table, tmp_path):
    airflow_work, _ = published
    output = airflow_work / "out" / "t.parquet"
    assert pq.read_table(output).num_rows == 300

    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{airflow_work / 'mlflow.db'}")
    [run] = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert run.info.status == "FINISHED" and run.data.tags["synth.outcome"] == "published"
    assert run.data.tags["airflow.dag_id"] == "synthetic_refresh" and run.data.tags["airflow.task_id"] == "refresh"
    assert run.data.tags["airflow.run_id"].startswith("manual__") and run.data.tags["airflow.map_index"] == "0"

    prefect_work, _ = _workdir(tmp_path / "prefect", table)  # the same config and data, run by the Prefect flow
    env = child_env(prefect_work / "prefect", f"sqlite:///{prefect_work / 'mlflow.db'}")
    ran = subprocess.run([sys.executable, "-m", "flows.cli", "run", "run.yaml"], cwd=prefect_work, env=env,
                         capture_output=True, text=True, timeout=900)
    assert ran.returncode == 0, ran.stderr[-3000:]
    same = pq.read_table(prefect_work / "out" / "t.parquet")
    assert same.equals(pq.read_table(output))  # the same rows, values and types, through either orchestrator
    reports = [json.loads((work / "out" / "t.report" / "report.json").read_text())
               for work in (prefect_work, airflow_work)]
    assert reports[0]["summary"] == reports[1]["summary"] and reports[0]["scores"] == reports[1]["scores"]


def test_a_failed_gate_fails_the_task_without_a_retry_and_publishes_nothing(af, published):
    """(A missing input, an unknown key and a value out of bounds: tests/airflow/test_server.py, over REST.)"""
    work, config = published
    output = work / "out" / "t.parquet"
    before = output.read_bytes()

    gate = {**config, "report": {"bootstrap": 0, "gate": {"min_overall": 0.999}}}
    failed = _dags_test(af, work, {"config": gate, "overrides": ["output.skip_unchanged=false"]})
    assert failed.returncode == 1
    assert "quality gate failed, nothing published (overall" in failed.stdout
    assert "AirflowFailException" in failed.stdout  # the user's to fix: failed, not retried
    assert _tries(af) == 1
    assert output.read_bytes() == before


BLOCK_TORCH = "import sys\nsys.modules['torch'] = None  # as if the provider were installed without the core's dependencies\n"

OLD_AIRFLOW = textwrap.dedent('''
    import importlib.metadata, sys
    real = importlib.metadata.version
    importlib.metadata.version = lambda name: "2.10.5" if name == "apache-airflow" else real(name)
    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag(dag_folder=sys.argv[1])
    print(list(bag.import_errors.values()))
''')


def test_a_missing_connection_or_core_and_an_older_airflow_are_named(af, published, tmp_path):
    work, config = published
    output = work / "out" / "t.parquet"
    before = output.read_bytes()
    rerun = {"config": config, "overrides": ["output.skip_unchanged=false"]}

    missing = af.run(["dags", "test", "synthetic_refresh", "-c", json.dumps(rerun)],
                     env={"SYNTH_HOME": str(work), "SYNTH_MLFLOW_CONN_ID": "warehouse_mlflow"})
    assert missing.returncode == 1
    assert "Airflow connection 'warehouse_mlflow' (MLflow tracking (synthetic refresh)) is not defined" in missing.stdout

    (tmp_path / "sitecustomize.py").write_text(BLOCK_TORCH)
    no_core = af.run(["dags", "test", "synthetic_refresh", "-c", json.dumps(rerun)],
                     env={"SYNTH_HOME": str(work), "PYTHONPATH": str(tmp_path)})
    assert no_core.returncode == 1
    assert "the synthetic refresh's core is not installed in this Airflow environment" in no_core.stdout
    assert "pip install 'prefect-synth[airflow]'" in no_core.stdout
    assert output.read_bytes() == before  # neither published

    old = af.python(OLD_AIRFLOW, str(REPO / "synth_airflow" / "example_dags"))  # Airflow loads the provider: refused
    assert "the synthetic refresh provider needs Apache Airflow 3.3 or newer, and this is Airflow 2.10.5" \
        in old.stdout + old.stderr, old.stderr[-2000:]


NEXT_RUNS = textwrap.dedent('''
    import json, sys, pendulum
    from airflow.dag_processing.dagbag import DagBag
    from airflow.timetables.base import TimeRestriction
    from airflow.timetables.trigger import CronTriggerTimetable
    dag = DagBag(dag_folder=sys.argv[1]).dags["synthetic_refresh"]
    scheduled = CronTriggerTimetable(dag.timetable.expression, timezone=dag.timetable.timezone)  # as the scheduler reads it
    after = [scheduled.next_dagrun_info(last_automated_data_interval=None, restriction=TimeRestriction(
        earliest=pendulum.parse(day), latest=None, catchup=True)).run_after.in_timezone("UTC").isoformat()
        for day in sys.argv[2:]]
    print(json.dumps({"expression": dag.timetable.expression, "after": after}))
''')


def test_the_nightly_schedule_follows_its_cron_in_its_time_zone(af):
    """SYNTH_SCHEDULE at SYNTH_TIMEZONE: 01:30 in Berlin is 00:30 UTC in winter and 23:30 UTC the
    evening before in summer (daylight saving), as Airflow's scheduler computes it."""
    done = af.python(NEXT_RUNS, str(REPO / "synth_airflow" / "example_dags"), "2026-01-15T12:00:00Z",
                     "2026-07-15T12:00:00Z", env={"SYNTH_SCHEDULE": "30 1 * * *", "SYNTH_TIMEZONE": "Europe/Berlin"})
    assert done.returncode == 0, done.stderr[-3000:]
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe["expression"] == "30 1 * * *"
    assert probe["after"] == ["2026-01-16T00:30:00+00:00", "2026-07-15T23:30:00+00:00"]


def test_a_server_that_does_not_answer_is_retried(af, published):
    """The MLflow server of the connection is down: transient, so the task is retried (SYNTH_RETRIES=1)
    and fails after its second try, naming the server; nothing is published."""
    work, config = published
    output = work / "out" / "t.parquet"
    before = output.read_bytes()
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    rerun = {"config": config, "overrides": ["output.skip_unchanged=false"]}
    failed = af.run(["dags", "test", "synthetic_refresh", "-c", json.dumps(rerun)],
                    env={"SYNTH_HOME": str(work), "SYNTH_RETRIES": "1", "SYNTH_RETRY_DELAY_S": "1",
                         "AIRFLOW_CONN_SYNTH_MLFLOW": json.dumps({"conn_type": "synth_mlflow", "host": down})})
    assert failed.returncode == 1
    assert f"the MLflow tracking server {down} is unreachable" in failed.stdout
    assert _tries(af) == 2, failed.stdout[-3000:]  # the first try and one retry
    assert output.read_bytes() == before
