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


# ---- thresholds relative to the report's reference points ----

def _relative_report(pairs=0.85, pairs_low=0.84, independent=0.8, auc=0.93, holdout_auc=0.51,
                     acf_error=0.05, acf_shuffled=0.2) -> dict:
    report = _report(pairs=pairs)
    report["scores"] = {"column_pairs": {"synthetic": pairs, "ci_low": pairs_low, "ci_high": None, "holdout": 0.95,
                                         "independent": independent}}
    report["detection"] = {"synthetic": {"auc": auc}, "holdout": {"auc": holdout_auc}}
    report["summary"].update(detection_auc=auc, acf_error=acf_error, acf_error_shuffled=acf_shuffled)
    return report


def _only(result, name):
    [check] = [c for c in result.checks if c.name == name]
    return check


def test_pairs_margin_needs_the_interval_low_end_to_beat_the_independent_baseline():
    assert evaluate_gate(_relative_report(), GateThresholds(min_pairs_margin=0)).passed  # 0.84 > 0.8
    result = evaluate_gate(_relative_report(), GateThresholds(min_pairs_margin=0.05))  # 0.84 - 0.8 = 0.04
    assert result.failures == ["column_pairs 0.850 (90 % interval low 0.840) does not beat the independent-columns "
                               "baseline 0.800 by more than 0.05 (min_pairs_margin 0.05)"]
    assert _only(result, "pairs_margin").value == pytest.approx(0.04)
    # the point beats the baseline, the interval's low end does not: not enough evidence of learned dependence
    assert not evaluate_gate(_relative_report(pairs=0.81, pairs_low=0.79), GateThresholds(min_pairs_margin=0)).passed
    # no interval (bootstrap 0): the point score; the demo's diamonds at 10 epochs
    result = evaluate_gate(_relative_report(pairs=0.778, pairs_low=None, independent=0.819),
                           GateThresholds(min_pairs_margin=0))
    assert result.failures == ["column_pairs 0.778 does not beat the independent-columns baseline 0.819 "
                               "(min_pairs_margin 0)"]


def test_detection_auc_is_bounded_and_its_message_names_the_references():
    assert evaluate_gate(_relative_report(), GateThresholds(max_detection_auc=0.95)).passed
    result = evaluate_gate(_relative_report(), GateThresholds(max_detection_auc=0.9))
    assert result.failures == ["detection_auc 0.930 > 0.9 (max_detection_auc; 0.5: the classifier cannot tell "
                               "synthetic rows from real ones; holdout rows 0.510)"]
    assert "| detection_auc | 0.9300 | max 0.9 | failed |" in result.markdown()


def test_acf_error_ratio_compares_with_the_time_shuffled_baseline():
    assert evaluate_gate(_relative_report(), GateThresholds(max_acf_error_ratio=1.0)).passed  # 0.05 / 0.2
    result = evaluate_gate(_relative_report(acf_error=0.25), GateThresholds(max_acf_error_ratio=1.0))
    assert result.failures == ["acf_error 0.250 is 1.25 × the time-shuffled baseline's 0.200 (max_acf_error_ratio 1)"]
    assert _only(result, "acf_error_ratio").value == pytest.approx(1.25)


def test_relative_checks_are_skipped_when_their_reference_is_missing():
    every = GateThresholds(min_pairs_margin=0, max_detection_auc=0.95, max_acf_error_ratio=1.0)
    result = evaluate_gate(_report(), every)  # a table report of an older shape: no scores, detection AUC, ACF
    relative = ("pairs_margin", "detection_auc", "acf_error_ratio")
    assert result.passed and {k: v for k, v in result.statuses.items() if k in relative} == \
        dict.fromkeys(relative, "skipped")
    assert "acf_error_ratio: not measured (skipped: not a time-series report)" in [c.text for c in result.checks]
    no_baseline = evaluate_gate(_relative_report(independent=None), every)
    assert _only(no_baseline, "pairs_margin").text == \
        "pairs_margin: not measured (skipped: no independent-columns baseline)"
    flat = evaluate_gate(_relative_report(acf_error=0.011, acf_shuffled=0.01), every)  # white noise: nothing to lose
    assert _only(flat, "acf_error_ratio").status == "skipped" and flat.passed
    assert set(flat.as_dict()["checks"][0]) == {"name", "value", "threshold", "bound", "status", "text"}


