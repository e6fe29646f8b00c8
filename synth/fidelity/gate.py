"""The quality gate: thresholds on a report decide whether a refresh publishes.

    result = evaluate_gate(report, GateThresholds(min_overall=0.8))
    result.passed, result.failures   # failures: ["overall 0.712 < 0.8", ...]

A threshold set to None is not checked. A check whose number the report lacks (e.g. privacy
without a holdout) is listed as skipped, not failed: the report's notes say why it is missing.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class GateThresholds:
    min_overall: float | None = 0.7          # mean of column shapes and column pairs
    min_column_shapes: float | None = 0.7
    min_column_pairs: float | None = 0.6
    min_structure: float | None = None       # 2-D PCA structure score
    min_detection: float | None = None       # 1 - 2·max(AUC - 0.5, 0) of a real-vs-synthetic classifier
    min_series: float | None = None          # time series overall (series reports only)
    max_exact_copy_rate: float | None = 0.05  # share of synthetic rows that copy a training row
    min_dcr_holdout_share: float | None = 0.3  # share of synthetic rows no closer to training than to holdout rows (ideal 0.5)


@dataclass(frozen=True)
class GateCheck:
    name: str
    value: float | None
    threshold: float
    bound: str            # "min" or "max"
    status: str           # passed | failed | skipped

    @property
    def text(self) -> str:
        if self.value is None:
            return f"{self.name}: not measured (skipped)"
        sign = ("≥" if self.status == "passed" else "<") if self.bound == "min" else \
            ("≤" if self.status == "passed" else ">")
        return f"{self.name} {self.value:.4g} {sign} {self.threshold:g}"


@dataclass(frozen=True)
class GateResult:
    checks: list[GateCheck] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.status != "failed" for c in self.checks)

    @property
    def failures(self) -> list[str]:
        return [c.text for c in self.checks if c.status == "failed"]

    def as_dict(self) -> dict:
        return {"passed": self.passed, "failures": self.failures,
                "checks": [{**asdict(c), "text": c.text} for c in self.checks]}

    def markdown(self) -> str:
        head = "# Quality gate: PASSED" if self.passed else "# Quality gate: FAILED"
        rows = [f"| {c.name} | {'n/a' if c.value is None else f'{c.value:.4f}'} | {c.bound} {c.threshold:g} | "
                f"{c.status} |" for c in self.checks]
        return "\n".join([head, "", "| check | value | threshold | status |", "|---|---|---|---|", *rows]) + "\n"


def evaluate_gate(report: dict, thresholds: GateThresholds) -> GateResult:
    summary = report["summary"]
    privacy = summary.get("privacy") or {}
    values = {
        "overall": summary.get("overall"), "column_shapes": summary.get("column_shapes"),
        "column_pairs": summary.get("column_pairs"), "structure": summary.get("structure"),
        "detection": summary.get("detection"), "series": summary.get("series"),
        "exact_copy_rate": privacy.get("exact_copy_rate"),
        "dcr_holdout_share": privacy.get("dcr_holdout_share"),
    }
    checks = []
    for key, threshold in asdict(thresholds).items():
        if threshold is None:
            continue
        bound, name = key.split("_", 1)
        value = values[name]
        if value is None:
            status = "skipped"
        elif bound == "min":
            status = "passed" if value >= threshold else "failed"
        else:
            status = "passed" if value <= threshold else "failed"
        checks.append(GateCheck(name, value, threshold, bound, status))
    return GateResult(checks)
