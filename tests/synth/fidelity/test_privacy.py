"""Privacy section: copies are caught, fresh rows look private, no holdout is said plainly, search is exact."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from synth.errors import ConfigError
from synth.fidelity.encode import TableEncoder
from synth.fidelity.privacy import membership_auc, nearest_distances, privacy_report, privacy_summary
from synth.schema import schema_specs

ROWS = 1_000
SENTINEL = 61.2345678912  # one synthetic value that must not appear in the section


def make_customers(rows: int = ROWS, seed: int = 0) -> pd.DataFrame:
    """Continuous, categorical, boolean and datetime columns with a relation between them and some missing."""
    rng = np.random.default_rng(seed)
    income = rng.normal(50.0, 10.0, rows)
    spend = 0.6 * income + rng.normal(0.0, 4.0, rows)
    spend[rng.random(rows) < 0.05] = np.nan
    return pd.DataFrame({
        "income": income,
        "spend": spend,
        "segment": rng.choice(["bronze", "silver", "gold", "platinum"], rows, p=[0.4, 0.3, 0.2, 0.1]),
        "member": rng.random(rows) < 0.3,
        "joined": pd.Timestamp("2020-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 1_000, rows), unit="D"),
    })


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return make_customers(seed=1)


@pytest.fixture(scope="module")
def holdout() -> pd.DataFrame:
    return make_customers(seed=2)


@pytest.fixture(scope="module")
def encoder(train) -> TableEncoder:
    specs = schema_specs(pa.Table.from_pandas(train, preserve_index=False).schema)
    return TableEncoder(specs).fit(train)


def report(encoder, train, synthetic, holdout, **settings) -> dict:
    encode = encoder.encode
    return privacy_report(encode(train), encode(synthetic), None if holdout is None else encode(holdout),
                          encoder, device="cpu", **settings)


def test_copied_training_rows_are_flagged(encoder, train, holdout):
    copies = train.sample(frac=1.0, random_state=0)  # every training row, shuffled, missing values included
    section = report(encoder, train, copies, holdout)
    assert section["exact_copies"]["synthetic_in_train"] == 1.0
    assert section["exact_copies"]["holdout_in_train"] == 0.0
    assert section["dcr"]["synthetic_to_train"]["p50"] == 0.0
    assert section["dcr"]["ratio"]["p50"] == 0.0
    assert section["holdout_share"]["share"] < 0.1  # copies sit nearer the training rows
    assert section["membership_inference"]["auc"] > 0.8
    assert section["membership_inference"]["advantage"] > 0.6


def test_fresh_rows_from_the_same_distribution_look_private(encoder, train, holdout):
    section = report(encoder, train, make_customers(seed=3), holdout)
    assert section["exact_copies"]["synthetic_in_train"] == 0.0
    assert abs(section["holdout_share"]["share"] - 0.5) < 0.1
    assert abs(section["membership_inference"]["auc"] - 0.5) < 0.1
    assert 0.8 < section["dcr"]["ratio"]["p50"] < 1.25  # as far from train as fresh real rows are
    assert section["holdout_share"]["reference_rows"] == ROWS
    assert section["membership_inference"]["members"] == section["membership_inference"]["non_members"] == ROWS


def test_exact_copy_rate_counts_every_row_not_the_sample(encoder, train):
    half_copied = pd.concat([train.iloc[:300], make_customers(300, seed=4)], ignore_index=True)
    section = report(encoder, train, half_copied, None, max_rows=8)
    assert section["exact_copies"]["synthetic_in_train"] == 0.5
    assert section["settings"]["rows"]["synthetic"] == {"total": 600, "reference": 8, "queries": 2}
    assert any("subsamples" in note for note in section["notes"])


def test_without_holdout_the_comparisons_are_none_and_a_note_says_why(encoder, train):
    section = report(encoder, train, make_customers(seed=3), None)
    assert section["holdout_share"]["share"] is None
    assert section["membership_inference"]["auc"] is None
    assert section["dcr"]["holdout_to_train"] is None and section["dcr"]["ratio"] is None
    assert section["exact_copies"]["holdout_in_train"] is None
    assert section["settings"]["rows"]["holdout"] is None
    assert any(note.startswith("no holdout") for note in section["notes"])
    summary = privacy_summary(section)
    assert summary["dcr_holdout_share"] is None and summary["membership_auc"] is None
    assert summary["exact_copy_rate"] == 0.0


@pytest.mark.parametrize("with_holdout", [True, False])
def test_json_ready_seeded_and_free_of_rows(encoder, train, holdout, with_holdout):
    synthetic, real_holdout = make_customers(seed=3), holdout if with_holdout else None
    synthetic.loc[0, "income"] = SENTINEL
    first = report(encoder, train, synthetic, real_holdout, max_rows=400, seed=7)
    text = json.dumps(first, allow_nan=False)
    assert text == json.dumps(report(encoder, train, synthetic, real_holdout, max_rows=400, seed=7), allow_nan=False)
    assert text != json.dumps(report(encoder, train, synthetic, real_holdout, max_rows=400, seed=8), allow_nan=False)
    assert str(SENTINEL)[:8] not in text


def test_chunked_search_matches_brute_force():
    rng = np.random.default_rng(0)
    queries, reference = rng.normal(size=(50, 6)), rng.normal(size=(61, 6))
    brute = np.sqrt(((queries[:, None] - reference[None]) ** 2).sum(axis=-1)).min(axis=1)
    np.testing.assert_allclose(nearest_distances(queries, reference, "cpu", chunk_rows=7), brute, rtol=1e-5)


def test_report_dcr_matches_brute_force(encoder, train):
    synthetic = make_customers(200, seed=5)
    section = report(encoder, train, synthetic, None, chunk_rows=64)  # several query and reference blocks
    ours, theirs = encoder.features(encoder.encode(synthetic)), encoder.features(encoder.encode(train))
    brute = np.sqrt(((ours[:, None].astype(np.float64) - theirs[None]) ** 2).sum(axis=-1)).min(axis=1)
    dcr = section["dcr"]["synthetic_to_train"]
    assert dcr["p50"] == pytest.approx(np.quantile(brute, 0.5), rel=1e-5)
    assert dcr["p5"] == pytest.approx(np.quantile(brute, 0.05), rel=1e-5)
    assert dcr["mean"] == pytest.approx(brute.mean(), rel=1e-5)


def test_membership_auc_counts_ties_as_half():
    # member/non-member pairs: (0,0) ½, (0,2) 1, (0,0) ½, (0,2) 1, (1,0) 0, (1,2) 1 → 4 of 6
    assert membership_auc(np.array([0.0, 0.0, 1.0]), np.array([0.0, 2.0])) == pytest.approx(4 / 6)
    assert membership_auc(np.array([1.0]), np.array([])) is None


def test_bad_settings_are_config_errors(encoder, train):
    with pytest.raises(ConfigError, match="max_rows"):
        report(encoder, train, train, None, max_rows=0)
    with pytest.raises(ConfigError, match="chunk_rows"):
        report(encoder, train, train, None, chunk_rows=0)


def test_privacy_numbers_carry_intervals_that_shrink_with_more_rows():
    from synth.fidelity.intervals import hanley_mcneil_interval as _auc_interval
    from synth.fidelity.intervals import share_interval as _proportion_interval
    small, large = _proportion_interval(0.5, 100), _proportion_interval(0.5, 10_000)
    assert small[0] < 0.5 < small[1] and large[1] - large[0] < (small[1] - small[0]) / 5
    assert _proportion_interval(1.0, 50) == [1.0, 1.0]
    narrow, wide = _auc_interval(0.6, 5000, 5000), _auc_interval(0.6, 50, 50)
    assert narrow[0] < 0.6 < narrow[1] and narrow[1] - narrow[0] < wide[1] - wide[0]
    assert _auc_interval(None, 10, 10) is None


def _sequences(n_examples: int, steps: int, rng: np.random.Generator) -> pd.DataFrame:
    """Each sequence a tight cluster around its own level: rows of one sequence are near each other."""
    frame = pd.DataFrame({"example": np.repeat(np.arange(n_examples), steps)})
    for name in ("a", "b", "c"):
        frame[name] = np.repeat(rng.normal(0.0, 1.0, n_examples), steps) + rng.normal(0.0, 0.05, n_examples * steps)
    return frame


def test_series_compare_whole_sequences_so_fresh_ones_keep_a_fair_holdout_share():
    """Fresh sequences from the real distribution sit no nearer the training sequences than the holdout's,
    once the training rows are cut to whole sequences; cut row by row they seemed closer to train (a low
    holdout share)."""
    rng = np.random.default_rng(0)
    train, holdout, synthetic = (_sequences(n, 24, rng) for n in (900, 100, 1000))
    encoder = TableEncoder(schema_specs(pa.schema([(name, pa.float64()) for name in "abc"]))).fit(train)
    encode = lambda frame: encoder.encode(frame[list("abc")])  # noqa: E731
    by_row = privacy_report(encode(train), encode(synthetic), encode(holdout), encoder, device="cpu")
    by_example = privacy_report(encode(train), encode(synthetic), encode(holdout), encoder, device="cpu",
                                examples={"train": train["example"].to_numpy(),
                                          "holdout": holdout["example"].to_numpy()})
    assert by_row["holdout_share"]["share"] < 0.4  # the bias: 2,400 rows of ~900 sequences vs of 100
    assert abs(by_example["holdout_share"]["share"] - 0.5) < 0.1
    with pytest.raises(Exception, match="example ids for"):
        privacy_report(encode(train), encode(synthetic), encode(holdout), encoder, device="cpu",
                       examples={"train": train["example"].to_numpy()[:10]})
