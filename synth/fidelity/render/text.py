"""The report as text: a Markdown summary (for an orchestrator's UI) and a few lines for a terminal."""
from __future__ import annotations

from synth.fidelity.render.base import fmt, fmt_interval
from synth.fidelity.scores import EVERY_REPORT, HEADLINE


def summary_markdown(report: dict, max_columns: int = 20) -> str:
    """A short Markdown summary: each score beside its reference points, and the weakest columns."""
    lines = ["# Fidelity summary", "", "| score | synthetic | 90 % interval | holdout (best) | independent columns |",
             "|---|---|---|---|---|"]
    for key in EVERY_REPORT:
        s = report["scores"][key]
        interval = fmt_interval((s["ci_low"], s["ci_high"]))
        lines.append(f"| {key} | {fmt(s['synthetic'])} | {interval} | {fmt(s['holdout'])} | {fmt(s['independent'])} |")
    privacy = report["summary"]["privacy"]
    lines += ["", f"Privacy: exact copies of training rows {fmt(privacy['exact_copy_rate'])}; "
              f"holdout share (synthetic rows no closer to the training data than to the holdout) "
              f"{fmt(privacy['dcr_holdout_share'])} (0.5 is ideal, low: memorising); "
              f"membership-inference AUC {fmt(privacy['membership_auc'])} (0.5: no leakage).", ""]
    if report.get("series"):
        summary = report["summary"]
        lines += [f"Time series overall: {fmt(summary.get('series'))}; ACF error {fmt(summary.get('acf_error'))} "
                  f"(time-shuffled baseline {fmt(summary.get('acf_error_shuffled'))}, lower is better).", ""]
    worst = sorted(report["columns"], key=lambda c: c["score"])[:max_columns]
    if len(worst) < len(report["columns"]):
        lines += [f"The {len(worst)} lowest-scoring of {len(report['columns'])} columns:", ""]
    lines += ["| column | kind | similarity | missing-rate difference | score | holdout |", "|---|---|---|---|---|---|"]
    lines += [f"| {_md_cell(c['name'])} | {c['kind']} | {fmt(c['similarity'])} | "
              f"{fmt(c['missing_rate_difference'])} | {fmt(c['score'])} | {fmt(c['score_holdout'])} |"
              for c in worst]
    for diagnosis in (report.get("training") or {}).get("diagnoses", []):
        lines += ["", f"**Training:** {diagnosis['message']}"]
    return "\n".join(lines) + "\n"


def summary_text(report: dict) -> str:
    """The headline scores for a terminal: each beside its reference points, the privacy line, and the
    gate's verdict when the report holds one (`report["gate"]`, as GateResult.as_dict writes it).

        score      synthetic  holdout  independent columns
        overall        0.842    0.901                0.655
        ...
        privacy: exact copies 0.000; holdout share 0.497 (0.5 ideal, low: memorising); membership AUC 0.503 ...
        gate: FAILED (overall 0.842 < 0.9)

    `holdout`: real rows the model never saw, scored the same way (the best to expect); `independent
    columns`: every column drawn on its own (what marginals alone score; for series, time-shuffled
    sequences). A reference column no score has is left out.
    """
    scores = report["scores"]
    keys = [key for key in HEADLINE if key in scores]
    sides = ["synthetic"] + [side for side in ("holdout", "independent")
                             if any(scores[key][side] is not None for key in keys)]
    titles = {"synthetic": "synthetic", "holdout": "holdout", "independent": "independent columns"}
    width = max(len(HEADLINE[key]) for key in keys)
    lines = ["  ".join([f"{'score':<{width}}", *(titles[side] for side in sides)])]
    lines += ["  ".join([f"{HEADLINE[key]:<{width}}", *(f"{fmt(scores[key][side]):>{len(titles[side])}}"
                                                         for side in sides)]) for key in keys]
    privacy = report["summary"].get("privacy") or {}
    copies = f"privacy: exact copies {fmt(privacy.get('exact_copy_rate'))}"
    if privacy.get("dcr_holdout_share") is None:
        lines.append(f"{copies}; holdout share and membership AUC need a holdout (none given)")
    else:
        lines.append(f"{copies}; holdout share {fmt(privacy['dcr_holdout_share'])} (0.5 ideal, low: memorising); "
                     f"membership AUC {fmt(privacy.get('membership_auc'))} (0.5: no leakage)")
    gate = report.get("gate")
    if gate is not None:
        unmeasured = [c["name"] for c in gate["checks"] if c["status"] == "skipped"]
        verdict = "gate: passed" if gate["passed"] else f"gate: FAILED ({'; '.join(gate['failures'])})"
        lines.append(verdict + (f"; not measured: {', '.join(unmeasured)}" if unmeasured else ""))
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|")
