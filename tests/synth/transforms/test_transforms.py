"""Transforms: exact round trips for every column type, the encoded layout, and the output activation."""
from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import torch

from synth.transforms import Layout, Span, SpanKind, TableTransformer
from synth.transforms.layout import gumbel_softmax

ROWS = 400
HOUR_US = 3_600 * 10**6
SECOND_US = 10**6
DEFAULT_TIME = dt.datetime(1900, 1, 1, tzinfo=dt.timezone.utc)
SENTINEL_DATE = dt.date(9999, 12, 31)


def _plain(data):
    """Dictionary columns decoded: the dictionary's order carries no meaning, so equality ignores it."""
    if isinstance(data, pa.Table):
        return pa.table({name: _plain(data.column(name)) for name in data.column_names})
    return data.cast(data.type.value_type) if pa.types.is_dictionary(data.type) else data


def _nulls(rng: np.random.Generator, p: float = 0.1) -> np.ndarray:
    return rng.random(ROWS) < p


@pytest.fixture(scope="module")
def exact_table() -> pa.Table:
    """Every column whose round trip must be exact, with nulls wherever the type allows them."""
    rng = np.random.default_rng(7)
    start = dt.datetime(2023, 3, 20)  # spans the Paris DST change of 2023-03-26
    hours = [start + dt.timedelta(hours=int(h)) for h in rng.integers(0, 24 * 60, ROWS)]
    seconds = [start + dt.timedelta(seconds=int(s)) for s in rng.integers(0, 10**6, ROWS)]
    return pa.table({
        "string": pa.array(rng.choice(["red", "green", "blue"], ROWS), mask=_nulls(rng)),
        "dictionary": pa.array(rng.choice(["x", "y", "z"], ROWS), mask=_nulls(rng)).dictionary_encode(),
        "boolean": pa.array(rng.random(ROWS) < 0.3, mask=_nulls(rng)),
        "int32": pa.array(rng.integers(-500, 500, ROWS).astype(np.int32), mask=_nulls(rng)),
        "int64": pa.array(rng.integers(0, 100_000, ROWS), mask=_nulls(rng)),
        "int64_large_offset": pa.array(10**12 + rng.integers(0, 1_000, ROWS)),
        "date32": pa.array([dt.date(2000, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 9_000, ROWS)],
                           pa.date32(), mask=_nulls(rng)),
        "ts_naive_hourly": pa.array(hours, pa.timestamp("us")),
        "ts_paris_hourly": pa.array(hours, pa.timestamp("us", tz="Europe/Paris")),
        "ts_utc_hourly": pa.array(hours, pa.timestamp("us", tz="UTC"), mask=_nulls(rng)),
        "ts_naive_seconds": pa.array(seconds, pa.timestamp("us"), mask=_nulls(rng)),
        "ts_utc_seconds": pa.array(seconds, pa.timestamp("us", tz="UTC")),
        "constant_int": pa.array(np.full(ROWS, 42, dtype=np.int64)),
        "constant_string": pa.array(["only"] * ROWS),
        "string_view": pa.array(rng.choice(["p", "q"], ROWS), pa.string_view()),
        "large_string": pa.array(rng.choice(["p", "q"], ROWS), pa.large_string()),
        # point masses: a cap holding about 20%, a default in the middle, a far-off default time, a sentinel
        # date, and a rating whose every value is a point
        "int_capped": pa.array(np.minimum(np.round(rng.normal(83, 20, ROWS)), 100).astype(np.int32), mask=_nulls(rng)),
        "int_default": pa.array(np.where(rng.random(ROWS) < 0.25, 500, rng.integers(0, 1_000, ROWS))),
        "ts_default": pa.array(np.where(rng.random(ROWS) < 0.15, DEFAULT_TIME, hours), pa.timestamp("us", tz="UTC"),
                               mask=_nulls(rng)),
        "date_sentinel": pa.array(np.where(rng.random(ROWS) < 0.1, SENTINEL_DATE, [h.date() for h in hours]),
                                  pa.date32()),
        "rating": pa.array(rng.integers(1, 6, ROWS).astype(np.int8)),
    }).replace_schema_metadata({"origin": "test"})


