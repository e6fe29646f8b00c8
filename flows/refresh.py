"""The `synthetic-refresh` flow: the refresh of tasks/pipeline.py with Prefect's task-wrapped steps.

ingest → validate → hold out → train → sample → report → gate → publish, tracked in MLflow; nothing
is published unless every step succeeds. The flow adds what Prefect gives a run: each step a task
run (retries, artifacts), the flow run's name in the MLflow tags, one refresh of a dataset at a time
across workers (flows/locks.py) and the progress the CLI reports after Ctrl-C.
"""
from __future__ import annotations

from prefect import flow
from prefect.runtime import deployment, flow_run

from flows.interrupt import note
from flows.locks import dataset_lock
from flows.prefect_tasks import PREFECT_STEPS, run_logs
from tasks import pipeline
from tasks.config import RefreshConfig


@flow(name="synthetic-refresh")
def synthetic_refresh(config: RefreshConfig) -> dict:
    """Refresh one synthetic dataset; nothing is published unless every stage succeeds."""
    with run_logs():
        return pipeline.refresh(config, PREFECT_STEPS, prefect_tags(), "prefect.flow_run_id", lock=dataset_lock,
                                note=note)


def prefect_tags() -> dict[str, str]:
    """The MLflow run's tags that name this flow run (a retried start finds its MLflow run by the first)."""
    tags = {"prefect.flow_run_id": flow_run.get_id() or "none",
            "prefect.flow_name": flow_run.get_flow_name() or "none",
            "prefect.deployment_name": deployment.get_name() or "none"}
    if name := flow_run.get_name():
        tags["prefect.flow_run_name"] = name
    return tags
