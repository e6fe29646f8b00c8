"""Chunked generation: one chunk is exactly one call of the model, chunks are seeded apart, sequence ids
are numbered across chunks as one call would number them, and the rows kept for the report are a
uniform sample of whole units."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from synth.chunked import chunk_seed, generate_chunked


def rows(n: int, seed: int) -> pa.Table:
    """A stand-in model: n rows drawn from `seed`."""
    return pa.table({"x": np.random.default_rng(seed).normal(size=n)})


def sequences(n: int, seed: int) -> pa.Table:
    """A stand-in DGAN: n sequences of 1 to 4 steps, ids numbered as DGAN numbers one call of n."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 5, n)
    width = len(str(n - 1))
    ids = np.repeat([f"synthetic-{i:0{width}d}" for i in range(n)], lengths)
    return pa.table({"id": ids, "step": np.concatenate([np.arange(k) for k in lengths]),
                     "value": rng.normal(size=int(lengths.sum()))})


def numbered_sequences(n: int, seed: int) -> pa.Table:
    """The same with integer ids 0, 1, ... (DGAN numbers a numeric id column so)."""
    table = sequences(n, seed)
    numbers = pa.array(table.column("id")).dictionary_encode().indices.cast(pa.int32())
    return table.set_column(0, "id", numbers)


def collect(generate, count, seed, **kwargs):
    written = []
    out = generate_chunked(generate, count, seed, written.append, **kwargs)
    return out, written


def test_one_chunk_is_exactly_one_call():
    out, written = collect(rows, 500, 3, chunk_units=500, keep_units=1_000)
    assert out.chunks == 1 and written[0].equals(rows(500, 3)) and out.kept.equals(rows(500, 3))


def test_chunks_have_seeds_of_their_own_and_the_output_is_deterministic():
    assert chunk_seed(3, 0) == 3 and len({chunk_seed(3, i) for i in range(100)}) == 100
    out, written = collect(rows, 1_050, 3, chunk_units=100, keep_units=50)
    assert (out.chunks, out.rows, out.units) == (11, 1_050, 1_050) and [t.num_rows for t in written][-1] == 50
    values = np.concatenate([t.column("x").to_numpy() for t in written])
    assert len(np.unique(values)) == 1_050  # no chunk repeats another
    _, again = collect(rows, 1_050, 3, chunk_units=100, keep_units=50)
    assert all(a.equals(b) for a, b in zip(written, again))


def test_the_kept_rows_are_a_uniform_sample_of_the_output():
    out, written = collect(lambda n, s: pa.table({"x": np.zeros(n)}), 100_000, 0, chunk_units=7_000,
                           keep_units=5_000)
    assert out.kept.num_rows == 5_000
    marked, _ = collect(lambda n, s: pa.table({"x": np.arange(n)}), 100_000, 0, chunk_units=100_000,
                        keep_units=5_000)
    index = marked.kept.column("x").to_numpy()
    deciles = np.histogram(index, bins=10, range=(0, 100_000))[0]
    assert np.all(np.abs(deciles - 500) < 5 * np.sqrt(450)), deciles


def test_sequences_are_numbered_across_chunks_and_kept_whole():
    out, written = collect(sequences, 250, 1, chunk_units=60, keep_units=40, example_id="id")
    assert out.chunks == 5 and out.units == 250
    ids = np.concatenate([t.column("id").to_numpy(zero_copy_only=False) for t in written])
    assert list(dict.fromkeys(ids)) == [f"synthetic-{i:03d}" for i in range(250)]  # as one call of 250
    kept_ids, kept_counts = np.unique(out.kept.column("id").to_numpy(zero_copy_only=False), return_counts=True)
    all_ids, all_counts = np.unique(ids, return_counts=True)
    assert len(kept_ids) == 40
    assert dict(zip(kept_ids, kept_counts)) == {i: c for i, c in zip(all_ids, all_counts) if i in set(kept_ids)}
    numeric, _ = collect(numbered_sequences, 100, 2, chunk_units=30, keep_units=1_000, example_id="id")
    assert np.array_equal(np.unique(numeric.kept.column("id").to_numpy()), np.arange(100))
    assert numeric.kept.schema.field("id").type == pa.int32()