@pytest.fixture(scope="module")
def fitted(exact_table) -> TableTransformer:
    return TableTransformer(max_modes=5, seed=3).fit(exact_table)


@pytest.fixture(scope="module")
def encoded(fitted, exact_table) -> np.ndarray:
    return fitted.transform(exact_table)


@pytest.fixture(scope="module")
def decoded(fitted, encoded) -> pa.Table:
    return fitted.inverse_transform(encoded)


# -- round trips ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [
    "string", "dictionary", "boolean", "int32", "int64", "int64_large_offset", "date32",
    "ts_naive_hourly", "ts_paris_hourly", "ts_utc_hourly", "ts_naive_seconds", "ts_utc_seconds",
    "constant_int", "constant_string", "string_view", "large_string",
    "int_capped", "int_default", "ts_default", "date_sentinel", "rating",
])
def test_round_trip_is_exact(exact_table, decoded, name):
    original, back = exact_table.column(name), decoded.column(name)
    assert back.type == original.type
    assert back.null_count == original.null_count
    assert _plain(back).equals(_plain(original)), f"{back.to_pylist()[:5]} != {original.to_pylist()[:5]}"


def test_round_trip_keeps_schema_without_metadata(exact_table, decoded):
    assert decoded.schema.equals(exact_table.schema.remove_metadata(), check_metadata=True)
    assert _plain(decoded).equals(_plain(exact_table))


def test_float_round_trip_within_tolerance_and_missing_in_place():
    rng = np.random.default_rng(1)
    bimodal = np.where(rng.random(ROWS) < 0.5, rng.normal(-5, 1, ROWS), rng.normal(5, 1, ROWS))
    with_nan = rng.normal(10, 2, ROWS)
    with_nan[::9] = np.nan  # NaN values (not nulls), as a Parquet file can hold them
    table = pa.table({
        "float64": pa.array(bimodal, mask=_nulls(rng)),
        "float32": pa.array(rng.normal(0, 1, ROWS).astype(np.float32), mask=_nulls(rng)),
        "nan_values": pa.array(with_nan),
    })
    transformer = TableTransformer(seed=0).fit(table)
    back = transformer.inverse_transform(transformer.transform(table))
    assert back.schema == table.schema
    for name in table.column_names:
        original = table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        restored = back.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        # a null and a NaN both read as NaN here: missing must come back at the same positions
        np.testing.assert_array_equal(np.isnan(restored), np.isnan(original), err_msg=name)
        np.testing.assert_allclose(restored, original, rtol=0, atol=1e-6, err_msg=name)
    assert back.column("nan_values").null_count == np.isnan(with_nan).sum()  # NaN comes back as null


def test_state_survives_json(fitted, exact_table, encoded, decoded):
    text = json.dumps(fitted.state())
    restored = TableTransformer.from_state(json.loads(text))
    assert restored.inverse_transform(encoded).equals(decoded)
    np.testing.assert_array_equal(restored.transform(exact_table), encoded)
    assert restored.layout_.spans == fitted.layout_.spans


def _as_int64(column: pa.ChunkedArray) -> np.ndarray:
    """Non-null values as integers (times as counts of their unit)."""
    if pa.types.is_date32(column.type):
        column = column.cast(pa.int32())
    return column.drop_null().cast(pa.int64()).to_numpy()


def test_inverse_of_any_matrix_stays_in_range_and_on_grid(fitted, exact_table):
    """Whatever a generator emits, integers stay in the observed range, times on their grid."""
    noise = np.random.default_rng(0).normal(0, 3, (500, fitted.output_dim)).astype(np.float32)
    back = fitted.inverse_transform(noise)
    assert back.schema == exact_table.schema.remove_metadata()
    for name in ("int32", "int64", "date32", "ts_utc_hourly"):
        observed, sampled = _as_int64(exact_table.column(name)), _as_int64(back.column(name))
        assert observed.min() <= sampled.min() and sampled.max() <= observed.max(), name
    assert not np.any(_as_int64(back.column("ts_utc_hourly")) % HOUR_US)
    assert not np.any(_as_int64(back.column("ts_naive_seconds")) % SECOND_US)
    assert set(back.column("string").to_pylist()) <= {"red", "green", "blue", None}
    assert set(back.column("constant_int").to_pylist()) == {42}
    assert back.column("int32").null_count > 0  # the missing indicator is decoded too


