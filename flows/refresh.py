"""The `synthetic-refresh` flow: ingest → validate → hold out → train → sample → report → gate → publish,
tracked in MLflow.

`source.sample_rows` makes ingest stream the input and train on a uniform sample of it; `sample`
writes the synthetic output chunk by chunk to a staged file beside the output, which `publish`
renames over it once the gate has passed (any failure deletes it instead)."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pyarrow.compute as pc
from prefect import flow, get_run_logger
from prefect.runtime import deployment, flow_run

from flows.config import RefreshConfig
from flows.preflight import check_batch, report_dir
from synth import storage
from synth.checkpoint import remove_checkpoints
from synth.errors import ConfigError, DataError, QualityGateFailed
from flows.interrupt import note
from synth.models import model_class
from tasks import tracking
from tasks.ingest import Ingested, ingest
from tasks.locks import dataset_lock
from tasks.preflight import check_not_inside_source, check_writable
from tasks.publish import METADATA_PREFIX, discard, publish, stamp
from tasks.report import hold_out, report
from tasks.sample import Staged, sample
from tasks.train import checkpointing, train
from tasks.validate import ValidationResult, store_inferred_contract, validate


@flow(name="synthetic-refresh")
def synthetic_refresh(config: RefreshConfig) -> dict:
    """Refresh one synthetic dataset; nothing is published unless every stage succeeds."""
    logger = get_run_logger()
    model_class(config.model.kind)  # an unavailable kind fails before anything is read or tracked
    run_id = tracking.start_run(config, flow_run_id=flow_run.get_id(), flow_name=flow_run.get_flow_name(),
                                deployment_name=deployment.get_name(), flow_run_name=flow_run.get_name())
    try:
        check_not_inside_source(config)  # an output equal to the source would overwrite the real data
        check_writable(config.output.path, "output.path")  # before an hour of training, not after
        check_writable(os.path.join(report_dir(config), "report.json"), "output.report_dir")
        with dataset_lock(tracking.registered_name(config), config.output.path):
            outcome = _refresh(config, run_id)
    except BaseException as e:
        outcome, status = failure_outcome(e)
        tracking.end_run(run_id, status, outcome, f"{type(e).__name__}: {e}" if outcome == "error" else str(e))
        raise
    tracking.end_run(run_id, "FINISHED", "skipped" if outcome.get("skipped") else "published")
    logger.info("Refresh finished: %s (MLflow run %s)", outcome["output"], run_id)
    return outcome


def failure_outcome(error: BaseException) -> tuple[str, str]:
    """The MLflow outcome tag and run status of a run that ended with `error`."""
    from tasks.validate import ValidationFailed

    if isinstance(error, KeyboardInterrupt):
        return "interrupted", "KILLED"
    if isinstance(error, ValidationFailed):
        return "validation", "FAILED"
    if isinstance(error, QualityGateFailed):
        return "gate", "FAILED"
    if isinstance(error, (ConfigError, DataError)):
        return "invalid-input", "FAILED"
    return "error", "FAILED"


def _refresh(config: RefreshConfig, run_id: str) -> dict:
    series = config.series_spec()
    example_id = series.example_id if series else None
    source = config.source
    note(stage="reading")
    data = ingest(source.path, source.columns, source.sample_rows, source.sample_seed, example_id,
                  source.batch_rows, source.pandas_index)
    config.check_columns(data.table.column_names)
    fingerprint = _tag_data(run_id, data)
    if config.output.skip_unchanged:
        unchanged = _already_published(config, run_id, fingerprint)
        if unchanged is not None:
            return unchanged
    note(stage="validating")
    checked = validate(data.table, config.validation.contract, config.output.path, config.validation.scope,
                       data.source if data.sampled else None, source.batch_rows,
                       accept_schema=config.validation.accept_schema)
    train_table, holdout = hold_out(data.table, config.report.holdout_fraction, config.model.seed, example_id)
    _check_batch(config, train_table, example_id)
    checkpoints = checkpointing(config.model, config.output.path)
    note(stage="training", epoch=0, epochs=config.model.epochs, checkpoint_every=checkpoints.every if checkpoints else 0,
         checkpoint_dir=str(checkpoints.directory) if checkpoints else None)
    log_epoch = tracking.epoch_logger(run_id)

    def on_epoch(stats) -> None:
        note(epoch=stats.epoch)
        log_epoch(stats)

    model = train(train_table, config.model, on_epoch=on_epoch, output_path=config.output.path)
    for tag, value in (("synth.resumed_from_epoch", model.resumed_from_), ("synth.stopped_early", model.stopped_early_),
                       ("synth.selected_epoch", getattr(model, "selected_epoch_", None))):
        if value is not None:  # a resumed run, one that stopped early, model selection: visible when comparing runs
            tracking.set_tag(run_id, tag, str(value))
    # as many rows (actgan) or sequences (dgan) as the whole input has, unless the config says
    count = config.sample.num_rows or data.units
    note(stage="sampling", units_done=0, units_total=count)
    staged = sample(model, count, config.model.seed, config.output.path,
                    stamp({"mlflow_run_id": run_id, "model_kind": config.model.kind,
                           "config_hash": config.config_hash(), "data_hash": fingerprint}),
                    config.sample.conditions, chunk_rows=config.sample.chunk_rows,
                    keep_rows=config.report.max_rows, example_id=example_id, mode=config.output.mode,
                    on_progress=lambda done, total: note(units_done=done))
    try:
        return _score_and_publish(config, run_id, data, checked, train_table, holdout, model, staged)
    except BaseException:
        discard(staged.path)  # a failed gate or run leaves the previous output, and no staged file
        raise


def _score_and_publish(config: RefreshConfig, run_id: str, data: Ingested, checked: ValidationResult,
                       train_table, holdout, model, staged: Staged) -> dict:
    logger = get_run_logger()
    preparation = getattr(model, "preparation_", None)
    notes = {"preparation": preparation.as_dict()} if preparation is not None else {}
    if data.sampled or staged.kept.num_rows < staged.rows:
        notes["sampling"] = _sampling_notes(data, checked, staged)
    note(stage="reporting")
    target = report_dir(config)
    remote = storage.is_remote(target)  # s3://: written to a temporary folder, then copied there
    with tempfile.TemporaryDirectory(prefix="prefect-synth-") as tmp:
        out_dir = Path(tmp) / "report" if remote else Path(target)
        scored = report(train_table, staged.kept, str(out_dir), holdout, max_rows=config.report.max_rows,
                        bootstrap=config.report.bootstrap, target=config.report.target, series=config.series_spec(),
                        history=model.history_, gate=config.gate_thresholds(), seed=config.model.seed,
                        notes=notes or None)
        if remote:
            for file in sorted(out_dir.iterdir()):
                storage.write_bytes(f"{target.rstrip('/')}/{file.name}", file.read_bytes())
        elif config.output.mode is not None:
            for path in (scored.json_path, scored.html_path):
                storage.set_mode(path, config.output.mode)
        tracking.log_metrics(run_id, _report_metrics(scored.report))
        tracking.log_artifacts(run_id, out_dir, "report")
    json_path, html_path = ((f"{target.rstrip('/')}/{Path(p).name}" if remote else p)
                            for p in (scored.json_path, scored.html_path))
    with tempfile.TemporaryDirectory(prefix="prefect-synth-") as tmp:
        model_uri = tracking.log_model(run_id, model.save(Path(tmp) / "model"))
        tracking.log_artifacts(run_id, _write_json(Path(tmp) / "validation.json", checked.summary()),
                               "validation")
    tracking.set_tag(run_id, "synth.quality_gate", "passed" if scored.passed else "failed")
    tracking.create_run_link(run_id)
    if not scored.passed:
        failures = "; ".join(scored.gate["failures"])
        raise QualityGateFailed(f"quality gate failed, nothing published ({failures}); the report is in "
                                f"{html_path}")
    note(stage="publishing")
    path = publish(staged.path, config.output.path)
    logger.info("Published %d synthetic rows to %s", staged.rows, path)
    contract = store_inferred_contract(checked) or (checked.contract_path if config.validation.contract is None
                                                    else None)  # ours, beside the output; never the user's own
    if contract is not None and config.output.mode is not None:
        storage.set_mode(contract, config.output.mode)
    _remove_checkpoints(config, model)
    version = tracking.register_champion(run_id, model_uri, tracking.registered_name(config))
    logger.info("Model version %s is now the champion of %s", version, tracking.registered_name(config))
    return {"output": path, "mlflow_run_id": run_id, "model_uri": model_uri, "model_version": version,
            "report": json_path, "summary": scored.report["summary"],
            "rows": staged.rows, "gate": scored.gate, "skipped": False}


def _remove_checkpoints(config: RefreshConfig, model) -> None:
    """After a publish the checkpoints have served (a rerun would train anew on new data or settings);
    `model.training.keep_checkpoints` keeps them, and so does a run whose time budget stopped training
    early: the next run on the same data and settings trains on from there."""
    checkpoints = checkpointing(config.model, config.output.path)
    if checkpoints is None or config.model.training.keep_checkpoints:
        return
    if model.stopped_early_ is not None and not getattr(model, "patience_stopped_", False):  # the budget: unfinished
        get_run_logger().info("Kept the checkpoints in %s: training stopped early, the next run on this data "
                              "and config trains on from them", checkpoints.directory)
        return
    if remove_checkpoints(checkpoints.directory):
        get_run_logger().info("Removed the checkpoints in %s (the output is published; set "
                              "model.training.keep_checkpoints: true to keep them)", checkpoints.directory)


def _already_published(config: RefreshConfig, run_id: str, fingerprint: str) -> dict | None:
    """The outcome of a run that has nothing to do: the output was published from this very input (same
    data hash) and config (same config hash). Checked under the dataset's lock, so of two runs started
    together the second finds the first's output here and publishes nothing."""
    try:
        current = storage.current_version(config.output.path)
    except (OSError, ValueError, DataError):  # not a file this tool published: nothing to compare with
        return None
    if current is None:
        return None
    meta = {k[len(METADATA_PREFIX):]: v for k, v in current.metadata.items() if k.startswith(METADATA_PREFIX)}
    config_hash = config.config_hash()
    if meta.get("data_hash") != fingerprint or meta.get("config_hash") != config_hash:
        return None
    by = meta.get("mlflow_run_id", "an earlier run")
    get_run_logger().info("Nothing to do: %s was published from this same input (data hash %s) and config (hash %s) "
                          "by MLflow run %s; set output.skip_unchanged: false to refresh it anyway",
                          config.output.path, fingerprint, config_hash, by)
    tracking.set_tag(run_id, "synth.skipped", "unchanged")
    tracking.set_tag(run_id, "synth.published_by", by)
    return {"output": config.output.path, "mlflow_run_id": run_id, "skipped": True, "published_by": by,
            "rows": current.num_rows}


