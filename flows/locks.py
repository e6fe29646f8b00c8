"""One refresh of a dataset at a time, whichever deployment, worker or machine starts it.

When the run reports to a Prefect server, a global concurrency limit named `synth-dataset-<dataset>`
with one slot, created on first use, is held for the whole refresh: a second run of the same dataset
waits for the first to finish instead of training beside it and racing it to publish. The output is
also locked with the steps' own file lock (tasks/locks.py), which every process on the machine sees —
all the locking `prefect-synth run` on a temporary API needs.

The slot is held on a lease that the run renews every three quarters of `SYNTH_DATASET_LOCK_LEASE_SECONDS`
(300 by default; the server refuses less than 60). A run killed while holding it stops renewing: the
server's repossessor service (part of `prefect server start`, every 15 s) frees the slot once the
lease has expired, so the next run of the dataset, or the killed run's own retry (flows/recovery.py),
waits that long at most. A shorter lease frees it sooner, but a run whose renewal fails (a server
away for more than a quarter of the lease) is stopped rather than run unlocked. The lease lives in the
server's lease storage: kept in memory, as Prefect does by default, a server restart loses it and the
slot stays taken for ever, so the server needs PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE=
prefect.server.concurrency.lease_storage.filesystem (scripts/deploy.sh warns when it is not set).
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from prefect import get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.settings import PREFECT_API_URL
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tasks.locks import output_lock


class LockSettings(BaseSettings):
    """How the dataset's slot is leased (environment `SYNTH_DATASET_LOCK_*` of the flow run)."""

    model_config = SettingsConfigDict(env_prefix="SYNTH_DATASET_LOCK_")

    lease_seconds: float = Field(300.0, ge=60, le=86400)  # the API's bounds for a lease


def lock_name(dataset: str) -> str:
    """The concurrency limit's name: Prefect names refuse '/' and '%', so anything unusual becomes '-'."""
    return "synth-dataset-" + re.sub(r"[^A-Za-z0-9_.-]", "-", dataset)


def ensure_lock(dataset: str) -> str:
    """Create the dataset's one-slot limit if it is missing (a concurrent creator's win is fine)."""
    name = lock_name(dataset)
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            try:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
            except ObjectAlreadyExists:
                pass
    return name


@contextmanager
def dataset_lock(dataset: str, output_path: str | None = None) -> Iterator[None]:
    """Hold the dataset's slot for the duration of the block, waiting for it if another run has it."""
    if not PREFECT_API_URL.value():
        # a temporary API: no other machine shares it, and nothing would ever expire the lease of a
        # run killed while holding it, so the file lock alone does the job
        with output_lock(output_path):
            yield
        return
    name = ensure_lock(dataset)
    get_run_logger().info("taking %s: one refresh of %s at a time", name, dataset)
    lease = LockSettings().lease_seconds
    with concurrency(name, occupy=1, strict=True, lease_duration=lease), output_lock(output_path):
        yield