def test_point_masses_are_found(fitted, exact_table):
    capped, default = fitted.column("int_capped"), fitted.column("int_default")
    assert capped.points_.tolist() == [100] and capped.high_ < 100  # continuous rows stay below the cap
    real_cap = pc.count(pc.filter(exact_table.column("int_capped"), pc.equal(exact_table.column("int_capped"), 100)))
    assert capped.state_counts_[1] == real_cap.as_py() and capped.state_counts_.sum() == ROWS  # [rest, 100, null]
    assert default.points_.tolist() == [500] and default.low_ < 500 < default.high_
    times = fitted.column("ts_default")
    assert times.points_.tolist() == [int(DEFAULT_TIME.timestamp()) * SECOND_US]
    assert times.time_step_ == HOUR_US and times.origin_ > times.points_[0]  # the far-off default leaves the grid be
    assert fitted.column("date_sentinel").points_.tolist() == [(SENTINEL_DATE - dt.date(1970, 1, 1)).days]
    rating = fitted.column("rating")
    assert rating.points_.tolist() == [1, 2, 3, 4, 5] and not rating.has_continuous_
    assert [s.role for s in fitted.layout_.spans if s.column == "rating"] == ["state"]  # a category, nothing else
    assert fitted.column("int32").points_.size == 0 and fitted.column("constant_int").points_.tolist() == [42]


def test_continuous_rows_never_land_on_an_extreme_point(fitted):
    """Whatever the continuous part holds, it is clipped to its own range: a cap or a floor comes only
    from the state span, at the rate the generator gives it."""
    noise = np.random.default_rng(0).normal(0, 3, (500, fitted.output_dim)).astype(np.float32)
    for name in ("int_capped", "ts_default", "date_sentinel"):
        (state,) = [s for s in fitted.layout_.spans if s.column == name and s.role == "state"]
        noise[:, state.start] = 100.0  # state 0: continuous
    back = fitted.inverse_transform(noise)
    assert pc.max(back.column("int_capped")).as_py() < 100
    assert pc.min(back.column("ts_default")).as_py() > DEFAULT_TIME
    assert pc.max(back.column("date_sentinel")).as_py() < SENTINEL_DATE


def test_float_point_masses_come_back_bit_for_bit():
    """Zeros (signed zeros too) and a default come back as the very same floats; the rest as before."""
    rng = np.random.default_rng(2)
    amount = np.where(rng.random(ROWS) < 0.4, 0.0, np.round(rng.lognormal(3, 1, ROWS), 2))
    amount[rng.random(ROWS) < 0.1] = -0.0  # another exact value: -0.0 == 0.0, but its bits differ
    middle = np.where(rng.random(ROWS) < 0.3, 50.0, rng.normal(50, 10, ROWS))
    middle[::11] = np.nan  # NaN values, as a Parquet file can hold them: missing, back as null
    table = pa.table({"amount": pa.array(amount, mask=_nulls(rng)),
                      "middle": pa.array(middle.astype(np.float32), mask=_nulls(rng))})
    transformer = TableTransformer(seed=0).fit(table)
    assert sorted(np.signbit(transformer.column("amount").points_)) == [False, True]  # 0.0 and -0.0
    assert transformer.column("middle").points_.tolist() == [50.0]
    back = transformer.inverse_transform(transformer.transform(table))
    assert back.schema == table.schema
    for name, points in (("amount", (0.0,)), ("middle", (50.0,))):
        original = table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        restored = back.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        np.testing.assert_array_equal(np.isnan(restored), np.isnan(original), err_msg=name)
        on_point = np.isin(original, points)
        assert on_point.sum() > 0.2 * ROWS
        np.testing.assert_array_equal(restored[on_point].view(np.int64), original[on_point].view(np.int64))
        np.testing.assert_allclose(restored, original, rtol=1e-6, atol=1e-6, err_msg=name)
    noise = np.random.default_rng(0).normal(0, 3, (500, transformer.output_dim)).astype(np.float32)
    (state,) = [s for s in transformer.layout_.spans if s.column == "amount" and s.role == "state"]
    noise[:, state.start] = 100.0  # continuous: strictly above the zeros
    assert pc.min(transformer.inverse_transform(noise).column("amount")).as_py() > 0


