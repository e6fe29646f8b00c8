"""The `synthetic-refresh` flow: ingest → validate → train → sample → report → publish, tracked in MLflow."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.runtime import deployment, flow_run

from flows.config import RefreshConfig
from synth.models import model_class
from synth.schema import schema_specs
from tasks import tracking
from tasks.ingest import ingest
from tasks.publish import publish
from tasks.report import report
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
                                deployment_name=deployment.get_name())
    try:
        outcome = _refresh(config, run_id)
    except BaseException:
        tracking.end_run(run_id, "FAILED")
        raise
    tracking.end_run(run_id, "FINISHED")
    logger.info("Refresh finished: %s (MLflow run %s)", outcome["output"], run_id)
    return outcome


def _refresh(config: RefreshConfig, run_id: str) -> dict:
    table = ingest(config.source.path, config.source.columns)
    checked = validate(table, config.validation.contract, config.output.path)
    model = train(table, config.model, on_epoch=tracking.epoch_logger(run_id))
    # as many rows (actgan) or sequences (dgan) as the input has, unless the config says
    count = config.sample.num_rows or getattr(model, "training_size_", table.num_rows)
    synthetic = sample(model, count, config.model.seed, config.sample.conditions)
    # example ids are names, not data: synthetic sequences get fresh ones, so they are not compared
    ignored = {config.model.example_id} if config.model.kind == "dgan" else set()
    specs = [s for s in schema_specs(synthetic.schema) if s.name not in ignored]
    out_dir = report_dir(config)
    preparation = getattr(model, "preparation_", None)
    scored = report(table.to_pandas(), synthetic.to_pandas(), specs, str(out_dir),
                    config.report.max_rows, config.model.seed,
                    notes={"preparation": preparation.as_dict()} if preparation is not None else None)
    tracking.log_metrics(run_id, {f"report.{k}": v for k, v in scored.report["summary"].items() if v is not None})
    tracking.log_artifacts(run_id, out_dir, "report")
    with tempfile.TemporaryDirectory(prefix="prefect-synth-") as tmp:
        model_uri = tracking.log_model(run_id, model.save(Path(tmp) / "model"))
        tracking.log_artifacts(run_id, _write_json(Path(tmp) / "validation.json", checked.summary()),
                               "validation")
    path = publish(synthetic, config.output.path, {"mlflow_run_id": run_id, "model_kind": config.model.kind,
                                                   "config_hash": config.config_hash()})
    store_inferred_contract(checked)
    tracking.create_run_link(run_id)
    return {"output": path, "mlflow_run_id": run_id, "model_uri": model_uri,
            "report": scored.json_path, "summary": scored.report["summary"], "rows": synthetic.num_rows}


def _write_json(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data, indent=1, default=str))
    return path
