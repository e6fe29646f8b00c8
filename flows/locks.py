"""One refresh of a dataset at a time, whichever deployment, worker or machine starts it.

When the run reports to a Prefect server, a global concurrency limit named `synth-dataset-<dataset>`
with one slot, created on first use, is held for the whole refresh: a second run of the same dataset
waits for the first to finish instead of training beside it and racing it to publish (a run killed
while holding it frees the slot when its lease expires, after 5 minutes). The output is also
locked with the steps' own file lock (tasks/locks.py), which every process on the machine sees —
all the locking `prefect-synth run` on a temporary API needs.
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

from tasks.locks import output_lock


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
    with concurrency(name, occupy=1, strict=True), output_lock(output_path):
        yield
