"""The `refresh-many` flow: one deployment run of the refresh per table, spread over a pool's workers.

Each table's refresh runs as its own flow run of its own deployment (`run_deployment`), not as a
subflow in this process, so every worker of the pool — one pod per run on Kubernetes — can take one.
This flow only starts the runs, waits for all of them and reports; it fails if any of them failed.
"""
from __future__ import annotations

import time
from typing import Annotated

from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tasks.config import apply_override, parse_config
from synth.errors import SynthError

DeploymentName = Annotated[str, StringConstraints(pattern=r"^[^/]+/[^/]+$")]
POLL_SECONDS = 2.0


class RefreshManyFailed(SynthError):
    """At least one of the started refresh runs did not complete."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TableRun(_Strict):
    deployment: DeploymentName = Field(
        title="Deployment", description="The table's refresh deployment, as 'flow-name/deployment-name' "
                                        "(e.g. synthetic-refresh/diamonds-nightly).")
    overrides: list[str] = Field(
        default_factory=list, title="Overrides",
        description="key.path=value settings for this table's run only, e.g. output.path=out/x.parquet.")


class RefreshPlan(_Strict):
    tables: list[TableRun] = Field(min_length=1, title="Tables", description="One refresh run each.")
    overrides: list[str] = Field(
        default_factory=list, title="Overrides for every table",
        description="key.path=value settings applied to every run's config before its own, e.g. "
                    "model.epochs=5 (as `prefect-synth run --set`).")
    timeout_minutes: float = Field(
        24 * 60, gt=0, title="Timeout (minutes)",
        description="Give up waiting (and fail) when the runs have not all finished by then.")


@flow(name="refresh-many")
def refresh_many(plan: RefreshPlan) -> list[dict]:
    """Start one refresh run per table, wait for all, and fail if any did not complete.

    Returns:
        One entry per table: its deployment, flow run name and id, and final state ("COMPLETED", ...).
    """
    logger = get_run_logger()
    # every config is checked before the first run starts: a typo fails the plan, not half of it
    parameters = [_parameters(t.deployment, [*plan.overrides, *t.overrides]) for t in plan.tables]
    runs = []
    for table, params in zip(plan.tables, parameters):
        run = run_deployment(table.deployment, parameters=params, timeout=0, as_subflow=True,
                             tags=["refresh-many"])
        logger.info("started %s as flow run %s", table.deployment, run.name)
        runs.append((table.deployment, run))
    states = _wait([run.id for _, run in runs], plan.timeout_minutes * 60)
    outcome = [{"deployment": name, "flow_run": run.name, "flow_run_id": str(run.id), "state": state}
               for (name, run), state in zip(runs, states)]
    for entry in outcome:
        logger.info("%s (%s): %s", entry["deployment"], entry["flow_run"], entry["state"])
    failed = [e for e in outcome if e["state"] != "COMPLETED"]
    if failed:
        raise RefreshManyFailed(f"{len(failed)} of {len(outcome)} refresh runs did not complete: " + ", ".join(
            f"{e['deployment']} ({e['flow_run']}) {e['state']}" for e in failed))
    return outcome


def _parameters(name: str, overrides: list[str]) -> dict | None:
    """The deployment's own `config` with the overrides applied and checked; None: run it as it is."""
    if not overrides:
        return None
    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(name)
        except ObjectNotFound:
            raise RefreshManyFailed(f"no deployment named {name!r}") from None
    tree = dict(deployment.parameters.get("config") or {})
    for item in overrides:
        apply_override(tree, item)
    return {"config": parse_config(tree, source=f"deployment {name}").model_dump(mode="json", exclude_unset=True)}


def _wait(ids: list, timeout_s: float) -> list[str]:
    """The final state type of each flow run, in order, polling until all are final."""
    deadline = time.monotonic() + timeout_s
    states: dict = {}
    with get_client(sync_client=True) as client:
        while True:
            for run_id in ids:
                if run_id not in states:
                    state = client.read_flow_run(run_id).state
                    if state is not None and state.is_final():
                        states[run_id] = state.type.value
            if len(states) == len(ids):
                return [states[run_id] for run_id in ids]
            if time.monotonic() > deadline:
                raise RefreshManyFailed(f"timed out after {timeout_s / 60:g} min with "
                                        f"{len(ids) - len(states)} of {len(ids)} refresh runs unfinished")
            time.sleep(POLL_SECONDS)
