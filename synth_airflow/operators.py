"""`SyntheticRefreshOperator`: one table's whole refresh as one Airflow task, with links to its MLflow
run and its report.

Why one operator and not one per step: the steps hand each other a table, a trained model and a
staged file, which XCom must not carry, and the refresh holds its dataset's lock and its MLflow run
from ingest to publish. As one task it keeps both, a retry resumes training from the latest
checkpoint (model.training.checkpoint_every), and a failure anywhere publishes nothing. Fan tables
out with dynamic task mapping (`.partial(...).expand_kwargs(...)`), one mapped task per table.

This module imports only Airflow's task SDK: the pipeline is imported when the task runs.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import BaseOperator, BaseOperatorLink

from synth_airflow.run import MLFLOW_LINK_KEY, REPORT_LINK_KEY


class _XComLink(BaseOperatorLink):
    key = ""

    def get_link(self, operator, *, ti_key) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        return XCom.get_value(ti_key=ti_key, key=self.key) or ""


class MlflowRunLink(_XComLink):
    """The task's MLflow run (its page on a tracking server, or the store's URI)."""

    name = "MLflow run"
    key = MLFLOW_LINK_KEY


class ReportLink(_XComLink):
    """The fidelity and privacy report the task wrote (report.html)."""

    name = "Fidelity report"
    key = REPORT_LINK_KEY


class SyntheticRefreshOperator(BaseOperator):
    """Refresh one synthetic dataset: ingest, validate, train, sample, report, gate, publish, tracked in
    MLflow; nothing is published unless every step succeeds.

    Args:
        config: a YAML run config's path (relative to `base_dir`) or the run config as a mapping
            (a DAG's `params.config`); templated.
        overrides: `key.path=value` settings on top of it, as `prefect-synth run --set`; templated.
        base_dir: where the config's relative paths resolve (default: $SYNTH_HOME, else the worker's
            working directory); templated.
        mlflow_conn_id: the MLflow server's connection (type synth_mlflow); undefined: the
            worker's MLFLOW_TRACKING_URI.
        storage_conn_id: the object store's connection (type aws); undefined: the worker's AWS_*.

    Returns (XCom): paths, URIs, scores and the gate's verdict; never a table or a model.

    A bad config or input, failed validation and a failed quality gate fail the task without a
    retry; a server or store that did not answer is retried with the task's `retries`.
    """

    template_fields: Sequence[str] = ("config", "overrides", "base_dir")
    operator_extra_links = (MlflowRunLink(), ReportLink())
    ui_color = "#d9ecf2"

    def __init__(self, *, config: str | Mapping[str, Any], overrides: Sequence[str] = (),
                 base_dir: str | None = None, mlflow_conn_id: str | None = "synth_mlflow",
                 storage_conn_id: str | None = "aws_default", **kwargs: Any):
        super().__init__(**kwargs)
        self.config, self.overrides, self.base_dir = config, list(overrides or ()), base_dir
        self.mlflow_conn_id, self.storage_conn_id = mlflow_conn_id, storage_conn_id

    def execute(self, context) -> dict[str, Any]:
        from synth_airflow.run import refresh_table

        return refresh_table(self.config, self.overrides, base_dir=self.base_dir, mlflow_conn_id=self.mlflow_conn_id,
                             storage_conn_id=self.storage_conn_id, context=context)