def test_point_masses_can_be_turned_off(exact_table):
    transformer = TableTransformer(max_modes=3, max_points=0).fit(exact_table.select(["int_capped", "rating"]))
    assert all(c.points_.size == 0 and c.has_continuous_ for c in transformer.columns_)
    assert ("rating", "state") not in {(s.column, s.role) for s in transformer.layout_.spans}


def test_a_state_saved_before_point_masses_still_loads(fitted, exact_table, encoded, decoded):
    """Models saved before point masses existed: [observed, missing] counts, no points."""
    names = ["int32", "ts_paris_hourly", "string"]
    current = TableTransformer(max_modes=5, seed=3, max_points=0).fit(exact_table.select(names))
    state = json.loads(json.dumps(current.state()))
    for key in ("point_share", "max_points"):
        del state[key]
    for name in ("int32", "ts_paris_hourly"):
        column = state["columns"][name]
        counts = column.pop("state_counts")
        column["missing_counts"] = [counts[0], counts[1] if len(counts) > 1 else 0]
        del column["points"], column["has_continuous"]
    old = TableTransformer.from_state(state)
    assert old.layout_.spans == current.layout_.spans
    assert old.column("int32").condition_counts.tolist() == current.column("int32").condition_counts.tolist()
    matrix = current.transform(exact_table.select(names))
    assert old.inverse_transform(matrix).equals(current.inverse_transform(matrix))


def test_time_step_is_the_coarsest_exact_unit(fitted):
    assert fitted.column("ts_paris_hourly").time_step_ == HOUR_US
    assert fitted.column("ts_naive_seconds").time_step_ == SECOND_US
    assert fitted.column("date32").time_step_ == 1


def test_nanosecond_timestamps_round_trip():
    """ns counts since 1970 exceed float64's 53 bits: the origin and grid are applied in int64."""
    start = np.datetime64("2024-01-01T00:00:00", "ns")
    times = start + np.random.default_rng(0).integers(0, 10**7, ROWS) * np.timedelta64(1, "ms")
    table = pa.table({"t": pa.array(times, pa.timestamp("ns", tz="UTC"))})
    transformer = TableTransformer(max_modes=3).fit(table)
    assert transformer.inverse_transform(transformer.transform(table)).equals(table)


def test_integer_dictionary_round_trip():
    """A dictionary is categorical whatever its value type (like a pandas Categorical)."""
    table = pa.table({"d": pa.array(np.random.default_rng(0).integers(0, 5, ROWS)).dictionary_encode()})
    transformer = TableTransformer(max_modes=3).fit(table)
    assert _plain(transformer.inverse_transform(transformer.transform(table))).equals(_plain(table))


def test_unseen_category_is_refused(fitted, exact_table):
    other = exact_table.set_column(0, "string", pa.array(["purple"] * ROWS))
    with pytest.raises(ValueError, match="string"):
        fitted.transform(other)


# -- layout --------------------------------------------------------------------------------------

