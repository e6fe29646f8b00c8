"""The `synthetic-refresh` flow: ingest → validate → hold out → train → sample → report → gate → publish,
tracked in MLflow."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pyarrow.compute as pc
from prefect import flow, get_run_logger
from prefect.runtime import deployment, flow_run

from flows.config import RefreshConfig
from synth.errors import QualityGateFailed
from synth.models import model_class
from tasks import tracking
from tasks.ingest import ingest
from tasks.locks import dataset_lock
from tasks.publish import publish
from tasks.report import hold_out, report
from tasks.sample import sample
from tasks.train import train
from tasks.validate import store_inferred_contract, validate


def report_dir(config: RefreshConfig) -> Path:
    out = Path(config.output.path)
    return Path(config.output.report_dir) if config.output.report_dir else out.with_name(out.stem + ".report")


@flow(name="synthetic-refresh")
def synthetic_refresh(config: RefreshConfig) -> dict:
    """Refresh one synthetic dataset; nothing is published unless every stage succeeds."""
    logger = get_run_logger()
    model_class(config.model.kind)  # an unavailable kind fails before anything is read or tracked
    run_id = tracking.start_run(config, flow_run_id=flow_run.get_id(), flow_name=flow_run.get_flow_name(),
                                deployment_name=deployment.get_name(), flow_run_name=flow_run.get_name())
    try:
        with dataset_lock(tracking.registered_name(config)):
            outcome = _refresh(config, run_id)
    except BaseException:
        tracking.end_run(run_id, "FAILED")
        raise
    tracking.end_run(run_id, "FINISHED")
    logger.info("Refresh finished: %s (MLflow run %s)", outcome["output"], run_id)
    return outcome


def _refresh(config: RefreshConfig, run_id: str) -> dict:
    logger = get_run_logger()
    table = ingest(config.source.path, config.source.columns)
    tracking.tag_data(run_id, table)
    checked = validate(table, config.validation.contract, config.output.path)
    series = config.series_spec()
    train_table, holdout = hold_out(table, config.report.holdout_fraction, config.model.seed,
                                    series.example_id if series else None)
    model = train(train_table, config.model, on_epoch=tracking.epoch_logger(run_id))
    # as many rows (actgan) or sequences (dgan) as the whole input has, unless the config says
    count = config.sample.num_rows or (_examples(table, series.example_id) if series else table.num_rows)
    synthetic = sample(model, count, config.model.seed, config.sample.conditions)
    preparation = getattr(model, "preparation_", None)
    out_dir = report_dir(config)
    scored = report(train_table, synthetic, str(out_dir), holdout, max_rows=config.report.max_rows,
                    bootstrap=config.report.bootstrap, target=config.report.target, series=series,
                    history=model.history_, gate=config.gate_thresholds(), seed=config.model.seed,
                    notes={"preparation": preparation.as_dict()} if preparation is not None else None)
    tracking.log_metrics(run_id, _report_metrics(scored.report))
    tracking.log_artifacts(run_id, out_dir, "report")
    with tempfile.TemporaryDirectory(prefix="prefect-synth-") as tmp:
        model_uri = tracking.log_model(run_id, model.save(Path(tmp) / "model"))
        tracking.log_artifacts(run_id, _write_json(Path(tmp) / "validation.json", checked.summary()),
                               "validation")
    tracking.set_tag(run_id, "synth.quality_gate", "passed" if scored.passed else "failed")
    tracking.create_run_link(run_id)
    if not scored.passed:
        failures = "; ".join(scored.gate["failures"])
        raise QualityGateFailed(f"quality gate failed, nothing published ({failures}); the report is in "
                                f"{scored.html_path}")
    path = publish(synthetic, config.output.path, {"mlflow_run_id": run_id, "model_kind": config.model.kind,
                                                   "config_hash": config.config_hash()})
    store_inferred_contract(checked)
    version = tracking.register_champion(run_id, model_uri, tracking.registered_name(config))
    logger.info("Model version %s is now the champion of %s", version, tracking.registered_name(config))
    return {"output": path, "mlflow_run_id": run_id, "model_uri": model_uri, "model_version": version,
            "report": scored.json_path, "summary": scored.report["summary"], "rows": synthetic.num_rows,
            "gate": scored.gate}


def _examples(table, column: str) -> int:
    return int(pc.count_distinct(table.column(column)).as_py())


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
