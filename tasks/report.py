"""The report task: fidelity metrics, report.json/report.html, and a summary artifact in the Prefect UI."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.artifacts import create_markdown_artifact

from synth.fidelity import fidelity_report, render_html, summary_markdown, write_report
from synth.schema import ColumnSpec

ARTIFACT_KEY = "fidelity-summary"


@dataclass(frozen=True)
class ReportResult:
    """The report as a dict (see `synth.fidelity.fidelity_report`) and where it was written."""

    report: dict
    json_path: str
    html_path: str


@task(name="report", cache_policy=NO_CACHE)
def report(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    specs: list[ColumnSpec],
    out_dir: str,
    max_rows: int = 50_000,
    seed: int = 0,
    notes: dict | None = None,
) -> ReportResult:
    """Compare synthetic with real data, write report.json and report.html to `out_dir`, publish a summary.

    `notes` (e.g. {"preparation": {...}}: what cleaning did to the input) go into report.json as they are.
    """
    logger = get_run_logger()
    result = fidelity_report(real, synthetic, specs, max_rows=max_rows, seed=seed)
    result.update(notes or {})
    html = render_html(result, real, synthetic, specs)
    json_path, html_path = write_report(result, html, out_dir)
    create_markdown_artifact(
        markdown=summary_markdown(result), key=ARTIFACT_KEY, description="Synthetic data fidelity scores"
    )
    summary = result["summary"]
    logger.info("Fidelity: overall %s, column shapes %s, column pairs %s; report in %s",
                _fmt(summary["overall"]), _fmt(summary["column_shapes"]), _fmt(summary["column_pairs"]), html_path)
    return ReportResult(report=result, json_path=str(json_path), html_path=str(html_path))


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
