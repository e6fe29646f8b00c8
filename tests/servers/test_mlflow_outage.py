"""The MLflow server dies in the middle of training and is back 20 s later (same port, same store).
What the refresh does: it waits. Each epoch's metrics go to the server in one call, which MLflow's
client retries with a growing pause (MLFLOW_HTTP_REQUEST_MAX_RETRIES, 7 by default: about two
minutes in all), so training holds at that epoch until the server answers again and then goes on; the
run finishes published, and its MLflow run is complete (every epoch's metrics, the report, the model)
and FINISHED. A longer outage: the epoch metrics that could not be written are skipped with a warning
(training is not thrown away for diagnostics), and the first tracking step after training fails the
run, naming the server, with nothing published; a rerun resumes from the checkpoint."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient

from tests.support.pipeline import TINY_MODEL, child_env, mixed_table, write_config
from tests.support.servers import BIN, free_port, start, stop, wait_http

pytestmark = pytest.mark.slow

EPOCHS, OUTAGE_S = 60, 20


def test_an_mlflow_server_down_for_20_s_mid_training_loses_nothing(tmp_path):
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PREFECT_"))}

    def serve(name: str) -> subprocess.Popen:
        server = start([str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                        "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
                        "--artifacts-destination", str(tmp_path / "artifacts")], tmp_path / f"{name}.log", env, tmp_path)
        wait_http(f"{uri}/health", server, tmp_path / f"{name}.log")
        return server

    server = serve("mlflow-1")
    source, output = tmp_path / "in.parquet", tmp_path / "out" / "synth.parquet"
    pq.write_table(mixed_table(2000), source)  # about 0.2 s an epoch: the outage comes mid-training
    config = write_config(tmp_path, source, output, model={**TINY_MODEL, "epochs": EPOCHS})
    log = tmp_path / "run.log"
    with open(log, "wb") as out:
        run = subprocess.Popen([sys.executable, "-m", "flows.cli", "run", config], cwd=tmp_path, stdout=out,
                               stderr=subprocess.STDOUT, env=child_env(tmp_path / "prefect", uri), start_new_session=True)
    client = MlflowClient(uri)
    try:
        deadline = time.monotonic() + 300
        while True:  # until training has logged its first epochs to the server
            assert run.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "no epoch metrics within 300 s"
            runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
            if runs and len(client.get_metric_history(runs[0].info.run_id, "wasserstein")) >= 2:
                break
            time.sleep(0.2)
        os.killpg(server.pid, signal.SIGKILL)  # the server and its workers, at once
        server.wait()
        time.sleep(OUTAGE_S)
        assert run.poll() is None, log.read_text()[-3000:]  # still waiting for the server, not failed
        server = serve("mlflow-2")
        assert run.wait(timeout=600) == 0, log.read_text()[-3000:]

        [mlrun] = client.search_runs([e.experiment_id for e in client.search_experiments()])
        assert mlrun.info.status == "FINISHED" and mlrun.data.tags["synth.outcome"] == "published"
        steps = [m.step for m in client.get_metric_history(mlrun.info.run_id, "wasserstein")]
        assert sorted(steps) == list(range(1, EPOCHS + 1))  # no epoch lost to the outage
        assert "report.overall" in mlrun.data.metrics
        assert "report" in {a.path for a in client.list_artifacts(mlrun.info.run_id)}
        assert client.get_model_version_by_alias("synth", "champion").run_id == mlrun.info.run_id  # the model
        assert pq.read_metadata(output).metadata[b"prefect_synth.mlflow_run_id"].decode() == mlrun.info.run_id
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        stop(server)
