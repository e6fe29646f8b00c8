"""The report task inside a real flow: both files written, the summary artifact created."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
from prefect import flow

from synth.fidelity.gate import GateThresholds
from flows.prefect_tasks import ARTIFACT_KEY, GATE_ARTIFACT_KEY, report
from tasks.report import ReportResult


def test_report_task_writes_files_and_markdown_artifact(prefect_api, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    rng = np.random.default_rng(0)
    def draw(n: int) -> pa.Table:
        return pa.table({"amount": rng.normal(size=n), "kind": rng.choice(["a", "b"], n)})

    real, synthetic, holdout = draw(300), draw(300), draw(100)
    out_dir = tmp_path / "report"

    @flow
    def tiny_flow() -> ReportResult:
        return report(real, synthetic, str(out_dir), holdout, max_rows=200, bootstrap=5,
                      gate=GateThresholds(min_overall=0.99), seed=0)

    state = tiny_flow(return_state=True)
    result = state.result()

    assert Path(result.json_path) == out_dir / "report.json"
    assert json.loads(Path(result.json_path).read_text()) == result.report
    assert Path(result.html_path).read_text().startswith("<!DOCTYPE html>")
    assert result.report["counts"]["rows_real"] == 200

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=[ARTIFACT_KEY]),
            flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]),
        ))
    assert len(artifacts) == 1
    assert artifacts[0].type == "markdown"
    assert f"| overall | {result.report['summary']['overall']:.3f} |" in artifacts[0].data
    assert "| amount | continuous |" in artifacts[0].data
    assert not result.passed and result.gate["failures"][0].startswith("overall ")  # 0.99 is out of reach
    with get_client(sync_client=True) as client:
        [gate] = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=[GATE_ARTIFACT_KEY]),
            flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]),
        ))
    assert "Quality gate: FAILED" in gate.data
