"""DGAN's `feature_encoding` on the weather demo: minmax against modes, at the demo config's settings.

  python bench/bench_dgan_encoding.py DATA_DIR OUT_DIR [--encodings minmax,modes] [--seeds 0]
      [--epochs 400] [--threads 1]

Per encoding and seed, as a run of configs/weather.yaml does: the report's holdout (whole examples)
held back, the model built from the config's `model` section with `feature_encoding` (and seed,
epochs) set, trained on the CPU, as many sequences generated as the input has, scored by
`build_report` (per-feature column shapes, pairs, ACF error; no bootstrap). When the peer venvs exist
(../shared/peers/setup.sh), ../shared/peers/judge.py scores the output against the whole input too.
Prints one JSON line per run; the synthetic tables go to OUT_DIR.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch

from tasks.config import load_config
from tasks.estimator import synth_model
from synth.fidelity.report import build_report
from synth.split import split_holdout

ROOT = Path(__file__).resolve().parents[1]
JUDGE = ROOT.parent / "shared" / "peers" / "judge.py"
JUDGE_PYTHON = Path.home() / ".cache" / "synth-peers" / "ctgan" / "bin" / "python"
POINTS = {"precip": 0.0, "visib": 10.0}  # the weather's heaviest point masses: their rates are reported


def judge(real: Path, synthetic: Path, model) -> dict | None:
    if not (JUDGE.is_file() and JUDGE_PYTHON.is_file()):
        return None
    spec = model.spec_
    proc = subprocess.run([str(JUDGE_PYTHON), str(JUDGE), "series", str(real), str(synthetic),
                           "--example-id", spec.example_id, "--time", spec.time_column,
                           "--attributes", ",".join(spec.attribute_columns),
                           "--features", ",".join(spec.feature_columns)], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def one_run(data: Path, out: Path, encoding: str, seed: int, epochs: int) -> dict:
    config = load_config(ROOT / "configs" / "weather.yaml",
                         [f"source.path={data}", f"model.feature_encoding={encoding}", f"model.seed={seed}",
                          f"model.epochs={epochs}", "model.training.device=cpu"])
    table = pq.read_table(data)
    train, holdout = split_holdout(table, config.report.holdout_fraction, seed, config.model.example_id)
    started = time.perf_counter()
    model = synth_model(config.model).fit(train)
    fit_s = time.perf_counter() - started
    n = len(set(table.column(config.model.example_id).to_pylist()))  # the flow's default: as many as the input
    synthetic = model.generate(n, seed=seed)
    path = out / f"weather_{encoding}_seed{seed}.parquet"
    pq.write_table(synthetic, path)
    report = build_report(train, synthetic, holdout, series=config.series_spec(), max_rows=config.report.max_rows,
                          bootstrap=0, seed=seed)
    scores = report["scores"]
    shapes = {c["name"]: round(c["score"], 4) for c in report["columns"]}
    rates = {f"{name}=={value:g}": {"real": round(float(np.mean(train.column(name).to_numpy() == value)), 4),
                                     "synthetic": round(float(np.mean(synthetic.column(name).to_numpy() == value)), 4)}
             for name, value in POINTS.items()}
    return {"encoding": encoding, "seed": seed, "epochs": epochs, "fit_s": round(fit_s, 1),
            "epoch_s_median": round(statistics.median(s.seconds for s in model.history_[1:]), 4),
            "feature_dim": model.transformer_.feature_dim, "additional_dim": model.transformer_.additional_dim,
            "overall": round(scores["overall"]["synthetic"], 4), "shapes": round(scores["column_shapes"]["synthetic"], 4),
            "pairs": round(scores["column_pairs"]["synthetic"], 4), "series": round(report["summary"]["series"], 4),
            "acf_error": round(report["summary"]["acf_error"], 4),
            "acf_error_shuffled": round(report["summary"]["acf_error_shuffled"], 4),
            "column_shapes": shapes, "point_rates": rates, "judge": judge(data, path, model)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("data_dir")
    p.add_argument("out_dir")
    p.add_argument("--encodings", default="minmax,modes")
    p.add_argument("--seeds", default="0")
    p.add_argument("--epochs", type=int, default=400)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    out = Path(a.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for seed in (int(s) for s in a.seeds.split(",")):
        for encoding in a.encodings.split(","):
            print(json.dumps(one_run(Path(a.data_dir) / "weather.parquet", out, encoding, seed, a.epochs)), flush=True)


if __name__ == "__main__":
    main()
