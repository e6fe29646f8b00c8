"""The quality gate: thresholds on a report decide whether a refresh publishes.

    result = evaluate_gate(report, GateThresholds(min_overall=0.8))
    result.passed, result.failures   # failures: ["overall 0.712 < 0.8", ...]

A threshold set to None is not checked. A check whose number the report lacks (e.g. privacy
without a holdout) is listed as skipped, not failed: the report's notes say why it is missing.

Most thresholds bound one summary number. Three compare with a reference point instead, so they
ask whether the model learned anything beyond the marginals; each failure names the threshold, the
value and the reference:
- `min_pairs_margin`: the pair-trend score must beat the independent-columns baseline (each real
  column drawn on its own: marginals kept, dependence gone) by more than the margin. The synthetic
  side is the low end of its 90 % bootstrap interval when the report has one (else the point score):
  on small data, where the scores are noisy, a model that learned no dependence must not pass by a
  lucky draw. Check value: that low end minus the baseline.
- `max_detection_auc`: the AUC of the classifier telling synthetic rows from real ones (0.5: it cannot;
  the holdout rows' AUC is the real-vs-real reference).
- `max_acf_error_ratio` (time series; skipped for tables): the synthetic ACF error (`acf_error`, mean
  |gap| to the real autocorrelation curves) at most this times that of the real sequences time-shuffled
  (`acf_error_shuffled`: what a model that learned no temporal order scores); skipped too when the real
  sequences have so little autocorrelation that shuffling hardly changes it. Check value: the ratio.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from synth.fidelity.scores import SCORES


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
    # relative to reference points (module docstring); on by default: a model that learned no dependence,
    # whose every row gives itself away, or with no more temporal order than shuffled steps is refused
    min_pairs_margin: float | None = 0.0      # column_pairs (interval low) minus the independent-columns baseline
    max_detection_auc: float | None = 0.99    # real-vs-synthetic classifier AUC (0.5: cannot tell)
    max_acf_error_ratio: float | None = 1.0   # synthetic ACF error / time-shuffled ACF error (series only)


@dataclass(frozen=True)
class GateCheck:
    name: str
    value: float | None
    threshold: float
    bound: str            # "min" or "max"
    status: str           # passed | failed | skipped
    detail: str | None = None  # a relative check in words, its reference named (skipped: what was missing)

    @property
    def text(self) -> str:
        if self.value is None:
            return f"{self.name}: not measured (skipped{f': {self.detail}' if self.detail else ''})"
        if self.detail is not None:
            return self.detail
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
                "checks": [{**_fields(c), "text": c.text} for c in self.checks]}

    @property
    def statuses(self) -> dict[str, str]:
        """{check name: passed | failed | skipped}, one per threshold that is set."""
        return {c.name: c.status for c in self.checks}

    def markdown(self) -> str:
        head = "# Quality gate: PASSED" if self.passed else "# Quality gate: FAILED"
        rows = [f"| {c.name} | {'n/a' if c.value is None else f'{c.value:.4f}'} | {c.bound} {c.threshold:g} | "
                f"{c.status} |" for c in self.checks]
        return "\n".join([head, "", "| check | value | threshold | status |", "|---|---|---|---|", *rows]) + "\n"


def _fields(check: GateCheck) -> dict:
    return {key: value for key, value in asdict(check).items() if key != "detail"}  # `text` says it


def evaluate_gate(report: dict, thresholds: GateThresholds) -> GateResult:
    summary = report["summary"]
    privacy = summary.get("privacy") or {}
    values = {
        **{score.key: summary.get(score.key) for score in SCORES},
        "exact_copy_rate": privacy.get("exact_copy_rate"),
        "dcr_holdout_share": privacy.get("dcr_holdout_share"),
    }
    checks = []
    for key, threshold in asdict(thresholds).items():
        if threshold is None:
            continue
        if key in RELATIVE:
            checks.append(RELATIVE[key](report, threshold))
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


def _pairs_margin(report: dict, margin: float) -> GateCheck:
    pairs = (report.get("scores") or {}).get("column_pairs") or {}
    point, low, baseline = pairs.get("synthetic"), pairs.get("ci_low"), pairs.get("independent")
    if point is None or baseline is None:
        missing = "no column-pair score" if point is None else "no independent-columns baseline"
        return GateCheck("pairs_margin", None, margin, "min", "skipped", missing)
    value = point if low is None else low
    shown = f"column_pairs {point:.3f}" + ("" if low is None else f" (90 % interval low {low:.3f})")
    passed = value - baseline > margin
    by = f" by more than {margin:g}" if margin else ""
    text = (f"{shown} {'beats' if passed else 'does not beat'} the independent-columns baseline {baseline:.3f}"
            f"{by} (min_pairs_margin {margin:g})")
    return GateCheck("pairs_margin", value - baseline, margin, "min", "passed" if passed else "failed", text)


def _detection_auc(report: dict, limit: float) -> GateCheck:
    auc = report["summary"].get("detection_auc")
    if auc is None:
        return GateCheck("detection_auc", None, limit, "max", "skipped", "no detection classifier AUC")
    holdout = ((report.get("detection") or {}).get("holdout") or {}).get("auc")
    reference = "0.5: the classifier cannot tell synthetic rows from real ones" + (
        "" if holdout is None else f"; holdout rows {holdout:.3f}")
    passed = auc <= limit
    text = f"detection_auc {auc:.3f} {'≤' if passed else '>'} {limit:g} (max_detection_auc; {reference})"
    return GateCheck("detection_auc", auc, limit, "max", "passed" if passed else "failed", text)


def _acf_error_ratio(report: dict, limit: float) -> GateCheck:
    summary = report["summary"]
    if "acf_error" not in summary:
        return GateCheck("acf_error_ratio", None, limit, "max", "skipped", "not a time-series report")
    error, baseline = summary["acf_error"], summary.get("acf_error_shuffled")
    if error is None or baseline is None:
        return GateCheck("acf_error_ratio", None, limit, "max", "skipped", "no autocorrelation measured")
    if baseline < MIN_SHUFFLED_ACF_ERROR:
        return GateCheck("acf_error_ratio", None, limit, "max", "skipped",
                         f"the real sequences have too little autocorrelation: time-shuffling them changes it "
                         f"by {baseline:.3f} < {MIN_SHUFFLED_ACF_ERROR}")
    ratio = error / baseline
    text = (f"acf_error {error:.3f} is {ratio:.2f} × the time-shuffled baseline's {baseline:.3f} "
            f"(max_acf_error_ratio {limit:g})")
    return GateCheck("acf_error_ratio", ratio, limit, "max", "passed" if ratio <= limit else "failed", text)


# Below this time-shuffled ACF error the real sequences have next to no autocorrelation and the ratio
# would divide by noise (24-step white noise: 0.016 over 100 sequences, 0.004 over 900; AR(1) with
# φ = 0.3: 0.026 and 0.030).
MIN_SHUFFLED_ACF_ERROR = 0.02
RELATIVE = {"min_pairs_margin": _pairs_margin, "max_detection_auc": _detection_auc,
            "max_acf_error_ratio": _acf_error_ratio}  # thresholds checked against a reference point
