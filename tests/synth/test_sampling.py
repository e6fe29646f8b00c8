"""Uniform samples of Parquet inputs read in record batches: uniform, deterministic, memory-bounded,
whole sequences for time series; and the streamed fingerprint equals the whole-table one."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synth.errors import DataError
from synth.storage import ParquetSource, source_fingerprint, table_fingerprint
from synth.sampling import draw_examples, draw_rows, row_positions
from tests.support.storage import read_all

ROWS = 100_000


@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> ParquetSource:
    """100k rows with their index, in row groups of 7,000 (batches never line up with anything)."""
    n = np.arange(ROWS)
    table = pa.table({"index": n, "group": pa.array(np.char.add("g", (n % 37).astype(str))).dictionary_encode(),
                      "flag": n % 3 == 0, "value": np.where(n % 11 == 0, np.nan, n * 0.5)})
    path = tmp_path_factory.mktemp("data") / "indexed.parquet"
    pq.write_table(table, path, row_group_size=7_000)
    return ParquetSource(str(path))


def test_row_positions_are_a_uniform_subset():
    positions = row_positions(10_000_000, 1_000_000, seed=3)
    assert len(positions) == len(np.unique(positions)) == 1_000_000
    assert positions.min() >= 0 and positions.max() < 10_000_000 and (np.diff(positions) > 0).all()
    counts = np.histogram(positions, bins=10, range=(0, 10_000_000))[0]
    assert np.all(np.abs(counts - 100_000) < 5 * np.sqrt(100_000))  # ~5 sigma of a binomial
    assert np.array_equal(row_positions(7, 10, seed=0), np.arange(7))  # fewer rows than asked: all


def test_drawn_rows_are_uniform_over_the_input(indexed):
    drawn = draw_rows(indexed, 5_000, seed=1, batch_rows=3_000)
    index = drawn.table.column("index").to_numpy()
    assert drawn.table.num_rows == 5_000 and len(np.unique(index)) == 5_000 and drawn.source_rows == ROWS
    assert abs(index.mean() - (ROWS - 1) / 2) < 4 * ROWS / np.sqrt(12 * 5_000)  # 4 standard errors
    deciles = np.histogram(index, bins=10, range=(0, ROWS))[0]
    assert np.all(np.abs(deciles - 500) < 5 * np.sqrt(500 * 0.9)), deciles
    assert (np.diff(index) > 0).all()  # in the input's order
    assert drawn.table.schema == indexed.schema()


def test_same_seed_same_sample_whatever_the_batch_size_and_other_seeds_differ(indexed):
    first = draw_rows(indexed, 2_000, seed=7, batch_rows=3_000).table.column("index")
    assert draw_rows(indexed, 2_000, seed=7, batch_rows=997).table.column("index").equals(first)
    other = draw_rows(indexed, 2_000, seed=8, batch_rows=3_000).table.column("index").to_numpy()
    assert len(np.intersect1d(first.to_numpy(), other)) < 200  # about 2,000 * 2% overlap by chance


def test_the_sampler_holds_at_most_the_sample_plus_one_batch(indexed):
    seen = []
    drawn = draw_rows(indexed, 1_000, seed=0, batch_rows=2_500, on_batch=lambda b: seen.append(b.num_rows))
    assert max(seen) <= 2_500 and sum(seen) == ROWS and len(seen) >= ROWS // 2_500  # every row went by
    assert drawn.peak_rows_held <= 1_000 + 2_500


def test_fewer_rows_than_asked_takes_them_all(tmp_path):
    path = tmp_path / "small.parquet"
    pq.write_table(pa.table({"x": [3, 1, 2]}), path)
    drawn = draw_rows(ParquetSource(str(path)), 10, seed=0)
    assert drawn.whole and drawn.table.column("x").to_pylist() == [3, 1, 2]


def test_examples_are_drawn_whole_and_uniformly(tmp_path):
    """Sequences of varying length, their rows interleaved across files: a drawn example keeps every row."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 9, 2_000)
    ids = np.repeat(np.arange(2_000), lengths)
    order = rng.permutation(len(ids))  # rows of one example spread over the whole input
    table = pa.table({"series": pa.array(np.char.add("s", ids[order].astype(str))), "step": np.arange(len(ids))})
    (tmp_path / "parts").mkdir()
    for part, rows in enumerate(np.array_split(np.arange(len(ids)), 3)):
        pq.write_table(table.take(pa.array(rows)), tmp_path / "parts" / f"part-{part}.parquet", row_group_size=500)
    source = ParquetSource(str(tmp_path / "parts"))
    drawn = draw_examples(source, "series", 300, seed=4, batch_rows=1_000)
    assert (drawn.source_examples, drawn.sample_examples, drawn.source_rows) == (2_000, 300, len(ids))
    picked, counts = np.unique(drawn.table.column("series").to_numpy(zero_copy_only=False), return_counts=True)
    expected = dict(zip(np.char.add("s", np.arange(2_000).astype(str)), lengths))
    assert len(picked) == 300 and all(counts[i] == expected[p] for i, p in enumerate(picked))  # whole sequences
    numbers = np.sort([int(p[1:]) for p in picked])
    assert abs(numbers.mean() - 999.5) < 4 * 2_000 / np.sqrt(12 * 300)
    again = draw_examples(source, "series", 300, seed=4, batch_rows=700)
    assert sorted(again.table.column("series").to_pylist()) == sorted(drawn.table.column("series").to_pylist())
    assert draw_examples(source, "series", 5_000, seed=0).whole  # fewer examples than asked: all of them


def test_a_missing_example_id_is_a_data_error(indexed):
    with pytest.raises(DataError, match="'station'"):
        draw_examples(indexed, "station", 10, seed=0)


def test_streamed_fingerprint_equals_the_whole_table_one(indexed, tmp_path):
    assert source_fingerprint(indexed) == table_fingerprint(read_all(indexed.path))
    columns = ParquetSource(indexed.path, ("value", "index"))
    assert source_fingerprint(columns) == table_fingerprint(read_all(indexed.path, ["value", "index"]))
    pq.write_to_dataset(pa.table({"x": [1, 2, 3, 4], "part": ["a", "b", "a", "b"]}), tmp_path / "hive",
                        partition_cols=["part"])
    hive = ParquetSource(str(tmp_path / "hive"))
    assert source_fingerprint(hive) == table_fingerprint(read_all(tmp_path / "hive"))
