"""The pipeline's steps run where Prefect is not installed (an Airflow environment): a small refresh
through `tasks/` alone, in a subprocess whose imports of `prefect` fail."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]

REFRESH = textwrap.dedent('''
    import json, sys

    class NoPrefect:  # as if Prefect were not installed
        def find_spec(self, name, path=None, target=None):
            if name == "prefect" or name.startswith("prefect."):
                raise ModuleNotFoundError(f"No module named {name!r}")

    sys.meta_path.insert(0, NoPrefect())
    from tasks import tracking
    from tasks.config import parse_config
    from tasks.ingest import ingest
    from tasks.publish import publish, stamp
    from tasks.report import hold_out, report
    from tasks.sample import sample
    from tasks.train import train
    from tasks.validate import store_inferred_contract, validate

    source, output, report_dir = sys.argv[1:4]
    config = parse_config({
        "source": {"path": source}, "output": {"path": output},
        "model": {"kind": "actgan", "epochs": 2, "embedding_dim": 16, "generator_dims": [32],
                  "critic_dims": [32], "pac": 5, "training": {"batch_size": 50}},
        "report": {"bootstrap": 0, "gate": {"min_overall": 0.05, "min_column_shapes": 0.05,
                                            "min_column_pairs": 0.05, "max_exact_copy_rate": 1.0,
                                            "min_dcr_holdout_share": 0.0, "min_pairs_margin": None,
                                            "max_detection_auc": None}}})
    run_id = tracking.start_run(config, {"orchestrator": "none"})
    data = ingest(source)
    checked = validate(data.table, None, output)
    train_table, holdout = hold_out(data.table, config.report.holdout_fraction, config.model.seed)
    model = train(train_table, config.model, on_epoch=tracking.epoch_logger(run_id), output_path=output)
    staged = sample(model, data.units, config.model.seed, output, stamp({"mlflow_run_id": run_id}))
    scored = report(train_table, staged.kept, report_dir, holdout, bootstrap=0, gate=config.gate_thresholds(),
                    history=model.history_)
    assert scored.passed, scored.gate
    published = publish(staged.path, output)
    contract = store_inferred_contract(checked)
    uri = tracking.log_model(run_id, model.save(report_dir + "/model"))
    version = tracking.register_champion(run_id, uri, tracking.registered_name(config))
    tracking.end_run(run_id, "FINISHED", "published")
    print(json.dumps({"published": published, "contract": contract, "run_id": run_id, "version": version,
                      "prefect": sorted(m for m in sys.modules if m.split(".")[0] == "prefect")}))
''')


def test_a_small_refresh_runs_through_the_steps_with_prefect_blocked(tmp_path):
    rng = np.random.default_rng(0)
    n = 300
    pq.write_table(pa.table({"amount": np.round(rng.gamma(2.0, 10.0, n), 2),
                             "kind": rng.choice(["a", "b", "c"], n), "flag": rng.random(n) > 0.5}),
                   tmp_path / "in.parquet")
    output, report_dir = tmp_path / "out.parquet", tmp_path / "report"
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", REFRESH, str(tmp_path / "in.parquet"), str(output),
                           str(report_dir)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["prefect"] == []  # nothing of Prefect was imported, or the finder would have refused it
    assert result["published"] == str(output) and pq.read_table(output).num_rows == n
    assert pq.read_schema(output).names == ["amount", "kind", "flag"]
    assert Path(result["contract"]).is_file()
    assert json.loads((report_dir / "report.json").read_text())["gate"]["passed"]
    assert result["version"] == "1"
    from mlflow import MlflowClient

    run = MlflowClient(env["MLFLOW_TRACKING_URI"]).get_run(result["run_id"])
    assert run.info.status == "FINISHED" and run.data.tags["synth.outcome"] == "published"
    assert run.data.tags["orchestrator"] == "none" and "wasserstein" in run.data.metrics
