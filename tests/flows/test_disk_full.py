"""A disk that fills up while sampling (a small tmpfs made for the test): the run fails with one line
that says where space ran out, removes what it staged, and leaves the previous output as it was; a
rerun with room resumes from the checkpoint (training is not repeated) and publishes."""
from __future__ import annotations

import os
import subprocess

import mlflow
import pyarrow.parquet as pq
import pytest

from flows.cli import main
from tests.support.pipeline import TINY_MODEL, mixed_table, write_config

pytestmark = pytest.mark.slow


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs at tmp_path/small (root and mount(8) needed; skipped where the machine refuses)."""
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True, text=True)
    if made.returncode != 0:
        if os.environ.get("SYNTH_REQUIRE_MOUNT") == "1":
            pytest.fail(f"cannot mount a small filesystem: {made.stderr.strip()}")
        pytest.skip(f"cannot mount a small filesystem here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_while_sampling_fails_cleanly_and_a_rerun_publishes(small_disk, tmp_path, prefect_api,
                                                                          mlflow_store, capsys):
    source, output = tmp_path / "in.parquet", small_disk / "out" / "synth.parquet"
    pq.write_table(mixed_table(300), source)
    model = {**TINY_MODEL, "training": {"batch_size": 100, "checkpoint_every": 1,
                                        "checkpoint_dir": str(tmp_path / "checkpoints")}}  # on the roomy disk
    config = write_config(tmp_path, source, output, model=model, sample={"num_rows": 300})
    assert main(["run", config]) == 0  # a first, small publish fits
    before = {p.relative_to(small_disk): p.read_bytes() for p in small_disk.rglob("*") if p.is_file()}
    capsys.readouterr()

    code = main(["run", config, "--set", "sample.num_rows=400000", "--set", "output.skip_unchanged=false"])
    err = capsys.readouterr().err
    assert code != 0
    last = err[err.rindex("prefect-synth: error: "):]
    assert "no space left on the device" in last and str(small_disk) in last, err[-3000:]
    after = {p.relative_to(small_disk): p.read_bytes() for p in small_disk.rglob("*") if p.is_file()}
    assert after == before  # nothing staged is left, and the previous output is untouched

    roomy = tmp_path / "roomy" / "synth.parquet"  # the same run where there is room
    assert main(["run", config, "--set", "sample.num_rows=400000", "--set", f"output.path={roomy}"]) == 0
    assert pq.read_metadata(roomy).num_rows == 400000
    # training was not repeated: the rerun resumed from the failed run's checkpoint of its last epoch, so
    # it logged no epoch of its own (the failed run logged epochs 1-3)
    rerun = pq.read_metadata(roomy).metadata[b"prefect_synth.mlflow_run_id"].decode()
    client = mlflow.MlflowClient()
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()], order_by=["start_time ASC"])
    assert [[m.step for m in client.get_metric_history(r.info.run_id, "wasserstein")] for r in runs] == [
        [1, 2, 3], [1, 2, 3], []] and runs[-1].info.run_id == rerun
