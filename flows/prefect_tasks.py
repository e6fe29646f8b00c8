"""The pipeline's steps (`tasks/`) as Prefect tasks: a name, retries and caching around each, their log
lines in the run's log, and the artifacts that show them in Prefect's UI.

A step logs to the stdlib logger `prefect_synth` (`tasks.log`). While a step runs as a Prefect task,
the records its thread logs go to that task run's logger instead (Prefect's console and API), once.
"""
from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prefect import get_run_logger, task
from prefect.artifacts import (create_link_artifact, create_markdown_artifact, create_progress_artifact,
                               create_table_artifact, update_progress_artifact)
from prefect.cache_policies import NO_CACHE

from flows._retry import transient_io, unless_user_error
from synth.fidelity import summary_markdown
from synth.training import EpochStats
from tasks import ingest as ingest_step
from tasks import log, pipeline, tracking
from tasks import publish as publish_step
from tasks import report as report_step
from tasks import sample as sample_step
from tasks import train as train_step
from tasks import validate as validate_step

ARTIFACT_KEY = "fidelity-summary"
GATE_ARTIFACT_KEY = "quality-gate"
FAILURES_ARTIFACT_KEY = "validation-failures"
SUMMARY_ARTIFACT_KEY = "validation-summary"
TABLE_ARTIFACT_KEY = "validation-table"  # one row per column: the rules it was checked against
PROGRESS_ARTIFACT_KEY = "training-progress"
PROGRESS_EVERY_SECONDS = 2.0  # at most one progress update per this many seconds (and one at the end)


class _ToRunLogger(logging.Filter):
    """On the steps' logger: a record logged by a thread that runs a Prefect task goes to that run's
    logger and stops there; any other record goes on as usual (a CLI, another orchestrator)."""

    def __init__(self):
        super().__init__()
        self.targets: dict[int, logging.Logger | logging.LoggerAdapter] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        target = self.targets.get(record.thread)
        if target is None:
            return True
        target.log(record.levelno, record.getMessage(), exc_info=record.exc_info)
        return False


_FORWARD = _ToRunLogger()
log.addFilter(_FORWARD)


@contextmanager
def run_logs() -> Iterator[None]:
    """Within it, what the steps log in this thread goes to the current Prefect run's logger."""
    thread = threading.get_ident()
    previous = _FORWARD.targets.get(thread)
    _FORWARD.targets[thread] = get_run_logger()
    try:
        yield
    finally:
        if previous is None:
            _FORWARD.targets.pop(thread, None)
        else:
            _FORWARD.targets[thread] = previous


def _step(fn: Callable, **options):
    """A Prefect task that runs `fn` with its logs in the run's log; no caching unless `options` say."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        with run_logs():
            return fn(*args, **kwargs)

    return task(run, **{"cache_policy": NO_CACHE, **options})


# retry transient I/O (a network or object-store hiccup), never a data or config error
_IO = dict(retries=2, retry_delay_seconds=2, retry_condition_fn=transient_io)
# calls that reach the tracking store (a server, or a sqlite file another process may hold locked)
_STORE = dict(retries=2, retry_delay_seconds=2, retry_condition_fn=unless_user_error)

ingest = _step(ingest_step.ingest, name="ingest", **_IO)
hold_out = _step(report_step.hold_out, name="hold-out")
sample = _step(sample_step.sample, name="sample")
publish = _step(publish_step.publish, name="publish", **_IO)
store_inferred_contract = _step(validate_step.store_inferred_contract, name="store-contract")

start_run = _step(tracking.start_run, name="tracking-start-run", **_STORE)
tag_data = _step(tracking.tag_data, name="tracking-tag-data", **_STORE)
log_metrics = _step(tracking.log_metrics, name="tracking-log-metrics", **_STORE)
log_artifacts = _step(tracking.log_artifacts, name="tracking-log-artifacts", **_STORE)
set_tag = _step(tracking.set_tag, name="tracking-set-tag", **_STORE)
log_model = _step(tracking.log_model, name="tracking-log-model", **_STORE)
register_champion = _step(tracking.register_champion, name="tracking-register-champion", **_STORE)
end_run = _step(tracking.end_run, name="tracking-end-run", **_STORE)


@task(name="tracking-run-link", cache_policy=NO_CACHE, **_STORE)
def create_run_link(run_id: str) -> None:
    """A link artifact (key `mlflow-run`) that leads to the MLflow run."""
    link, text, description = tracking.run_link(run_id)
    create_link_artifact(link=link, key="mlflow-run", link_text=text, description=description)


@task(name="validate", cache_policy=NO_CACHE)
@functools.wraps(validate_step.validate)
def validate(*args, **kwargs) -> validate_step.ValidationResult:
    """`tasks.validate.validate`, with the contract's checks (or its failures) as artifacts."""
    with run_logs():
        try:
            result = validate_step.validate(*args, **kwargs)
        except validate_step.ValidationFailed as failed:
            if failed.result is not None:
                _failures_artifact(failed.result)
            raise
    contract, path = result.contract, result.contract_path
    create_table_artifact(key=TABLE_ARTIFACT_KEY, table=validate_step.contract_rows(contract),
                          description=f"Schema contract `{path}`: every check passed on {result.rows} rows "
                                      f"({result.scope_text()})")
    create_markdown_artifact(
        key=SUMMARY_ARTIFACT_KEY,
        markdown=f"All {result.checks} checks of the {'inferred ' if result.inferred else ''}contract `{path}` "
                 f"passed on {result.rows} rows and {len(contract.columns)} columns.\n\n"
                 f"Validation {result.scope_text()}.")
    return result


