"""What a refresh leaves behind: no raw training rows in the report or in MLflow's and Prefect's
artifacts, and no credential in logs, params, tags or artifacts."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flows.cli import main
from tests.support.pipeline import TINY_MODEL, write_config

pytestmark = pytest.mark.slow

SECRET = "dummy-secret-7f3a9c2e41"


def _traceable_table(n: int = 300) -> pa.Table:
    """Every row carries a value no aggregate would produce: its own 12-digit float."""
    rng = np.random.default_rng(3)
    return pa.table({
        "reading": np.round(rng.uniform(1000, 2000, n), 9),
        "group": rng.choice(["north", "south", "east"], n),
        "count": rng.integers(0, 50, n),
    })


def _texts_of(folder: Path) -> dict[str, str]:
    return {str(p): p.read_text(errors="replace") for p in folder.rglob("*")
            if p.is_file() and p.suffix in {".json", ".html", ".yaml", ".txt", ".md", ".py", ".MLmodel", ""}}


def _everything_the_run_left(tmp_path, run_id: str, report_dir: Path) -> dict[str, str]:
    import mlflow
    from mlflow import MlflowClient
    from prefect.client.orchestration import get_client

    client = MlflowClient()
    run = client.get_run(run_id)
    texts = {"params": json.dumps(run.data.params), "tags": json.dumps(run.data.tags)}
    downloaded = Path(mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(tmp_path / "mlflow-artifacts")))
    texts.update(_texts_of(downloaded))
    texts.update(_texts_of(report_dir))
    with get_client(sync_client=True) as prefect:
        for artifact in prefect.read_artifacts():
            texts[f"prefect:{artifact.key}:{artifact.id}"] = json.dumps(artifact.data, default=str)
    return texts


def test_no_training_row_and_no_credential_leaves_the_run(tmp_path, prefect_api, mlflow_store, monkeypatch,
                                                          capsys, caplog):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", SECRET)
    monkeypatch.setenv("PREFECT_SYNTH_DUMMY_TOKEN", SECRET)
    table = _traceable_table()
    source = tmp_path / "in.parquet"
    pq.write_table(table, source)
    output = tmp_path / "out" / "synth.parquet"
    caplog.set_level(logging.DEBUG)
    assert main(["run", write_config(tmp_path, source, output, model=dict(TINY_MODEL))]) == 0
    captured = capsys.readouterr()

    from synth.storage import read_metadata
    run_id = read_metadata(output)["prefect_synth.mlflow_run_id"]
    texts = _everything_the_run_left(tmp_path, run_id, output.with_name(output.stem + ".report"))
    texts["stdout"], texts["stderr"], texts["log"] = captured.out, captured.err, caplog.text
    assert len(texts) > 8  # report.json, report.html, validation.json, the MLmodel, Prefect artifacts, ...

    leaks = [name for name, text in texts.items() if SECRET in text]
    assert not leaks, f"the dummy secret appears in {leaks}"

    # A training row is identified by its 12-digit reading. The smallest and largest readings are
    # column bounds (the schema contract and the range checks name them); no other may appear.
    readings = sorted(table.column("reading").to_pylist())
    inner = [repr(v) for v in readings[1:-1]]
    found = {name: [v for v in inner if v in text] for name, text in texts.items()
             if name not in {"stdout", "stderr", "log"}}
    found = {name: hits for name, hits in found.items() if hits}
    assert not found, f"training values appear in {found}"
