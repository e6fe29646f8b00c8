"""What brings a refresh back after its process or machine died: two Prefect automations on the server.

Prefect 3 leaves such a run Running for ever (nothing but the dead process would end it), and it never
retries a Crashed run (the server's `RetryFailedFlows` rule retries Running → Failed only). So, for the
deployments tagged `prefect-synth`:

1. **crash runs without heartbeat**: a flow run sends a `prefect.flow-run.heartbeat` event every
   `PREFECT_FLOWS_HEARTBEAT_FREQUENCY` seconds (180 by default); one that sends neither a heartbeat nor
   a final state for `heartbeat_grace_seconds` is marked Crashed (Prefect's "zombie flows" recipe). A
   Crashed run gives back its deployment concurrency slot at once.
2. **retry crashed runs**: a run that crashed (that way, or as its worker saw its process killed) on
   attempt 1 … `crash_retries` is scheduled again, the same flow run, for any worker of its pool. The
   new attempt reuses the run's MLflow run and resumes from the training checkpoint; the dataset's
   slot (flows/locks.py) is free again once the dead attempt's lease has expired. A run that crashes
   once more stays Crashed.

`python -m flows.recovery` (scripts/deploy.sh runs it) creates or updates both on the server that
PREFECT_API_URL names, and warns when that server keeps concurrency leases in memory: a restart of it
would leave every slot held at that moment taken for ever.
"""
from __future__ import annotations

import sys
from datetime import timedelta

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.exceptions import PrefectHTTPStatusError
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

TAG = "prefect-synth"  # every deployment of deployments/prefect.yaml has it
ZOMBIE = "prefect-synth: crash runs without heartbeat"
RETRY = "prefect-synth: retry crashed runs"
MEMORY_LEASES = "prefect.server.concurrency.lease_storage.memory"  # Prefect's default
FILE_LEASES = "prefect.server.concurrency.lease_storage.filesystem"  # in PREFECT_HOME: a restart finds them
FINAL_EVENTS = {f"prefect.flow-run.{state}" for state in ("Completed", "Failed", "Cancelled", "Crashed")}


class RecoverySettings(BaseSettings):
    """The automations' settings, from the environment of whoever runs scripts/deploy.sh."""

    model_config = SettingsConfigDict(env_prefix="SYNTH_")

    # over 3 heartbeats at Prefect's default of one per 180 s: a busy run is never taken for a dead one
    heartbeat_grace_seconds: int = Field(600, ge=60)
    crash_retries: int = Field(2, ge=0, le=20)  # attempts after the first; 0: no retry automation


def automations(settings: RecoverySettings) -> list[AutomationCore]:
    """The two automations, as `settings` say."""
    ours = {"prefect.resource.role": "tag", "prefect.resource.id": f"prefect.tag.{TAG}"}
    grace = settings.heartbeat_grace_seconds
    zombie = AutomationCore(
        name=ZOMBIE,
        description=f"A {TAG} flow run that sent no heartbeat for {grace} s has lost its process or machine.",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"}, expect={"prefect.flow-run.heartbeat", *FINAL_EVENTS},
            match={"prefect.resource.id": "prefect.flow-run.*"}, match_related=ours,
            for_each={"prefect.resource.id"}, posture=Posture.Proactive, threshold=1,
            within=timedelta(seconds=grace)),
        actions=[ChangeFlowRunState(state=StateType.CRASHED, message=(
            f"no heartbeat for {grace} s: the run's process or machine is gone (automation {ZOMBIE!r})"))])
    if not settings.crash_retries:
        return [zombie]
    retry = AutomationCore(
        name=RETRY,
        description=f"A crashed {TAG} flow run is scheduled again, {settings.crash_retries} times at most; it "
                    "resumes from its checkpoint.",
        trigger=EventTrigger(  # the state's event names the attempt that crashed: 1 for the first
            expect={"prefect.flow-run.Crashed"},
            match={"prefect.resource.id": "prefect.flow-run.*",
                   "prefect.run-count": [str(n) for n in range(1, settings.crash_retries + 1)]},
            match_related=ours, posture=Posture.Reactive, threshold=1, within=timedelta(0)),
        actions=[ChangeFlowRunState(state=StateType.SCHEDULED, name="AwaitingRetry", message=(
            f"crashed: scheduled again, up to {settings.crash_retries} times (automation {RETRY!r})"))])
    return [zombie, retry]


def apply(settings: RecoverySettings) -> list[str]:
    """Create the automations on the server, or update those of the same name. Returns what it did."""
    done = []
    wanted = {automation.name: automation for automation in automations(settings)}
    with get_client(sync_client=True) as client:
        for name in (ZOMBIE, RETRY):
            existing = client.read_automations_by_name(name)
            for extra in existing[1:] if name in wanted else existing:
                client.delete_automation(extra.id)
            if name not in wanted:
                done.append(f"no automation {name!r} (SYNTH_CRASH_RETRIES=0)")
            elif existing:
                client.update_automation(existing[0].id, wanted[name])
                done.append(f"updated automation {name!r}")
            else:
                client.create_automation(wanted[name])
                done.append(f"created automation {name!r}")
        storage = _lease_storage(client)
    if storage == MEMORY_LEASES:
        done.append(f"warning: the Prefect server keeps concurrency leases in memory, so a restart of it leaves "
                    f"every slot held at that moment taken for ever; start it with "
                    f"PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE={FILE_LEASES} (deployments/prefect.yaml)")
    return done


def _lease_storage(client) -> str | None:
    """The server's lease storage module; None where the API does not say (Prefect Cloud)."""
    try:
        return client.request("GET", "/admin/settings").json()["server"]["concurrency"]["lease_storage"]
    except (PrefectHTTPStatusError, KeyError, TypeError, ValueError):
        return None


def main() -> int:
    for line in apply(RecoverySettings()):
        print(f"deploy: {line}", file=sys.stderr if line.startswith("warning") else sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