def _failures_artifact(result: validate_step.ValidationResult) -> None:
    create_table_artifact(
        key=FAILURES_ARTIFACT_KEY,
        table=[{"column": f.column or "(table)", "expectation": f.expectation, "expected": f.expected,
                "observed": f.observed} for f in result.failures],
        description=f"{len(result.failures)} of {result.checks} contract checks failed ({result.contract_path}; "
                    f"{result.scope_text()})")


@task(name="report", cache_policy=NO_CACHE)
@functools.wraps(report_step.report)
def report(*args, **kwargs) -> report_step.ReportResult:
    """`tasks.report.report`, with the fidelity summary and the gate's verdict as artifacts."""
    with run_logs():
        result = report_step.report(*args, **kwargs)
    create_markdown_artifact(markdown=summary_markdown(result.report), key=ARTIFACT_KEY,
                             description="Synthetic data fidelity scores")
    if result.gate_markdown is not None:
        create_markdown_artifact(markdown=result.gate_markdown, key=GATE_ARTIFACT_KEY,
                                 description="Quality gate: passed or failed, check by check")
    return result


@task(name="train", cache_policy=NO_CACHE)
@functools.wraps(train_step.train)
def train(table, model, on_epoch: Callable[[EpochStats], None] | None = None, output_path: str | None = None):
    """`tasks.train.train`, with a progress artifact (key `training-progress`) that follows the epochs."""
    progress = _Progress(model.epochs, model.kind)

    def report(stats: EpochStats) -> None:
        if on_epoch is not None:
            on_epoch(stats)
        progress.update(stats)

    with run_logs():
        return train_step.train(table, model, on_epoch=report, output_path=output_path)


class _Progress:
    """A Prefect progress artifact (key `training-progress`) that follows the epochs as they finish."""

    def __init__(self, epochs: int, kind: str):
        self.epochs, self.kind, self.last = epochs, kind, time.monotonic()
        self.id = create_progress_artifact(0.0, key=PROGRESS_ARTIFACT_KEY,
                                           description=f"Training {kind}: 0 of {epochs} epochs")

    def update(self, stats: EpochStats) -> None:
        now = time.monotonic()
        if self.id is None or (now - self.last < PROGRESS_EVERY_SECONDS and stats.epoch < self.epochs):
            return
        self.last = now
        update_progress_artifact(self.id, 100.0 * stats.epoch / self.epochs,
                                 description=f"Training {self.kind}: {stats.epoch} of {self.epochs} epochs "
                                             f"(Wasserstein estimate {stats.wasserstein:.3f})")


PREFECT_STEPS = pipeline.Steps(
    ingest=ingest, validate=validate, hold_out=hold_out, train=train, sample=sample, report=report,
    publish=publish, store_inferred_contract=store_inferred_contract, start_run=start_run, tag_data=tag_data,
    set_tag=set_tag, log_metrics=log_metrics, log_artifacts=log_artifacts, log_model=log_model,
    register_champion=register_champion, end_run=end_run, link_run=create_run_link)
