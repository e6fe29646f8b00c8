"""One table's refresh inside an Airflow task: the pipeline's steps (`tasks.pipeline.refresh`), with
the servers from Airflow connections, the MLflow run tagged with the task instance, and the errors
sorted into those worth a retry and those that are not.

`refresh_table` is what `SyntheticRefreshOperator` runs; in a TaskFlow DAG call it from a `@task`.
It imports the pipeline (torch, MLflow, Great Expectations) only when called, never at parse time.
"""
from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from synth_airflow.hooks import MlflowTrackingHook, ObjectStoreHook

RERUN_TAG = "airflow.task_instance"  # the same value on a retry: the MLflow run of the first try is reused
MLFLOW_LINK_KEY = "synth_mlflow_run_url"
REPORT_LINK_KEY = "synth_report_url"


def refresh_table(config: str | Mapping[str, Any], overrides: Sequence[str] = (), *, base_dir: str | None = None,
                  mlflow_conn_id: str | None = MlflowTrackingHook.default_conn_name,
                  storage_conn_id: str | None = ObjectStoreHook.default_conn_name,
                  context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Refresh the table one run config describes; nothing is published unless every step succeeds.

    Args:
        config: a YAML run config's path (relative to `base_dir`) or the config itself as a mapping.
        overrides: `key.path=value` settings on top of it, as `prefect-synth run --set`.
        base_dir: where relative paths in the config resolve (default: $SYNTH_HOME, else the
            working directory).
        mlflow_conn_id, storage_conn_id: Airflow connections of the MLflow server and the object
            store; an undefined one leaves the worker's environment as it is.
        context: the task's context (default: the running task's).

    Returns:
        A small summary for XCom: where the output and report are, the MLflow run and model, the
        scores, the gate; or `skipped` with what was already published.

    Raises:
        AirflowFailException: the user's to fix (bad config or data, validation, the quality gate): no retry.
        AirflowException: a server or store that did not answer: retried with the task's retries.
    """
    from airflow.sdk import get_current_context

    context = context if context is not None else get_current_context()
    ti = context["ti"]
    try:
        env = {**(MlflowTrackingHook(mlflow_conn_id).environment() if mlflow_conn_id else {}),
               **(ObjectStoreHook(storage_conn_id).environment() if storage_conn_id else {})}
        with _environment(env), _working_dir(base_dir or os.environ.get("SYNTH_HOME")):
            return _refresh(config, overrides, ti)
    except BaseException as e:
        raise airflow_error(e) from e


class MissingCore(ImportError):
    """The provider is installed, but not the pipeline's own dependencies."""


def _refresh(config, overrides: Sequence[str], ti) -> dict[str, Any]:
    from dataclasses import replace

    try:
        from tasks import pipeline, tracking
        from tasks.preflight import report_dir
    except ImportError as e:
        raise MissingCore(f"the synthetic refresh's core is not installed in this Airflow environment ({e}): "
                          "install the provider with its dependencies, pip install 'prefect-synth[airflow]'") from e

    run_config = load(config, overrides)
    ti.xcom_push(key=REPORT_LINK_KEY, value=_report_url(report_dir(run_config)))

    def link_run(run_id: str) -> None:
        ti.xcom_push(key=MLFLOW_LINK_KEY, value=tracking.run_link(run_id)[0])

    outcome = pipeline.refresh(run_config, replace(pipeline.Steps(), link_run=link_run), task_tags(ti), RERUN_TAG)
    return summary(outcome)


def load(config: str | Mapping[str, Any], overrides: Sequence[str] = ()):
    """The RefreshConfig of a YAML path or a mapping, with `key.path=value` overrides (ConfigError if bad)."""
    import copy

    from tasks.config import apply_override, load_config, parse_config

    if isinstance(config, (str, os.PathLike)):
        return load_config(config, list(overrides))
    tree = copy.deepcopy(dict(config))
    for item in overrides:
        apply_override(tree, item)
    return parse_config(tree, source="params.config")


def task_tags(ti) -> dict[str, str]:
    """The MLflow run's tags that name this task instance (beside the pipeline's own)."""
    tags = {"airflow.dag_id": ti.dag_id, "airflow.run_id": ti.run_id, "airflow.task_id": ti.task_id}
    map_index = getattr(ti, "map_index", -1)
    if map_index is not None and map_index >= 0:
        tags["airflow.map_index"] = str(map_index)
    tags[RERUN_TAG] = "/".join([ti.dag_id, ti.run_id, ti.task_id, str(map_index)])
    return tags


def summary(outcome: dict[str, Any]) -> dict[str, Any]:
    """What XCom carries of an outcome: paths, URIs and scores, never tables or models."""
    keep = ("output", "mlflow_run_id", "model_uri", "model_version", "report", "rows", "skipped", "published_by")
    out = {key: outcome[key] for key in keep if key in outcome}
    scores = outcome.get("summary") or {}
    out["scores"] = {key: value for key, value in scores.items() if isinstance(value, (int, float))}
    if outcome.get("gate") is not None:  # None: the gate is off
        out["gate_passed"] = bool(outcome["gate"].get("passed"))
    return out


def is_transient(error: BaseException) -> bool:
    """A server or store that did not answer: worth a retry. The user's mistakes and bugs are not."""
    from synth.errors import StorageUnavailable, SynthError
    from tasks.tracking import TrackingUnavailable

    if isinstance(error, (StorageUnavailable, TrackingUnavailable)):
        return True
    if isinstance(error, SynthError):
        return False
    seen: BaseException | None = error
    while seen is not None:  # an OSError anywhere in the chain (MLflow wraps a refused connection)
        if isinstance(seen, (OSError, TimeoutError, ConnectionError)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def airflow_error(error: BaseException) -> BaseException:
    """The exception Airflow should see: retried only when transient, with the pipeline's one-line message."""
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    if isinstance(error, (KeyboardInterrupt, SystemExit)) or type(error).__module__.startswith("airflow"):
        return error  # Airflow's own signals (a timeout, a kill) stay as they are
    from synth_airflow.hooks import MissingConnection

    if isinstance(error, (MissingCore, MissingConnection)):
        return AirflowFailException(str(error))
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    if is_transient(error):
        return AirflowException(message)
    from synth.errors import SynthError

    text = str(error) if isinstance(error, SynthError) else f"{type(error).__name__}: {error}"
    return AirflowFailException(text)


def _report_url(directory: str) -> str:
    path = f"{directory.rstrip('/')}/report.html"
    return path if "://" in path else Path(path).absolute().as_uri()


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def _working_dir(directory: str | None) -> Iterator[None]:
    if not directory:
        yield
        return
    before = os.getcwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(before)
