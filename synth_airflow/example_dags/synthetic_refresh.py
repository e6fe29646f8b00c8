"""`synthetic_refresh`: the nightly refresh of every configured table, one mapped task per table.

Scheduled: each night at SYNTH_SCHEDULE (cron, default 02:00; `none`: triggered runs only) in
SYNTH_TIMEZONE (default UTC), it refreshes the run configs in `params.configs` (the demo's two by
default), paths relative to SYNTH_HOME. Triggered with a config: `params.config` (one run config, validated by the trigger form
against the same schema as the Prefect form) runs that table alone; `params.overrides` applies
`key.path=value` settings to every table.

A table whose input has not changed since its last publish is skipped; a failed gate fails its task
and publishes nothing. The MLflow server and object store come from the connections `synth_mlflow`
and `aws_default` (other ids: SYNTH_MLFLOW_CONN_ID, SYNTH_STORAGE_CONN_ID; a named connection that is
not defined fails the task), or, where those two defaults are not defined, the worker's environment.
A server or store that does not answer is retried (SYNTH_RETRIES times, default 2, SYNTH_RETRY_DELAY_S
apart, default 120); anything else fails the task at once.
"""
from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import dag, task
from airflow.sdk.exceptions import AirflowFailException

from synth_airflow.operators import SyntheticRefreshOperator
from synth_airflow.params import refresh_params

DEMO_CONFIGS = ["configs/diamonds.yaml", "configs/weather.yaml"]
SCHEDULE = os.environ.get("SYNTH_SCHEDULE", "0 2 * * *")
PARAMS = refresh_params(DEMO_CONFIGS)


@dag(
    dag_id="synthetic_refresh",
    schedule=None if SCHEDULE.strip().lower() in ("", "none") else SCHEDULE,
    start_date=pendulum.datetime(2026, 1, 1, tz=os.environ.get("SYNTH_TIMEZONE", "UTC")),
    catchup=False,
    max_active_runs=1,
    params=PARAMS,
    # retried: transient failures only (a server or store that did not answer; run.py); the rest fail at once
    default_args={"retries": int(os.environ.get("SYNTH_RETRIES", "2")),
                  "retry_delay": timedelta(seconds=float(os.environ.get("SYNTH_RETRY_DELAY_S", "120")))},
    tags=["synthetic-data", "mlflow"],
    doc_md=__doc__,
)
def synthetic_refresh():
    @task
    def tables(params: dict | None = None, dag_run=None) -> list[dict]:
        """The tables of this run: `params.config` alone, else each of `params.configs`."""
        unknown = sorted(set(dag_run.conf or {}) - set(PARAMS))  # Airflow itself lets any key through
        if unknown:
            raise AirflowFailException(f"unknown key(s) {', '.join(map(repr, unknown))} in the run's config: "
                                       f"this DAG takes {', '.join(PARAMS)}")
        overrides = list(params.get("overrides") or [])
        if params.get("config"):
            return [{"config": params["config"], "overrides": overrides}]
        return [{"config": path, "overrides": overrides} for path in params.get("configs") or []]

    SyntheticRefreshOperator.partial(
        task_id="refresh",
        mlflow_conn_id=os.environ.get("SYNTH_MLFLOW_CONN_ID", "synth_mlflow"),
        storage_conn_id=os.environ.get("SYNTH_STORAGE_CONN_ID", "aws_default"),
    ).expand_kwargs(tables())


synthetic_refresh()
