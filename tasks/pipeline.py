"""The refresh, step by step: ingest → validate → hold out → train → sample → report → gate → publish,
tracked in MLflow. No orchestrator: Prefect's flow (flows/refresh.py) runs this same sequence with its
task-wrapped steps, and any other orchestrator can run it with its own (or with the plain ones).

`source.sample_rows` makes ingest stream the input and train on a uniform sample of it; `sample`
writes the synthetic output chunk by chunk to a staged file beside the output, which `publish`
renames over it once the gate has passed (any failure deletes it instead).
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from synth import storage
from synth.checkpoint import remove_checkpoints
from synth.errors import ConfigError, DataError, QualityGateFailed
from synth.models import model_class
from tasks import ingest as _ingest
from tasks import log, tracking
from tasks import publish as _publish
from tasks import report as _report
from tasks import sample as _sample
from tasks import train as _train
from tasks import validate as _validate
from tasks.config import RefreshConfig
from tasks.ingest import Ingested
from tasks.locks import output_lock
from tasks.preflight import check_batch, check_not_inside_source, check_writable, report_dir
from tasks.publish import METADATA_PREFIX, discard, stamp
from tasks.sample import Staged
from tasks.train import checkpointing
from tasks.validate import ValidationFailed, ValidationResult


def _no_link(run_id: str) -> None:
    """Without an orchestrator's UI there is nothing to link the MLflow run from."""


@dataclass(frozen=True)
class Steps:
    """What a refresh calls for each step: the plain functions by default; an orchestrator passes its own
    wrappers of them (retries, a name in its UI, artifacts), with the same signatures."""

    ingest: Callable = _ingest.ingest
    validate: Callable = _validate.validate
    hold_out: Callable = _report.hold_out
    train: Callable = _train.train
    sample: Callable = _sample.sample
    report: Callable = _report.report
    publish: Callable = _publish.publish
    store_inferred_contract: Callable = _validate.store_inferred_contract
    start_run: Callable = tracking.start_run
    tag_data: Callable = tracking.tag_data
    set_tag: Callable = tracking.set_tag
    log_metrics: Callable = tracking.log_metrics
    log_artifacts: Callable = tracking.log_artifacts
    log_model: Callable = tracking.log_model
    register_champion: Callable = tracking.register_champion
    end_run: Callable = tracking.end_run
    link_run: Callable[[str], None] = _no_link  # an orchestrator's link to the MLflow run


def _no_note(**fields: Any) -> None:
    """Progress notes go nowhere unless the caller keeps them (the CLI does, for its Ctrl-C line)."""


def _output_lock(dataset: str, output_path: str) -> AbstractContextManager:
    return output_lock(output_path)


def refresh(config: RefreshConfig, steps: Steps = Steps(), tags: dict[str, str] | None = None,
            rerun_tag: str | None = None, lock: Callable[[str, str], AbstractContextManager] = _output_lock,
            note: Callable[..., None] = _no_note) -> dict:
    """Refresh one synthetic dataset; nothing is published unless every step succeeds.

    Args:
        tags: the orchestrator's tags for the MLflow run (and `rerun_tag`: the one whose value
            identifies a retried run; see `tracking.start_run`).
        lock: (dataset, output path) → the context held for the whole refresh: one refresh of a
            dataset at a time.
        note: called with the run's progress (stage, epoch, units written) as it goes.

    Returns:
        The outcome: output, MLflow run and model, report, summary, rows, gate; or `skipped`.
    """
    model_class(config.model.kind)  # an unavailable kind fails before anything is read or tracked
    run_id = steps.start_run(config, tags or {}, rerun_tag)
    try:
        check_not_inside_source(config)  # an output equal to the source would overwrite the real data
        check_writable(config.output.path, "output.path")  # before an hour of training, not after
        check_writable(os.path.join(report_dir(config), "report.json"), "output.report_dir")
        with lock(tracking.registered_name(config), config.output.path):
            outcome = _Refresh(config, run_id, steps, note).run()
    except BaseException as e:
        outcome, status = failure_outcome(e)
        steps.end_run(run_id, status, outcome, f"{type(e).__name__}: {e}" if outcome == "error" else str(e))
        raise
    steps.end_run(run_id, "FINISHED", "skipped" if outcome.get("skipped") else "published")
    log.info("Refresh finished: %s (MLflow run %s)", outcome["output"], run_id)
    return outcome


def failure_outcome(error: BaseException) -> tuple[str, str]:
    """The MLflow outcome tag and run status of a run that ended with `error`."""
    if isinstance(error, KeyboardInterrupt):
        return "interrupted", "KILLED"
    if isinstance(error, ValidationFailed):
        return "validation", "FAILED"
    if isinstance(error, QualityGateFailed):
        return "gate", "FAILED"
    if isinstance(error, (ConfigError, DataError)):
        return "invalid-input", "FAILED"
    return "error", "FAILED"


