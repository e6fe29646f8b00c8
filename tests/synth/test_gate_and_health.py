"""The quality gate's checks, training-health diagnoses, and the holdout split."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from synth.errors import DataError
from synth.fidelity.gate import GateThresholds, evaluate_gate
from synth.fidelity.health import training_health
from synth.split import split_holdout


def _report(overall=0.8, shapes=0.9, pairs=0.7, copies=0.0, holdout_share=0.5) -> dict:
    return {"summary": {"overall": overall, "column_shapes": shapes, "column_pairs": pairs, "structure": 0.9,
                        "detection": 0.4, "series": None,
                        "privacy": {"exact_copy_rate": copies, "dcr_holdout_share": holdout_share,
                                    "membership_auc": 0.5}}}


def test_gate_passes_good_scores_and_lists_every_failed_threshold():
    assert evaluate_gate(_report(), GateThresholds()).passed
    result = evaluate_gate(_report(overall=0.5, pairs=0.3, copies=0.2, holdout_share=0.1), GateThresholds())
    assert not result.passed
    assert result.failures == ["overall 0.5 < 0.7", "column_pairs 0.3 < 0.6", "exact_copy_rate 0.2 > 0.05",
                               "dcr_holdout_share 0.1 < 0.3"]
    assert "FAILED" in result.markdown() and "| column_pairs | 0.3000 | min 0.6 | failed |" in result.markdown()


def test_gate_skips_unmeasured_checks_and_unset_thresholds():
    result = evaluate_gate(_report(holdout_share=None), GateThresholds(min_detection=None, min_series=0.5))
    status = {c.name: c.status for c in result.checks}
    assert status["dcr_holdout_share"] == "skipped" and status["series"] == "skipped"
    assert "detection" not in status and result.passed
    assert not evaluate_gate(_report(), GateThresholds(min_detection=0.5)).passed  # detection 0.4


def _history(wasserstein, critic=None):
    critic = critic if critic is not None else [-w for w in wasserstein]
    return [{"epoch": i + 1, "wasserstein": w, "gradient_penalty": 0.1, "critic_loss": c, "generator_loss": 0.0,
             "critic_grad_norm": 1.0, "generator_grad_norm": 1.0, "seconds": 0.1}
            for i, (w, c) in enumerate(zip(wasserstein, critic))]


def test_health_names_an_overpowering_critic_and_the_knobs():
    rising = list(np.linspace(0.1, 3.0, 40))  # 40 epochs: past the warm-up the check ignores
    codes = [d["code"] for d in training_health(_history(rising))["diagnoses"]]
    assert "critic_overpowering" in codes
    diagnosis = next(d for d in training_health(_history(rising))["diagnoses"] if d["code"] == "critic_overpowering")
    assert "critic_steps" in diagnosis["message"]


def test_health_is_quiet_on_a_settling_run_and_flags_divergence_and_collapse():
    settling = list(1.0 / np.arange(1, 41))
    health = training_health(_history(settling))
    assert health["diagnoses"] == [] and health["epochs"] == 40 and len(health["curves"]["wasserstein"]) == 40
    diverged = _history(settling[:10] + [float("nan")] * 5)
    assert training_health(diverged)["diagnoses"][0]["code"] == "non_finite"
    assert training_health(diverged)["curves"]["wasserstein"][-1] is None  # JSON-safe
    collapsed = {"columns": [{"name": "cut", "categories_real": 5, "categories_synthetic": 1}]}
    [d] = training_health(_history(settling), collapsed)["diagnoses"]
    assert d["code"] == "collapsed_category" and "'cut'" in d["message"]


def test_rising_critic_loss_is_flagged():
    w = list(np.full(40, 0.5))
    critic = list(np.r_[np.full(20, -1.0), np.linspace(-1.0, 2.0, 20)])
    assert "rising_critic_loss" in [d["code"] for d in training_health(_history(w, critic))["diagnoses"]]


def test_holdout_split_by_rows_and_by_example():
    table = pa.table({"id": np.repeat(np.arange(20), 3), "x": np.arange(60)})
    train, holdout = split_holdout(table, 0.25, seed=0)
    assert train.num_rows == 45 and holdout.num_rows == 15
    assert sorted(train["x"].to_pylist() + holdout["x"].to_pylist()) == list(range(60))
    train, holdout = split_holdout(table, 0.25, seed=0, group="id")
    assert holdout.num_rows == 15 and not set(train["id"].to_pylist()) & set(holdout["id"].to_pylist())
    assert split_holdout(table, 0.25, seed=0, group="id")[1].equals(holdout)  # seeded
    assert split_holdout(table, 0.0)[1] is None
    with pytest.raises(DataError, match="holdout_fraction=0.4.*2 examples"):
        split_holdout(table.slice(0, 6), 0.4, group="id")
