"""Training health: the loss curves of a run, and a plain-words diagnosis of known WGAN failures.

    training_health(model.history_, report) -> {"epochs", "curves", "validation", "diagnoses"}

`validation` (None without model selection) is the validation-score curve {"epoch", "score"} and
the epoch whose state was kept, `selected_epoch` (the first best score, as synth.selection keeps it).

Each diagnosis is {"code", "message", "knobs"}: what the curves (or the synthetic data) show, and
the settings to try. Codes: `non_finite` (NaN or ±inf losses), `critic_overpowering` (the
Wasserstein estimate keeps growing: the critic wins), `rising_critic_loss` (the WGAN-GP critic loss
keeps rising), `collapsed_category` (a discrete column's synthetic values use few of its categories).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from synth.fidelity.metrics import finite_or_none

CURVES = ("wasserstein", "gradient_penalty", "critic_loss", "generator_loss")
MAX_POINTS = 500  # per curve in the report; longer runs are thinned evenly


def training_health(history: list[Any], report: dict | None = None) -> dict:
    """Curves and diagnoses from per-epoch diagnostics (EpochStats or dicts with the same fields)."""
    rows = [h if isinstance(h, dict) else {**h.as_dict(), "epoch": h.epoch} for h in history]
    epochs = len(rows)
    keep = np.unique(np.linspace(0, epochs - 1, min(epochs, MAX_POINTS)).round().astype(int)) if epochs else []
    curves = {"epoch": [int(rows[i].get("epoch", i + 1)) for i in keep]}
    for name in CURVES:
        curves[name] = [finite_or_none(rows[i].get(name)) for i in keep]
    diagnoses = _curve_diagnoses(rows) + _collapse_diagnoses(report or {})
    return {"epochs": epochs, "curves": curves, "validation": _validation(rows), "diagnoses": diagnoses}


def _validation(rows: list[dict]) -> dict | None:
    scored = [(int(r.get("epoch", i + 1)), r["validation_score"]) for i, r in enumerate(rows)
              if r.get("validation_score") is not None]
    if not scored:
        return None
    selected = max(scored, key=lambda point: point[1])[0]  # max keeps the first of equal scores
    keep = np.unique(np.linspace(0, len(scored) - 1, min(len(scored), MAX_POINTS)).round().astype(int))
    return {"epoch": [scored[i][0] for i in keep], "score": [finite_or_none(scored[i][1]) for i in keep],
            "selected_epoch": selected, "selected_score": dict(scored)[selected], "evaluations": len(scored)}


def _curve_diagnoses(rows: list[dict]) -> list[dict]:
    out = []
    bad = next((r for r in rows if any(not math.isfinite(r.get(n, 0.0)) for n in CURVES)), None)
    if bad is not None:
        out.append(_diagnosis("non_finite", f"the losses became NaN or infinite at epoch {bad.get('epoch')}: "
                              "training diverged", ["lower generator_lr and critic_lr", "raise gp_lambda",
                                                    "more critic_steps"]))
        return out
    if len(rows) < 20:  # early on the critic is still learning: rising estimates are expected
        return out
    w = np.array([r["wasserstein"] for r in rows])
    loss = np.array([r["critic_loss"] for r in rows])
    quarter = len(rows) // 4
    early, late = w[quarter:2 * quarter].mean(), w[-quarter:].mean()
    if late > 0 and late > 2 * max(early, 1e-3) and _slope(w[-2 * quarter:]) > 0:
        out.append(_diagnosis(
            "critic_overpowering",
            f"the critic is overpowering the generator: the Wasserstein estimate grew from {early:.3g} to "
            f"{late:.3g} over the run instead of settling", ["fewer critic_steps", "lower critic_lr or higher "
                                                             "generator_lr", "larger batch_size"]))
    half = loss[len(loss) // 2:]
    spread = float(np.std(loss)) or 1.0
    if _slope(half) * len(half) > spread and half[-quarter:].mean() > loss[:len(loss) // 2].mean():
        out.append(_diagnosis(
            "rising_critic_loss",
            "the WGAN-GP critic loss kept rising through the second half of training: the critic no longer "
            "tells real from synthetic well, or the penalty dominates", ["lower gp_lambda", "more critic_steps",
                                                                         "lower generator_lr"]))
    return out


def _collapse_diagnoses(report: dict) -> list[dict]:
    out = []
    for c in report.get("columns", []):
        real, synthetic = c.get("categories_real"), c.get("categories_synthetic")
        if real is not None and real >= 3 and synthetic is not None and synthetic < 0.5 * real:
            out.append(_diagnosis(
                "collapsed_category",
                f"discrete column '{c['name']}' collapsed: the synthetic data uses {synthetic} of its {real} "
                "categories", ["more epochs", "lower learning rates", "larger batch_size",
                               "pac (actgan) or conditioning on this column"]))
    return out


def _diagnosis(code: str, message: str, knobs: list[str]) -> dict:
    return {"code": code, "message": f"{message}; try: {', '.join(knobs)}.", "knobs": knobs}


def _slope(values: np.ndarray) -> float:
    if len(values) < 2:
        return 0.0
    x = np.arange(len(values), dtype=np.float64)
    return float(np.polyfit(x, values, 1)[0])