class _Refresh:
    """One refresh under its dataset's lock, with its MLflow run open."""

    def __init__(self, config: RefreshConfig, run_id: str, steps: Steps, note: Callable[..., None]):
        self.config, self.run_id, self.steps, self.note = config, run_id, steps, note

    def run(self) -> dict:
        config, steps, note = self.config, self.steps, self.note
        series = config.series_spec()
        example_id = series.example_id if series else None
        source = config.source
        note(stage="reading")
        data = steps.ingest(source.path, source.columns, source.sample_rows, source.sample_seed, example_id,
                            source.batch_rows, source.pandas_index)
        config.check_columns(data.table.column_names)
        fingerprint = self._tag_data(data)
        if config.output.skip_unchanged:
            unchanged = self._already_published(fingerprint)
            if unchanged is not None:
                return unchanged
        note(stage="validating")
        checked = steps.validate(data.table, config.validation.contract, config.output.path, config.validation.scope,
                                 data.source if data.sampled else None, source.batch_rows,
                                 accept_schema=config.validation.accept_schema)
        train_table, holdout = steps.hold_out(data.table, config.report.holdout_fraction, config.model.seed,
                                              example_id)
        units = (int(pc.count_distinct(train_table.column(example_id)).as_py()) if example_id
                 else train_table.num_rows)
        check_batch(config, units, "examples" if example_id else "rows")
        model = self._train(train_table)
        # as many rows (actgan) or sequences (dgan) as the whole input has, unless the config says
        count = config.sample.num_rows or data.units
        note(stage="sampling", units_done=0, units_total=count)
        staged = steps.sample(model, count, config.model.seed, config.output.path,
                              stamp({"mlflow_run_id": self.run_id, "model_kind": config.model.kind,
                                     "config_hash": config.config_hash(), "data_hash": fingerprint}),
                              config.sample.conditions, chunk_rows=config.sample.chunk_rows,
                              keep_rows=config.report.max_rows, example_id=example_id, mode=config.output.mode,
                              on_progress=lambda done, total: note(units_done=done))
        try:
            scored, model_uri, json_path = self._score(data, checked, train_table, holdout, model, staged)
            return self._publish(checked, model, staged, scored, model_uri, json_path)
        except BaseException:
            discard(staged.path)  # a failed gate or run leaves the previous output, and no staged file
            raise

    def _train(self, train_table):
        config, steps, run_id = self.config, self.steps, self.run_id
        checkpoints = checkpointing(config.model, config.output.path)
        self.note(stage="training", epoch=0, epochs=config.model.epochs,
                  checkpoint_every=checkpoints.every if checkpoints else 0,
                  checkpoint_dir=str(checkpoints.directory) if checkpoints else None)
        log_epoch = tracking.epoch_logger(run_id)

        def on_epoch(stats) -> None:
            self.note(epoch=stats.epoch)
            log_epoch(stats)

        model = steps.train(train_table, config.model, on_epoch=on_epoch, output_path=config.output.path)
        for tag, value in (("synth.resumed_from_epoch", model.resumed_from_),
                           ("synth.stopped_early", model.stopped_early_),
                           ("synth.selected_epoch", getattr(model, "selected_epoch_", None))):
            if value is not None:  # a resumed run, one that stopped early, model selection: seen when comparing
                steps.set_tag(run_id, tag, str(value))
        return model

    def _score(self, data: Ingested, checked: ValidationResult, train_table, holdout, model, staged: Staged):
        """Report (and its gate) written and tracked, the model logged: (report, model URI, report.json path).

        Raises:
            QualityGateFailed: the gate refused the model; the report says why.
        """
        config, steps, run_id = self.config, self.steps, self.run_id
        preparation = getattr(model, "preparation_", None)
        notes = {"preparation": preparation.as_dict()} if preparation is not None else {}
        if data.sampled or staged.kept.num_rows < staged.rows:
            notes["sampling"] = _sampling_notes(data, checked, staged)
        self.note(stage="reporting")
        target = report_dir(config)
        remote = storage.is_remote(target)  # s3://: written to a temporary folder, then copied there
        with tempfile.TemporaryDirectory(prefix="prefect-synth-") as tmp:
            out_dir = Path(tmp) / "report" if remote else Path(target)
            scored = steps.report(train_table, staged.kept, str(out_dir), holdout, max_rows=config.report.max_rows,
                                  bootstrap=config.report.bootstrap, target=config.report.target,
                                  series=config.series_spec(), history=model.history_,
                                  gate=config.gate_thresholds(), seed=config.model.seed, notes=notes or None)
            if remote:
                for file in sorted(out_dir.iterdir()):
                    storage.write_bytes(f"{target.rstrip('/')}/{file.name}", file.read_bytes())
            elif config.output.mode is not None:
                for path in (scored.json_path, scored.html_path):
                    storage.set_mode(path, config.output.mode)
            steps.log_metrics(run_id, report_metrics(scored.report))
            steps.log_artifacts(run_id, out_dir, "report")
        json_path, html_path = ((f"{target.rstrip('/')}/{Path(p).name}" if remote else p)
                                for p in (scored.json_path, scored.html_path))
        with tempfile.TemporaryDirectory(prefix="prefect-synth-") as tmp:
            model_uri = steps.log_model(run_id, model.save(Path(tmp) / "model"))
            validation = Path(tmp) / "validation.json"
            validation.write_text(json.dumps(checked.summary(), indent=1, default=str))
            steps.log_artifacts(run_id, validation, "validation")
        steps.set_tag(run_id, "synth.quality_gate", "passed" if scored.passed else "failed")
        steps.link_run(run_id)
        if not scored.passed:
            failures = "; ".join(scored.gate["failures"])
            raise QualityGateFailed(f"quality gate failed, nothing published ({failures}); the report is in "
                                    f"{html_path}")
        return scored, model_uri, json_path

    def _publish(self, checked: ValidationResult, model, staged: Staged, scored, model_uri: str,
                 json_path: str) -> dict:
        config, steps, run_id = self.config, self.steps, self.run_id
        self.note(stage="publishing")
        path = steps.publish(staged.path, config.output.path, keep_versions=config.output.keep_versions)
        log.info("Published %d synthetic rows to %s", staged.rows, path)
        contract = steps.store_inferred_contract(checked) or (
            checked.contract_path if config.validation.contract is None else None)  # ours; never the user's own
        if contract is not None and config.output.mode is not None:
            storage.set_mode(contract, config.output.mode)
        self._remove_checkpoints(model)
        name = tracking.registered_name(config)
        version = steps.register_champion(run_id, model_uri, name, keep_versions=config.tracking.keep_model_versions)
        log.info("Model version %s is now the champion of %s", version, name)
        return {"output": path, "mlflow_run_id": run_id, "model_uri": model_uri, "model_version": version,
                "report": json_path, "summary": scored.report["summary"],
                "rows": staged.rows, "gate": scored.gate, "skipped": False}

    def _remove_checkpoints(self, model) -> None:
        """After a publish the checkpoints have served (a rerun would train anew on new data or settings);
        `model.training.keep_checkpoints` keeps them, and so does a run whose time budget stopped training
        early: the next run on the same data and settings trains on from there."""
        checkpoints = checkpointing(self.config.model, self.config.output.path)
        if checkpoints is None or self.config.model.training.keep_checkpoints:
            return
        if model.stopped_early_ is not None and not getattr(model, "patience_stopped_", False):  # budget: unfinished
            log.info("Kept the checkpoints in %s: training stopped early, the next run on this data "
                     "and config trains on from them", checkpoints.directory)
            return
        if remove_checkpoints(checkpoints.directory):
            log.info("Removed the checkpoints in %s (the output is published; set "
                     "model.training.keep_checkpoints: true to keep them)", checkpoints.directory)

    def _already_published(self, fingerprint: str) -> dict | None:
        """The outcome of a run that has nothing to do: the output was published from this very input (same
        data hash) and config (same config hash). Checked under the dataset's lock, so of two runs started
        together the second finds the first's output here and publishes nothing."""
        config = self.config
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
        log.info("Nothing to do: %s was published from this same input (data hash %s) and config (hash %s) "
                 "by MLflow run %s; set output.skip_unchanged: false to refresh it anyway",
                 config.output.path, fingerprint, config_hash, by)
        self.steps.set_tag(self.run_id, "synth.skipped", "unchanged")
        self.steps.set_tag(self.run_id, "synth.published_by", by)
        return {"output": config.output.path, "mlflow_run_id": self.run_id, "skipped": True, "published_by": by,
                "rows": current.num_rows}

    def _tag_data(self, data: Ingested) -> str:
        """The input's fingerprint and size as run tags; a sampled input was fingerprinted while streaming.
        Returns the fingerprint."""
        if not data.sampled:
            return self.steps.tag_data(self.run_id, data.table)
        tags = {"synth.data_hash": data.fingerprint, "synth.data_rows": data.source_rows,
                "synth.data_columns": data.table.num_columns, "synth.training_sample_rows": data.table.num_rows}
        for key, value in tags.items():
            self.steps.set_tag(self.run_id, key, str(value))
        return data.fingerprint


def _sampling_notes(data: Ingested, checked: ValidationResult, staged: Staged) -> dict:
    """report.json `sampling`: what was trained on, validated and scored, out of how much."""
    return {"input": data.describe(),
            "validation": {"scope": checked.scope, "rows_checked": checked.rows},
            "synthetic": {"rows_written": staged.rows, "units_written": staged.units, "chunks": staged.chunks,
                          "rows_scored": staged.kept.num_rows}}


def report_metrics(report: dict) -> dict[str, float]:
    """The report's scores as flat MLflow metrics: `report.<score>`, its holdout and independent baselines."""
    metrics = {f"report.{k}": v for k, v in report["summary"].items() if isinstance(v, (int, float))}
    metrics.update({f"report.privacy.{k}": v for k, v in (report["summary"].get("privacy") or {}).items()
                    if v is not None})
    for key, score in report["scores"].items():
        for side in ("holdout", "independent"):
            if score[side] is not None:
                metrics[f"report.{key}.{side}"] = score[side]
    return metrics
