"""Inputs too large to hold, through the functions the tasks run: a sampled ingest, full-scope validation
in batches, chunked sampling to a staged file. Real Parquet, real models, no timing."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synth.contract import infer_contract, save_contract
from synth.errors import DataError
from synth.storage import publish_staged, read_metadata, table_fingerprint
from synth.tabular import ACTGAN, ACTGANConfig
from synth.timeseries import DGAN, DGANConfig
from synth.training import WGANConfig
from tasks.ingest import read_input
from tasks.sample import write_synthetic
from tasks.validate import check_input
from tests.support.storage import read_all

ROWS = 20_000
BATCH = 1_000


def big_table(rows: int = ROWS, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table({
        "row": np.arange(rows),
        "amount": np.round(rng.gamma(2.0, 10.0, rows), 2),
        "kind": pa.array(rng.choice(["a", "b", "c"], rows)),
        "ok": rng.random(rows) < 0.7,
    })


@pytest.fixture
def source(tmp_path) -> str:
    path = tmp_path / "big.parquet"
    pq.write_table(big_table(), path, row_group_size=3_000)
    return str(path)


def test_ingest_draws_the_configured_sample_and_fingerprints_the_whole_input(source):
    data = read_input(source, sample_rows=2_000, seed=5, batch_rows=BATCH)
    assert data.sampled and data.table.num_rows == 2_000 and data.source_rows == ROWS and data.units == ROWS
    assert data.fingerprint == table_fingerprint(read_all(source))
    assert read_input(source, sample_rows=2_000, seed=5, batch_rows=3 * BATCH).table.equals(data.table)
    whole = read_input(source, sample_rows=ROWS + 1, seed=5, batch_rows=BATCH)  # fewer rows than asked: all
    assert not whole.sampled and whole.table.num_rows == ROWS


def test_ingest_checks_every_batch_not_only_the_sample(tmp_path):
    """A ±inf the sample leaves out still refuses the input: every batch is checked as it streams by."""
    table = big_table()
    ratio = np.ones(ROWS)
    ratio[-1] = np.inf
    path = tmp_path / "inf.parquet"
    pq.write_table(table.append_column("ratio", pa.array(ratio)), path)
    drawn = read_input(str(path), columns=["row"], sample_rows=100, seed=0, batch_rows=BATCH)
    assert ROWS - 1 not in drawn.table.column("row").to_pylist()  # the sample misses that row ...
    with pytest.raises(DataError, match="'ratio' has 1 infinite"):  # ... the batches do not
        read_input(str(path), sample_rows=100, seed=0, batch_rows=BATCH)


def test_full_scope_finds_a_bad_value_in_a_late_batch_that_the_sample_misses(source, tmp_path):
    output = str(tmp_path / "out" / "synth.parquet")
    contract = tmp_path / "contract.yaml"
    data = read_input(source, sample_rows=500, seed=1, batch_rows=BATCH)
    first = check_input(data.table, None, output, "full", data.source, BATCH)
    assert first.success and first.inferred and (first.scope, first.rows, first.gx_rows) == ("full", ROWS, 500)
    save_contract(first.contract, contract)

    late = big_table()
    amounts = late.column("amount").to_numpy().copy()
    amounts[ROWS - 3] = 1e9  # one value, in the last batch, far outside the contract
    late = late.set_column(1, "amount", pa.array(amounts))
    path = tmp_path / "late.parquet"
    pq.write_table(late, path, row_group_size=3_000)
    data = read_input(str(path), sample_rows=500, seed=1, batch_rows=BATCH)
    assert 1e9 not in data.table.column("amount").to_pylist()

    sampled = check_input(data.table, str(contract), output, "sample", data.source, BATCH)
    assert sampled.success and (sampled.scope, sampled.rows, sampled.source_rows) == ("sample", 500, ROWS)
    full = check_input(data.table, str(contract), output, "full", data.source, BATCH)
    assert [f.line() for f in full.failures] == [
        f"column 'amount': expect_column_values_to_be_between: expected values in "
        f"[{float(first.contract.columns[1].min)}, {float(first.contract.columns[1].max)}], "
        f"observed 1 of {ROWS} values outside, e.g. 1000000000.0"]
    summary = full.summary()
    assert (summary["scope"], summary["rows_checked"], summary["gx_rows"]) == ("full", ROWS, 500)
    assert "all 20,000 input rows" in full.scope_text() and "500-row training sample" in full.scope_text()


def test_an_inferred_contract_covers_the_whole_input_not_the_sample(tmp_path):
    table = big_table()
    kinds = table.column("kind").to_pylist()
    kinds[ROWS - 1] = "rare"  # one row: almost never in a 500-row sample
    path = tmp_path / "rare.parquet"
    pq.write_table(table.set_column(2, "kind", pa.array(kinds)), path)
    data = read_input(str(path), sample_rows=500, seed=0, batch_rows=BATCH)
    assert "rare" not in data.table.column("kind").to_pylist()
    for scope in ("full", "sample"):
        result = check_input(data.table, None, str(tmp_path / f"{scope}.parquet"), scope, data.source, BATCH)
        assert result.success and "rare" in result.contract.columns[2].allowed
        assert result.contract == infer_contract(read_all(path))  # from every row, not the sample


def tiny_actgan(table: pa.Table) -> ACTGAN:
    config = ACTGANConfig(embedding_dim=8, generator_dims=(16,), critic_dims=(16,), pac=10,
                          training=WGANConfig(epochs=1, batch_size=200))
    return ACTGAN(config).fit(table)


def test_sampling_writes_chunks_to_a_staged_file_and_publishes_it_whole(source, tmp_path):
    model = tiny_actgan(read_input(source, sample_rows=1_000, seed=0).table)
    output = tmp_path / "out" / "synthetic.parquet"
    output.parent.mkdir()
    output.write_bytes(b"previous")
    staged = write_synthetic(model, 2_500, 7, str(output), {"prefect_synth.model_kind": "actgan"},
                             chunk_rows=1_000, keep_rows=600)
    assert output.read_bytes() == b"previous"  # nothing published yet
    assert (staged.rows, staged.units, staged.chunks, staged.kept.num_rows) == (2_500, 2_500, 3, 600)
    written = pq.ParquetFile(staged.path)
    assert written.metadata.num_row_groups == 3 and written.metadata.num_rows == 2_500
    assert read_metadata(staged.path)["prefect_synth.model_kind"] == "actgan"
    publish_staged(staged.path, str(output))
    assert sorted(p.name for p in output.parent.iterdir()) == ["synthetic.parquet"]
    again = write_synthetic(model, 2_500, 7, str(tmp_path / "again.parquet"), chunk_rows=1_000, keep_rows=600)
    assert pq.read_table(again.path).equals(pq.read_table(output))  # same seed and chunk size, same rows
    one = write_synthetic(model, 900, 7, str(tmp_path / "one.parquet"), chunk_rows=1_000, keep_rows=600)
    assert pq.read_table(one.path).equals(model.sample_table(900, seed=7))  # one chunk: one model call


def test_a_failing_chunk_leaves_no_staged_file(source, tmp_path):
    model = tiny_actgan(read_input(source, sample_rows=1_000, seed=0).table)
    calls = []

    class Failing:
        def sample_table(self, n, seed=None, conditions=None):
            calls.append(n)
            if len(calls) == 2:
                raise RuntimeError("out of memory")
            return model.sample_table(n, seed=seed, conditions=conditions)

    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="out of memory"):
        write_synthetic(Failing(), 2_500, 0, str(out / "x.parquet"), chunk_rows=1_000)
    assert len(calls) == 2 and list(out.iterdir()) == []


def test_time_series_are_sampled_and_written_as_whole_sequences(tmp_path):
    rng = np.random.default_rng(0)
    n, steps = 60, 6
    table = pa.table({"unit": np.repeat([f"u{i:02d}" for i in range(n)], steps),
                      "t": np.tile(np.arange(steps), n), "site": np.repeat(rng.choice(["n", "s"], n), steps),
                      "reading": rng.normal(10, 2, n * steps)})
    path = tmp_path / "series.parquet"
    pq.write_table(table.take(pa.array(rng.permutation(n * steps))), path, row_group_size=50)  # rows shuffled
    data = read_input(str(path), sample_rows=25, seed=3, example_id="unit", batch_rows=100)
    assert (data.source_examples, data.units, data.table.num_rows) == (n, n, 25 * steps)
    assert set(np.unique(data.table.column("unit").to_pylist(), return_counts=True)[1]) == {steps}
    model = DGAN(DGANConfig(example_id="unit", time_column="t", attribute_columns=("site",),
                            feature_columns=("reading",), max_sequence_len=steps, sample_len=2,
                            attribute_num_units=8, feature_num_units=8, critic_num_units=8,
                            training=WGANConfig(epochs=1, batch_size=5))).fit(data.table)
    staged = write_synthetic(model, 50, 1, str(tmp_path / "out.parquet"), chunk_rows=100, keep_rows=60,
                             example_id="unit")
    written = pq.read_table(staged.path)
    assert staged.chunks == 4 and staged.units == 50 and staged.rows == written.num_rows
    ids = written.column("unit").to_pylist()
    assert list(dict.fromkeys(ids)) == [f"synthetic-{i:02d}" for i in range(50)]  # numbered across chunks
    kept = staged.kept.column("unit").to_pylist()
    assert len(set(kept)) == 10 and all(kept.count(i) == ids.count(i) for i in set(kept))  # whole sequences
