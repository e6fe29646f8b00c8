"""Report steps: hold back real data, score the synthetic data, decide the quality gate."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from synth.fidelity import build_report, write_report
from synth.fidelity.gate import GateThresholds, evaluate_gate
from synth.fidelity.render import MAX_PLOTTED_ROWS, fmt, render_html
from synth.tables import sample_rows
from synth.schema import schema_specs
from synth.split import split_holdout
from tasks import log


@dataclass(frozen=True)
class ReportResult:
    """The report as a dict (see `synth.fidelity.report`), where it was written, and the gate's verdict
    (also as markdown, for an orchestrator's UI)."""

    report: dict
    json_path: str
    html_path: str
    gate: dict | None = None
    gate_markdown: str | None = None

    @property
    def passed(self) -> bool:
        return self.gate is None or self.gate["passed"]


def hold_out(table: pa.Table, fraction: float, seed: int, group: str | None = None):
    """(training table, holdout table or None): the holdout is never trained on."""
    train, holdout = split_holdout(table, fraction, seed, group)
    if holdout is not None:
        log.info("Held back %d of %d rows%s for the report", holdout.num_rows, table.num_rows,
                              f" (whole examples of '{group}')" if group else "")
    return train, holdout


def report(real: pa.Table, synthetic: pa.Table, out_dir: str, holdout: pa.Table | None = None, *,
           max_rows: int = 50_000, bootstrap: int = 20, target: str | None = None, series=None,
           history: list | None = None, gate: GateThresholds | None = None, seed: int = 0,
           notes: dict | None = None) -> ReportResult:
    """Score `synthetic` against `real` (and `holdout`), decide the gate, write report.json/html.
    `notes` (e.g. {"preparation": {...}}) go into report.json as they are."""
    result = build_report(real, synthetic, holdout, target=target, series=series, history=history,
                          max_rows=max_rows, bootstrap=bootstrap, seed=seed)
    result.update(notes or {})
    verdict = evaluate_gate(result, gate) if gate is not None else None
    if verdict is not None:
        result["gate"] = verdict.as_dict()
    specs = [s for s in schema_specs(real.schema) if series is None or s.name != series.example_id]
    rng = np.random.default_rng(seed)
    html = render_html(result, sample_rows(real, MAX_PLOTTED_ROWS, rng).to_pandas(),
                       sample_rows(synthetic, MAX_PLOTTED_ROWS, rng).to_pandas(), specs)
    json_path, html_path = write_report(result, html, out_dir)
    summary = result["summary"]
    log.info("Fidelity: overall %s (holdout %s, independent columns %s), column shapes %s, column pairs %s; "
                "report in %s", fmt(summary["overall"]), fmt(result["scores"]["overall"]["holdout"]),
                fmt(result["scores"]["overall"]["independent"]), fmt(summary["column_shapes"]),
                fmt(summary["column_pairs"]), html_path)
    for diagnosis in (result.get("training") or {}).get("diagnoses", []):
        log.warning("Training health: %s", diagnosis["message"])
    return ReportResult(report=result, json_path=str(json_path), html_path=str(html_path),
                        gate=verdict.as_dict() if verdict is not None else None,
                        gate_markdown=verdict.markdown() if verdict is not None else None)

