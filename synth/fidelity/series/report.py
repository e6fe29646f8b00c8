"""The time-series section of the fidelity report: does synthetic data keep the real temporal structure?

Input is long format (one row per step). Each score sits beside two reference points: `holdout` (unseen
real sequences against the real ones: about the best a model can reach) and `shuffled` (the real sequences,
steps permuted within each: marginals kept, temporal structure gone). A score *entry* is `{"synthetic": float,
"holdout": float | None, "shuffled": float}` in [0, 1], 1 meaning like real, None where undefined (no holdout,
too few values). The dict holds aggregates and curves only, never a row.
`synth.fidelity.render.render_series_html` renders it as HTML. profile.py reads and profiles each side;
sections.py scores them; this module assembles the dict.

Keys of `series_report`'s dict (plain floats/ints/None, so `json.dumps(allow_nan=False)` works):

- `version` (1); `notes` (list of str: what was skipped and why). Each section has a `score` entry.
- `settings`: `max_lag`, `lags` (compared: min(max_lag, longest real sequence - 1)), `max_examples`, `seed`,
  `sampled` ({real, synthetic, holdout: bool | None}: that side had more sequences and was sampled).
- `counts`: `sequences`, `sequences_total`, `steps`: {real, synthetic, holdout: int | None}.
- `summary`: {section: entry} for each section below, and `overall`, the mean of the defined ones.
- `acf`: `lags`; `features`: {feature: {`curves` ({real, synthetic, holdout, shuffled: list of float | None,
  the mean over sequences of each one's autocorrelation}), `error` (mean over lags of |curve - real curve|,
  lower is better, up to 2), `score` (1 - error, clipped to [0, 1])}}; `error`: the mean over features
  of their errors (an entry whose `shuffled` side is the ACF error of a model that learned no temporal
  order: the baseline the quality gate's `max_acf_error_ratio` divides by).
- `correlation`: 1 - (mean |difference| of the upper triangle of the feature correlation matrix, all steps) / 2.
- `lengths`: `score` (1 - total variation of the length histograms), `stats` ({real, synthetic, holdout:
  {min, median, max}}), `histogram` (`edges`, and real, synthetic, holdout: counts per bin).
- `per_sequence`: `features`: {feature: {mean, std, min, max: entry}}: 1 - KS statistic between the
  distributions over sequences of that per-sequence statistic.
- `attributes`: `marginals`: {attribute: {`metric` ("tv_complement" | "ks_complement"), `score`}}.
- `dependence`: `pairs`: [{`attribute`, `feature`, `score`}] per discrete attribute and continuous feature:
  1 - min(error, 1), error the mean |difference| of the per-category mean of per-sequence means, in real
  feature std units, weighted by real category frequency (a category the side lacks counts as 1).
- `discrete_features`: `features`: {feature: {`frequencies`, `transitions`}}: 1 - total variation of the
  per-step categories and of the (step, next step) pairs.
- `discriminative`: `auc` (test AUC of a small MLP telling that side's sequences from real ones; 0.5 is
  best) and `score` (1 - 2 max(AUC - 0.5, 0)).
- `intervals`: {section: [low, high] or None} for acf, correlation, lengths, per_sequence, attributes,
  dependence and overall: the synthetic score ± 1.645 standard errors over 10 resamples of whole
  sequences of both sides (the classifier and discrete-feature scores held at their values).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synth.errors import ConfigError
from synth.fidelity.intervals import spread_interval
from synth.fidelity.metrics import MAX_CATEGORIES_FOR_ASSOCIATION
from synth.fidelity.series.profile import (Profile, SeriesSpec, is_continuous, profile_side, read_side, resample,
                                           resolve_spec, shuffled)
from synth.fidelity.series.sections import (acf_section, attribute_section, correlation_score, dependence_section,
                                            discrete_section, discriminative_section, entry, length_section,
                                            mean_entry, per_sequence_section)

REPORT_VERSION = 1
BOOTSTRAP_ROUNDS = 10  # resamples of whole sequences behind the intervals
RESAMPLED = ("acf", "correlation", "lengths", "per_sequence", "attributes", "dependence")  # behind the intervals
QUICK = ("acf", "correlation", "lengths", "per_sequence", "attributes")  # QuickSeriesScore's sections


@dataclass(frozen=True)
class _Roles:
    """How the columns are compared, decided once on the real side."""

    continuous: list[str]         # continuous features
    attributes: dict[str, bool]   # attribute -> continuous
    grouped: list[str]            # discrete attributes with few enough categories to group the features by
    notes: list[str]              # what is left out, and why


def series_report(real: pd.DataFrame, synthetic: pd.DataFrame, spec: SeriesSpec,
                  holdout: pd.DataFrame | None = None, max_lag: int = 24, max_examples: int = 5_000,
                  seed: int = 0) -> dict:
    """Compare synthetic sequences with real ones, beside a holdout and a time-shuffled baseline.

    Args:
        real: the training sequences, long format.
        synthetic: the generated sequences, same columns.
        spec: which column is the id, the time, the attributes and the features.
        holdout: real sequences the model never saw, or None (its entries are then None).
        max_lag: the largest autocorrelation lag compared.
        max_examples: sequences per side; a larger side is sampled down (seeded).
        seed: seeds every random choice: the same seed gives the same dict.

    Returns:
        A JSON-ready dict of aggregates and curves; its keys are in the module docstring.

    Raises:
        DataError: a column is missing on some side, or a side has no sequences.
        ConfigError: max_lag or max_examples below 1.
    """
    if max_lag < 1 or max_examples < 1:
        raise ConfigError(f"max_lag={max_lag} and max_examples={max_examples} must both be at least 1")
    spec = resolve_spec(spec, real)
    frames = {"real": real, "synthetic": synthetic, "holdout": holdout}
    read = {side: None if frame is None else read_side(frame, spec, side, max_examples,
                                                       np.random.default_rng([seed, i]))
            for i, (side, frame) in enumerate(frames.items())}
    kinds, lags = _kinds_and_lags(read["real"][0], spec, max_lag)
    profiles = {side: None if r is None else profile_side(r[0], spec, kinds, side, lags) for side, r in read.items()}
    others = {"synthetic": profiles["synthetic"], "holdout": profiles["holdout"],
              "shuffled": shuffled(profiles["real"], lags, np.random.default_rng([seed, 3]))}
    roles = _roles(spec, kinds, profiles["real"])
    sections = _sections(profiles["real"], others, roles, lags, max_examples, seed)
    summary = {name: section["score"] for name, section in sections.items()}
    summary["overall"] = mean_entry(list(summary.values()))
    intervals = _intervals(read["real"][0], read["synthetic"][0], spec, kinds, lags, roles, summary,
                           np.random.default_rng([seed, 4]))
    return {
        "version": REPORT_VERSION,
        "settings": {"max_lag": max_lag, "lags": lags, "max_examples": max_examples, "seed": seed,
                     "sampled": {side: None if r is None else r[1] for side, r in read.items()}},
        "counts": {"sequences": {s: None if p is None else len(p.lengths) for s, p in profiles.items()},
                   "sequences_total": {side: None if r is None else r[2] for side, r in read.items()},
                   "steps": {s: None if p is None else len(p.codes) for s, p in profiles.items()}},
        "summary": summary, "intervals": intervals, **sections, "notes": roles.notes,
    }


class QuickSeriesScore:
    """A fast series score against one real side profiled once, for model selection during training:
    the mean of the synthetic scores of the ACF, correlation, lengths, per-sequence and attribute
    sections (no classifier, no discrete-feature transitions, no intervals)."""

    def __init__(self, real: pd.DataFrame, spec: SeriesSpec, max_lag: int = 24, max_examples: int = 5_000,
                 seed: int = 0):
        self.spec, self.max_examples, self.seed = resolve_spec(spec, real), max_examples, seed
        frame = read_side(real, self.spec, "real", max_examples, np.random.default_rng([seed, 0]))[0]
        self.kinds, self.lags = _kinds_and_lags(frame, self.spec, max_lag)
        self.real = profile_side(frame, self.spec, self.kinds, "real", self.lags)
        self.roles = _roles(self.spec, self.kinds, self.real)

    def __call__(self, synthetic: pd.DataFrame) -> float:
        rng = np.random.default_rng([self.seed, 1])
        frame = read_side(synthetic, self.spec, "synthetic", self.max_examples, rng)[0]
        others = {"synthetic": profile_side(frame, self.spec, self.kinds, "synthetic", self.lags),
                  "holdout": None, "shuffled": None}
        entries = _scores(self.real, others, self.roles, self.lags, QUICK).values()
        defined = [e["synthetic"] for e in entries if e["synthetic"] is not None]
        return float(np.mean(defined)) if defined else 0.0


def _kinds_and_lags(real: pd.DataFrame, spec: SeriesSpec, max_lag: int) -> tuple[dict[str, bool], int]:
    """Which attributes and features are continuous (as the real side has them), and the lags compared."""
    kinds = {c: is_continuous(real[c]) for c in (*spec.attribute_columns, *spec.feature_columns)}
    return kinds, min(max_lag, int(real[spec.example_id].value_counts().max()) - 1)


def _roles(spec: SeriesSpec, kinds: dict[str, bool], real: Profile) -> _Roles:
    continuous = [c for c in spec.feature_columns if kinds[c]]
    attributes = {c: kinds[c] for c in spec.attribute_columns}
    notes = [] if len(continuous) >= 2 else ["fewer than two continuous features: no correlation score"]
    categorical = [n for n, c in attributes.items() if not c]
    grouped = [n for n in categorical if real.attributes[n].nunique() <= MAX_CATEGORIES_FOR_ASSOCIATION]
    notes += [f"attribute {n!r} has more than {MAX_CATEGORIES_FOR_ASSOCIATION} categories: left out of the "
              "dependence and discriminative scores" for n in categorical if n not in grouped]
    return _Roles(continuous, attributes, grouped, notes)


def _sections(real: Profile, others: dict, roles: _Roles, lags: int, max_examples: int, seed: int) -> dict:
    continuous_attributes = [n for n, c in roles.attributes.items() if c]
    return {
        "acf": acf_section(real, others, roles.continuous, lags),
        "correlation": {"score": entry(correlation_score, real, others)},
        "lengths": length_section(real, others),
        "per_sequence": per_sequence_section(real, others, roles.continuous),
        "attributes": attribute_section(real, others, roles.attributes),
        "dependence": dependence_section(real, others, roles.grouped, roles.continuous),
        "discrete_features": discrete_section(real, others),
        "discriminative": discriminative_section(real, others, roles.grouped, continuous_attributes, max_examples,
                                                 seed),
    }


def _scores(real: Profile, others: dict, roles: _Roles, lags: int, names: tuple[str, ...]) -> dict[str, dict]:
    """The score entries of the named sections, from those that train no classifier (RESAMPLED)."""
    score = {
        "acf": lambda: acf_section(real, others, roles.continuous, lags)["score"],
        "correlation": lambda: entry(correlation_score, real, others),
        "lengths": lambda: length_section(real, others)["score"],
        "per_sequence": lambda: per_sequence_section(real, others, roles.continuous)["score"],
        "attributes": lambda: attribute_section(real, others, roles.attributes)["score"],
        "dependence": lambda: dependence_section(real, others, roles.grouped, roles.continuous)["score"],
    }
    return {name: score[name]() for name in names}


def _intervals(real: pd.DataFrame, synthetic: pd.DataFrame, spec: SeriesSpec, kinds: dict, lags: int,
               roles: _Roles, summary: dict, rng: np.random.Generator) -> dict:
    """90 % intervals of the synthetic scores: ± 1.645 standard errors over resamples of whole sequences
    of both sides. The classifier and discrete-feature sections are held at their values (retraining the
    classifier per resample would cost more than the rest of the section)."""
    draws = {name: [] for name in (*RESAMPLED, "overall")}
    for _ in range(BOOTSTRAP_ROUNDS):
        r = profile_side(resample(real, spec.example_id, rng), spec, kinds, "real", lags)
        o = {"synthetic": profile_side(resample(synthetic, spec.example_id, rng), spec, kinds, "synthetic", lags),
             "holdout": None, "shuffled": None}
        scores = _scores(r, o, roles, lags, RESAMPLED)
        parts = [scores[n]["synthetic"] if n in scores else summary[n]["synthetic"]
                 for n in summary if n != "overall"]
        for name, score in scores.items():
            if score["synthetic"] is not None:
                draws[name].append(score["synthetic"])
        defined = [v for v in parts if v is not None]
        if defined:
            draws["overall"].append(float(np.mean(defined)))
    return {name: spread_interval(summary[name]["synthetic"], values) for name, values in draws.items()}