def _tag_data(run_id: str, data: Ingested) -> str:
    """The input's fingerprint and size as run tags; a sampled input was fingerprinted while streaming.
    Returns the fingerprint."""
    if not data.sampled:
        return tracking.tag_data(run_id, data.table)
    tags = {"synth.data_hash": data.fingerprint, "synth.data_rows": data.source_rows,
            "synth.data_columns": data.table.num_columns, "synth.training_sample_rows": data.table.num_rows}
    for key, value in tags.items():
        tracking.set_tag(run_id, key, str(value))
    return data.fingerprint


def _sampling_notes(data: Ingested, checked: ValidationResult, staged: Staged) -> dict:
    """report.json `sampling`: what was trained on, validated and scored, out of how much."""
    return {"input": data.describe(),
            "validation": {"scope": checked.scope, "rows_checked": checked.rows},
            "synthetic": {"rows_written": staged.rows, "units_written": staged.units, "chunks": staged.chunks,
                          "rows_scored": staged.kept.num_rows}}


def _report_metrics(report: dict) -> dict[str, float]:
    metrics = {f"report.{k}": v for k, v in report["summary"].items() if isinstance(v, (int, float))}
    metrics.update({f"report.privacy.{k}": v for k, v in (report["summary"].get("privacy") or {}).items()
                    if v is not None})
    for key, score in report["scores"].items():
        for side in ("holdout", "independent"):
            if score[side] is not None:
                metrics[f"report.{key}.{side}"] = score[side]
    return metrics


def _write_json(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data, indent=1, default=str))
    return path


def _check_batch(config: RefreshConfig, train_table, example_id: str | None) -> None:
    units = (int(pc.count_distinct(train_table.column(example_id)).as_py()) if example_id
             else train_table.num_rows)
    check_batch(config, units, "examples" if example_id else "rows")