def test_layout_spans_tile_the_encoded_width(fitted, exact_table, encoded):
    spans = fitted.layout_.spans
    assert spans[0].start == 0
    for before, after in zip(spans, spans[1:]):
        assert after.start == before.end  # no gap, no overlap
    assert fitted.layout_.width == fitted.output_dim == encoded.shape[1] == spans[-1].end
    assert all(s.width == 1 for s in spans if s.kind is SpanKind.SCALAR)
    assert {s.column for s in spans} == set(exact_table.column_names) - {"constant_int", "constant_string"}
    roles = {(s.column, s.role) for s in spans}
    assert ("int32", "state") in roles and ("ts_paris_hourly", "state") not in roles


def test_encoded_one_hots_are_exact(fitted, encoded):
    for span in fitted.layout_.spans:
        if span.kind is SpanKind.ONE_HOT:
            block = encoded[:, span.slice]
            assert set(np.unique(block)) <= {0.0, 1.0}, span
            np.testing.assert_array_equal(block.sum(1), 1.0, err_msg=str(span))


def test_two_modes_are_found():
    rng = np.random.default_rng(0)
    x = np.where(rng.random(1_000) < 0.5, rng.normal(-2, 0.3, 1_000), rng.normal(3, 0.5, 1_000))
    column = TableTransformer(seed=0).fit(pa.table({"x": x})).column("x")
    assert column.n_modes >= 2
    centers = column.means_ + column.offset_
    for true_mean in (-2, 3):
        assert np.abs(centers - true_mean).min() < 0.5, (true_mean, centers)


# -- activation ----------------------------------------------------------------------------------

LAYOUT = Layout((
    Span("a", SpanKind.SCALAR, 0, 1),
    Span("a", SpanKind.ONE_HOT, 1, 3, "mode"),
    Span("b", SpanKind.ONE_HOT, 4, 2),
    Span("c", SpanKind.SCALAR, 6, 1),
    Span("c", SpanKind.ONE_HOT, 7, 3, "mode"),
    Span("c", SpanKind.ONE_HOT, 10, 2, "state"),
))


def _raw(seed: int = 0) -> torch.Tensor:
    return 4 * torch.randn(256, LAYOUT.width, generator=torch.Generator().manual_seed(seed))


def test_activate_scalars_are_tanh():
    raw = _raw()
    out = LAYOUT.activate(raw, generator=torch.Generator().manual_seed(0))
    for index in (0, 6):
        assert torch.equal(out[:, index], torch.tanh(raw[:, index]))
        assert out[:, index].abs().max() <= 1


def test_activate_one_hots_sum_to_one():
    out = LAYOUT.activate(_raw(), generator=torch.Generator().manual_seed(0))
    for span in LAYOUT.spans:
        if span.kind is SpanKind.ONE_HOT:
            block = out[:, span.slice]
            assert (block >= 0).all()
            torch.testing.assert_close(block.sum(1), torch.ones(len(block)))


def test_activate_puts_each_category_in_its_own_position():
    raw = torch.full((8, LAYOUT.width), -50.0)
    raw[:, [3, 4, 9, 11]] = 50.0  # a: mode 2, b: category 0, c: mode 2, c: missing
    out = LAYOUT.activate(raw, generator=torch.Generator().manual_seed(0)).round()
    expected = torch.zeros(LAYOUT.width)
    expected[[3, 4, 9, 11]] = 1.0
    expected[[0, 6]] = -1.0  # tanh(-50)
    assert torch.equal(out, expected.expand(8, -1))


def test_activate_is_deterministic_given_the_generator():
    raw = _raw()
    first = LAYOUT.activate(raw, generator=torch.Generator().manual_seed(5))
    again = LAYOUT.activate(raw, generator=torch.Generator().manual_seed(5))
    other = LAYOUT.activate(raw, generator=torch.Generator().manual_seed(6))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_gumbel_softmax_low_temperature_follows_the_logits():
    logits = torch.log(torch.tensor([0.7, 0.2, 0.1])).expand(20_000, -1)
    picks = gumbel_softmax(logits, tau=0.05, generator=torch.Generator().manual_seed(0)).argmax(-1)
    frequencies = torch.bincount(picks, minlength=3) / len(picks)
    torch.testing.assert_close(frequencies, torch.tensor([0.7, 0.2, 0.1]), atol=0.02, rtol=0)