def test_relative_thresholds_are_on_by_default_and_come_from_the_config():
    from tasks.config import GateConfig, ReportConfig

    assert evaluate_gate(_relative_report(), GateThresholds()).passed
    failed = evaluate_gate(_relative_report(pairs=0.7, pairs_low=0.7, auc=1.0, acf_error=0.9), GateThresholds())
    assert [c.name for c in failed.checks if c.status == "failed"] == ["pairs_margin", "detection_auc",
                                                                       "acf_error_ratio"]
    defaults = GateConfig()
    assert (defaults.min_pairs_margin, defaults.max_detection_auc, defaults.max_acf_error_ratio) == (
        GateThresholds().min_pairs_margin, GateThresholds().max_detection_auc, GateThresholds().max_acf_error_ratio)
    assert ReportConfig(gate=GateConfig(max_acf_error_ratio=0.8)).gate.max_acf_error_ratio == 0.8
    assert evaluate_gate(_relative_report(pairs=0.7, pairs_low=0.7), GateThresholds(min_pairs_margin=None)).passed
    with pytest.raises(ValueError, match="max_detection_auc"):
        GateConfig(max_detection_auc=0.3)  # below chance: no model could pass


def _dependent(n: int, seed: int) -> pa.Table:
    """Three columns that depend on each other: y follows x, the group follows x's sign."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pa.table({"x": x, "y": 2 * x + rng.normal(scale=0.5, size=n),
                     "group": np.where(x + rng.normal(scale=0.3, size=n) > 0, "high", "low")})


def test_the_default_gate_refuses_a_model_that_learned_no_dependence():
    from synth.fidelity import build_report

    real = _dependent(2_000, seed=0)
    learned = build_report(real, _dependent(2_000, seed=1), bootstrap=20)  # the same joint distribution
    rng = np.random.default_rng(2)
    independent = pa.table({name: real.column(name).take(rng.permutation(real.num_rows))
                            for name in real.column_names})  # each column shuffled: marginals only
    marginals = build_report(real, independent, bootstrap=20)
    assert _only(evaluate_gate(learned, GateThresholds()), "pairs_margin").status == "passed"
    refused = _only(evaluate_gate(marginals, GateThresholds()), "pairs_margin")
    assert refused.status == "failed" and "does not beat the independent-columns baseline" in refused.text


def _autocorrelated(n: int, seed: int, steps: int = 24) -> pa.Table:
    """AR(1) sequences with φ = 0.9 in long format: strong autocorrelation up to many lags."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n, steps))  # (n, T)
    for t in range(1, steps):
        values[:, t] += 0.9 * values[:, t - 1]
    return pa.table({"id": np.repeat(np.arange(n), steps), "time": np.tile(np.arange(steps), n),
                     "value": values.ravel()})


def _time_shuffled(table: pa.Table, seed: int) -> pa.Table:
    """The same sequences with the steps of each in random order."""
    frame = table.to_pandas()
    rng = np.random.default_rng(seed)
    frame["value"] = frame.groupby("id")["value"].transform(lambda v: rng.permutation(v.to_numpy()))
    return pa.Table.from_pandas(frame, preserve_index=False)


def test_time_shuffled_baseline_on_autocorrelated_sequences():
    from synth.fidelity import build_report
    from synth.fidelity.series import SeriesSpec

    spec, real, gate = SeriesSpec("id", "time"), _autocorrelated(120, seed=1), GateThresholds(max_acf_error_ratio=0.5)
    copy = build_report(real, _autocorrelated(120, seed=2), series=spec, bootstrap=0)
    summary = copy["summary"]
    assert summary["acf_error"] < 0.2 * summary["acf_error_shuffled"]  # a model that learned the dynamics
    assert summary["acf_error"] == copy["series"]["acf"]["error"]["synthetic"]
    assert _only(evaluate_gate(copy, gate), "acf_error_ratio").status == "passed"
    shuffled = build_report(real, _time_shuffled(real, seed=3), series=spec, bootstrap=0)
    assert shuffled["summary"]["acf_error"] == pytest.approx(shuffled["summary"]["acf_error_shuffled"], rel=0.2)
    assert _only(evaluate_gate(shuffled, gate), "acf_error_ratio").status == "failed"
    assert "acf_error" not in build_report(real, real, bootstrap=0)["summary"]  # a table: the check is skipped
