"""MLflow tracking for a refresh: one run per flow run, per-epoch training metrics, the model as a pyfunc.

Every helper takes an explicit run id and talks to MLflow through `MlflowClient`, never through the
fluent "active run": an orchestrator may run steps in worker threads, and MLflow's active run is
thread-local. The helpers are plain functions; `flows/prefect_tasks.py` makes Prefect tasks of them.
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import pandas as pd
import pyarrow as pa
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.models import Model, ModelSignature
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema
from mlflow.types.schema import AnyType, Map

from synth.errors import SynthError
from synth.serialization import MODEL_JSON, schema_from_text
from synth.storage import table_fingerprint
from tasks import log

if TYPE_CHECKING:
    from tasks.config import RefreshConfig
    from synth.training import EpochStats


class TrackingUnavailable(SynthError):
    """The configured MLflow tracking server does not answer."""

MAX_PARAM_VALUE = 6000  # MLflow rejects longer param values
PARAMS_PER_BATCH = 100  # MLflow's limit on params in one log_batch
RUN_STATUSES = ("FINISHED", "FAILED", "KILLED")
# Why a run ended as it did (tag `synth.outcome`): published, skipped (nothing new), or the stage that stopped it.
OUTCOMES = ("published", "skipped", "invalid-input", "validation", "gate", "interrupted", "error")
CHAMPION = "champion"  # the registered-model alias of the last version that passed the quality gate
MODEL_CODE = Path(__file__).with_name("mlflow_model.py")  # logged as code, so nothing is pickled
MODEL_ARTIFACT = "model"  # the saved-model folder's key; read by tasks/mlflow_model.py (same name)
# What loading the pyfunc needs besides the `synth` package itself (which is not on PyPI).
MODEL_REQUIREMENTS = ("mlflow", "torch", "numpy", "pandas", "pyarrow", "scikit-learn", "safetensors")
# A mapping of conditions goes in the optional `conditions` column: MLflow refuses a mapping as a param
# declared "string", and an Object param needs fixed keys (each model has its own columns).
MODEL_SIGNATURE = ModelSignature(inputs=Schema([
    ColSpec("long", "num_rows"),
    ColSpec("long", "seed", required=False),
    ColSpec(Map(AnyType()), "conditions", required=False),  # per row: {column: value}
]), params=ParamSchema([ParamSpec("conditions", "string", "")]))  # a JSON object of column values, as text
# Shown in the MLflow UI; MLflow also samples it once at logging time (a failure there only warns).
MODEL_INPUT_EXAMPLE = pd.DataFrame({"num_rows": [5], "seed": [0]})


def tracking_uri() -> str:
    """The tracking URI in use; with none configured, `sqlite:///<cwd>/mlflow.db`.

    MLflow 3.17 defaults to that sqlite file too, but falls back to a ./mlruns file store when the
    folder already holds runs. The default is pinned process-wide because `Model.log` and
    `mlflow.pyfunc.load_model` read the global URI rather than a client's.
    """
    if not mlflow.is_tracking_uri_set():
        mlflow.set_tracking_uri(f"sqlite:///{Path.cwd() / 'mlflow.db'}")
    return mlflow.get_tracking_uri()


def check_reachable(uri: str | None = None, timeout_s: float = 5.0) -> None:
    """Fail fast, naming the server, when a tracking *server* does not answer its health check.

    MLflow's own client retries a refused connection for minutes; a nightly run should say at once
    that the tracking server is down rather than after training. Stores that are files need no check.
    """
    uri = uri or tracking_uri()
    if not is_web_uri(uri):
        return
    shown = _without_credentials(uri)
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout_s) as response:
            if response.status == 200:
                return
            reason = f"HTTP {response.status}"
    except urllib.error.HTTPError as e:
        reason = f"HTTP {e.code}"
    except (urllib.error.URLError, OSError) as e:
        reason = str(getattr(e, "reason", e))
    raise TrackingUnavailable(f"the MLflow tracking server {shown} is unreachable ({reason}); start it, or point "
                              f"MLFLOW_TRACKING_URI at one that runs (unset: a local sqlite store)")


def _without_credentials(uri: str) -> str:
    parts = urllib.parse.urlsplit(uri)
    if parts.username or parts.password:
        parts = parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else ""))
    return urllib.parse.urlunsplit(parts)


def start_run(config: RefreshConfig, tags: Mapping[str, str] | None = None, rerun_tag: str | None = None) -> str:
    """Open the MLflow run of one refresh: tags name the orchestrator's run and the dataset, params the config.

    `tags`: the orchestrator's own (e.g. `prefect.flow_run_id`). The run is named `<dataset>-<model
    kind>-<UTC yyyymmdd-HHMM>`. With `rerun_tag`, a retry of the same orchestrator run (the same value
    of that tag) reuses its MLflow run if that is still RUNNING, so a retried start leaves no empty run.

    Returns:
        The run id, for every other helper here.
    """
    check_reachable()
    client = MlflowClient(tracking_uri())
    dataset = Path(config.output.path).stem
    experiment_id = _experiment_id(client, config.tracking.experiment or dataset)
    tags = dict(tags or {})
    rerun = tags.get(rerun_tag) if rerun_tag else None
    run_id = _running_run_id(client, experiment_id, rerun_tag, rerun) if rerun not in (None, "none") else None
    if run_id is None:
        tags.update({"synth.model_kind": config.model.kind, "synth.config_hash": config.config_hash(),
                     "synth.dataset": dataset})
        run_id = client.create_run(experiment_id, tags=tags,
                                   run_name=run_name(dataset, config.model.kind)).info.run_id
    params = [Param(key, str(value)[:MAX_PARAM_VALUE]) for key, value in config.flat().items()]
    for start in range(0, len(params), PARAMS_PER_BATCH):
        client.log_batch(run_id, params=params[start:start + PARAMS_PER_BATCH])
    return run_id


def run_name(dataset: str, model_kind: str, when: datetime | None = None) -> str:
    """`diamonds_synth-actgan-20261123-0215`: dataset, model kind and start minute (UTC)."""
    when = when or datetime.now(timezone.utc)
    return f"{dataset}-{model_kind}-{when.astimezone(timezone.utc):%Y%m%d-%H%M}"


def tag_data(run_id: str, table: pa.Table) -> str:
    """Tag the run with its input's fingerprint and size, so runs on the same data can be found.

    Returns:
        The fingerprint (`synth.data_hash`).
    """
    fingerprint = table_fingerprint(table)
    MlflowClient(tracking_uri()).log_batch(run_id, tags=[
        RunTag("synth.data_hash", fingerprint),
        RunTag("synth.data_rows", str(table.num_rows)),
        RunTag("synth.data_columns", str(table.num_columns)),
    ])
    return fingerprint


def epoch_logger(run_id: str) -> Callable[[EpochStats], None]:
    """A training callback that logs each epoch's diagnostics as metrics at step = epoch.

    With model selection, `validation_score` is logged on the evaluation epochs: a metric series.

    A failed write is logged as a warning and training goes on: the metrics are diagnostics, and
    losing hours of training to a tracking-server hiccup is the worse outcome.
    """
    client = MlflowClient(tracking_uri())

    def log_epoch(stats: EpochStats) -> None:
        now = int(time.time() * 1000)
        metrics = [Metric(key, float(value), now, stats.epoch) for key, value in stats.as_dict().items()]
        try:
            client.log_batch(run_id, metrics=metrics)
        except (MlflowException, OSError) as e:
            log.warning("MLflow: epoch %d metrics not logged to run %s: %s", stats.epoch, run_id, e)

    return log_epoch


def log_metrics(run_id: str, metrics: Mapping[str, float], step: int = 0) -> None:
    """Log a flat dict of metrics (e.g. fidelity scores) at one step."""
    now = int(time.time() * 1000)
    entries = [Metric(key, float(value), now, step) for key, value in metrics.items()]
    client = MlflowClient(tracking_uri())
    for start in range(0, len(entries), 1000):  # MLflow's limit on metrics in one log_batch
        client.log_batch(run_id, metrics=entries[start:start + 1000])


def log_artifacts(run_id: str, path: str | Path, artifact_path: str | None = None) -> None:
    """Upload a file or a folder's contents to the run, under `artifact_path`."""
    path = Path(path)
    client = MlflowClient(tracking_uri())
    if path.is_dir():
        client.log_artifacts(run_id, str(path), artifact_path)
    elif path.is_file():
        client.log_artifact(run_id, str(path), artifact_path)
    else:
        raise FileNotFoundError(f"log_artifacts: {path} is neither a file nor a folder")


def set_tag(run_id: str, key: str, value: Any) -> None:
    """Set one run tag (the value is stringified)."""
    MlflowClient(tracking_uri()).set_tag(run_id, key, str(value))


def log_model(run_id: str, model_dir: str | Path, registered_name: str | None = None) -> str:
    """Log a folder written by `model.save()` as an MLflow pyfunc model of the run.

    The pyfunc is `tasks/mlflow_model.py` logged as code and the folder as its artifact: no pickle.
    Loading it needs the `synth` package importable (it is not in the model's pip requirements).

    Returns:
        The `models:/<model_id>` URI, for `mlflow.pyfunc.load_model`.
    """
    model_dir = Path(model_dir)
    if not (model_dir / MODEL_JSON).is_file():
        raise FileNotFoundError(f"log_model: {model_dir} holds no {MODEL_JSON} (not a saved synth model)")
    client = MlflowClient(tracking_uri())
    run = client.get_run(run_id)
    # Created here because Model.log would file it under the active (else Default) experiment,
    # not under the experiment of `run_id`.
    logged = client.create_logged_model(
        run.info.experiment_id, name="model", source_run_id=run_id, model_type="synthesizer",
        params=run.data.params, tags={"synth.model_kind": run.data.tags.get("synth.model_kind", "")})
    info = Model.log(
        artifact_path=None, name="model", flavor=mlflow.pyfunc, run_id=run_id, model_id=logged.model_id,
        python_model=str(MODEL_CODE), artifacts={MODEL_ARTIFACT: str(model_dir)},
        signature=MODEL_SIGNATURE, input_example=MODEL_INPUT_EXAMPLE, pip_requirements=_model_requirements(),
        registered_model_name=registered_name)
    return info.model_uri


def register_champion(run_id: str, model_uri: str, name: str, keep_versions: int | None = None) -> str:
    """Register the run's logged model as a new version of `name` and point the `champion` alias at it;
    with `keep_versions`, prune the versions beyond the newest that many (`prune_model_versions`).

    A new version trained on other columns than the champion it replaces (added, removed or retyped:
    a renamed column is one removed and one added) says so in a warning, and in its version tag
    `synth.columns_changed`: whoever samples `models:/<name>@champion` gets other columns from now on.

    Returns:
        The new version number (as text).
    """
    client = MlflowClient(tracking_uri())
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description="Synthetic data generator published by prefect-synth")
    previous = _champion_version(client, name)
    change = ""
    if previous is not None:  # read before registering: a retry after a failure here adds no second version
        change = columns_change(_trained_columns(client, previous.source), _trained_columns(client, model_uri))
    # a tracking server checks the source against the logged model it names: pass that model's id
    model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
    version = client.create_model_version(name, source=model_uri, run_id=run_id, model_id=model_id)
    if change:
        message = (f"model version {version.version} of {name} was trained on other columns than the champion "
                   f"it replaces (version {previous.version}): {change}")
        log.warning(message)
        client.set_model_version_tag(name, version.version, "synth.columns_changed", message[:MAX_PARAM_VALUE])
    client.set_registered_model_alias(name, CHAMPION, version.version)
    client.set_tag(run_id, "synth.registered_version", f"{name}/{version.version}")
    if keep_versions is not None:
        try:
            pruned = prune_model_versions(name, keep_versions)
        except MlflowException as e:  # the night is published: a prune that fails waits for the next one
            log.warning("could not prune old versions of %s: %s", name, e)
        else:
            if pruned:
                log.info("Pruned versions %s of %s (tracking.keep_model_versions=%d)",
                         ", ".join(pruned), name, keep_versions)
    return str(version.version)


def prune_model_versions(name: str, keep: int) -> list[str]:
    """Delete the versions of the registered model `name` but the newest `keep`, and with each the files of
    its logged model and of its run (the report): what a night adds to the tracking store, but for a few
    kilobytes. The champion is never deleted, nor are the runs: their params, metrics and tags stay to
    compare, and the tag `synth.pruned` says where the files went. Returns the deleted version numbers.
    """
    if keep < 1:
        raise ValueError(f"keep={keep}: the champion is always kept (keep >= 1)")
    client = MlflowClient(tracking_uri())
    champion = _champion_version(client, name)
    versions = sorted(client.search_model_versions(f"name = '{name}'"), key=lambda v: int(v.version), reverse=True)
    kept = versions[:keep] + [v for v in versions[keep:] if champion is not None and str(v.version) == str(champion.version)]
    # a model registered twice (a retried step) stays while one version names it; so does its run
    models_in_use, runs_in_use = {v.source for v in kept}, {v.run_id for v in kept}
    kept_numbers = {str(v.version) for v in kept}
    deleted = []
    for version in versions:
        if str(version.version) in kept_numbers:
            continue
        client.delete_model_version(name, version.version)
        deleted.append(str(version.version))
        if version.source not in models_in_use:
            _delete_logged_model(client, version.source)
        if version.run_id and version.run_id not in runs_in_use:
            _delete_run_files(client, version.run_id, f"{name} version {version.version}")
    return deleted


def _delete_run_files(client: MlflowClient, run_id: str, what: str) -> None:
    """Delete a run's artifacts (its report), keep the run; tag it so its page says why the files are gone."""
    try:
        get_artifact_repository(client.get_run(run_id).info.artifact_uri, tracking_uri=tracking_uri()).delete_artifacts()
        client.set_tag(run_id, "synth.pruned", f"{what} pruned (tracking.keep_model_versions): its model and "
                                               "report files were deleted; params, metrics and tags stay")
    except Exception as e:  # noqa: BLE001 — housekeeping: files left behind are reported, not fatal
        log.warning("could not delete the files of run %s: %s", run_id, e)


def _delete_logged_model(client: MlflowClient, model_uri: str) -> None:
    """Delete the files of a logged model this tool wrote (`models:/m-...`), then mark it deleted."""
    if not model_uri.startswith("models:/m-"):
        return
    model_id = model_uri.removeprefix("models:/")
    try:
        location = client.get_logged_model(model_id).artifact_location
        get_artifact_repository(location, tracking_uri=tracking_uri()).delete_artifacts()
        client.delete_logged_model(model_id)
    except Exception as e:  # noqa: BLE001 — housekeeping: a model left behind is reported, not fatal
        log.warning("could not delete the files of %s: %s", model_uri, e)


def registered_name(config: RefreshConfig) -> str:
    """The registered model of a dataset: its experiment name."""
    return config.tracking.experiment or Path(config.output.path).stem


def end_run(run_id: str, status: str = "FINISHED", outcome: str | None = None, message: str | None = None) -> None:
    """Close the run as FINISHED, FAILED or KILLED; `outcome` (tag `synth.outcome`: one of OUTCOMES) says why
    it ended so, `message` (tag `synth.failure`) the one line a user would read."""
    if status not in RUN_STATUSES:
        raise ValueError(f"end_run: status must be one of {RUN_STATUSES}, got {status!r}")
    if outcome is not None and outcome not in OUTCOMES:
        raise ValueError(f"end_run: outcome must be one of {OUTCOMES}, got {outcome!r}")
    client = MlflowClient(tracking_uri())
    if outcome is not None:
        client.set_tag(run_id, "synth.outcome", outcome)
    if message:
        lines = [line.strip().lstrip("- ") for line in message.splitlines() if line.strip()]
        client.set_tag(run_id, "synth.failure", "; ".join(lines)[:MAX_PARAM_VALUE])  # which column broke, too
    client.set_terminated(run_id, status)


def run_link(run_id: str) -> tuple[str, str, str]:
    """(link, text, description) of the MLflow run, for an orchestrator's link to it."""
    uri = tracking_uri()
    run = MlflowClient(uri).get_run(run_id)
    description = f"MLflow run `{run.info.run_name}` ({run_id}), experiment {run.info.experiment_id}."
    if not is_web_uri(uri):  # a local store has no page: name it and say how to browse it
        description += f" Browse it with `mlflow ui --backend-store-uri {uri}`."
    return run_page(uri, run.info.experiment_id, run_id), f"MLflow run {run.info.run_name}", description


def run_page(uri: str, experiment_id: str, run_id: str) -> str:
    """The tracking UI's page of a run when `uri` is a server, else the store's URI itself."""
    if is_web_uri(uri):
        return f"{uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"
    return uri


def is_web_uri(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def _experiment_id(client: MlflowClient, name: str) -> str:
    if experiment := client.get_experiment_by_name(name):
        return experiment.experiment_id
    try:
        return client.create_experiment(name)
    except MlflowException as e:  # another flow run created it first
        if e.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
            raise
        return client.get_experiment_by_name(name).experiment_id


def _running_run_id(client: MlflowClient, experiment_id: str, tag: str, value: str) -> str | None:
    runs = client.search_runs(
        [experiment_id], max_results=1,
        filter_string=f"tags.`{tag}` = '{value}' and attributes.status = 'RUNNING'")
    return runs[0].info.run_id if runs else None


def _model_requirements() -> list[str]:
    """The model's runtime deps pinned to the installed versions, less local tags such as `+cpu`."""
    return [f"{name}=={metadata.version(name).split('+')[0]}" for name in MODEL_REQUIREMENTS]


def columns_change(before: dict[str, str] | None, after: dict[str, str] | None) -> str:
    """What differs between two {column: Arrow type} schemas, in words ("" if nothing, or either is unknown)."""
    if before is None or after is None:
        return ""
    added = [f"{n} ({after[n]})" for n in after if n not in before]
    removed = [f"{n} ({before[n]})" for n in before if n not in after]
    retyped = [f"{n} ({before[n]} -> {after[n]})" for n in after if n in before and before[n] != after[n]]
    text = "; ".join(f"{label} {', '.join(names)}" for label, names in
                     (("added", added), ("removed", removed), ("retyped", retyped)) if names)
    return text + (" (a renamed column is one removed and one added)" if added and removed else "")


def _champion_version(client: MlflowClient, name: str):
    """The ModelVersion the `champion` alias points at, or None."""
    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


def _trained_columns(client: MlflowClient, model_uri: str) -> dict[str, str] | None:
    """{column: Arrow type} the logged model at `models:/<model id>` was trained on, read from the saved
    model's model.json (no weights loaded); None, with a note in the log, where it cannot be read."""
    if not model_uri.startswith("models:/m-"):
        return None  # a registered-model URI or a path: not a logged model this tool wrote
    try:
        location = client.get_logged_model(model_uri.removeprefix("models:/")).artifact_location
        flavor = mlflow.models.get_model_info(model_uri).flavors["python_function"]
        folder = flavor["artifacts"][MODEL_ARTIFACT]["path"]  # artifacts/<saved folder's name>
        path = mlflow.artifacts.download_artifacts(artifact_uri=f"{location}/{folder}/{MODEL_JSON}",
                                                   tracking_uri=tracking_uri())
        saved = json.loads(Path(path).read_text())
        # ACTGAN keeps the training schema with its table transformer, DGAN at the top
        schema = schema_from_text(saved["schema"] if "schema" in saved else saved["transformer"]["schema"])
    except Exception as e:  # noqa: BLE001 — a diagnostic: whatever stops it must not stop the registration
        log.info("columns of %s not compared: %s", model_uri, e)
        return None
    return {field.name: str(field.type) for field in schema}
