"""Our model as a run config describes it, trained on a whole Parquet file the way the peers are.

  python bench/run_config.py IN.parquet OUT.parquet [--config configs/weather.yaml] [--set model.key=value ...]
      [--threads 2]

The config's `model` section (default: ACTGAN with every default) goes through the same conversion as
a pipeline run (`tasks.estimator.synth_model`), so "our defaults" here are the pipeline's defaults,
`training.max_minutes` and model selection included. Unlike a run there is no holdout, contract or
report: the model trains on every row (sequence), as peer_ctgan.py and peer_dgan.py do, and samples as
many rows (sequences) as the input has. Prints one JSON line: fit_s, sample_s, epochs_trained,
selected_epoch, stopped_early, epoch_s_median and peak_rss_mb.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from pathlib import Path

import pyarrow.parquet as pq
import torch
import yaml

from tasks.config import apply_override, parse_config
from tasks.estimator import synth_model


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--config", help="a run config whose model section is used (default: actgan defaults)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override, e.g. model.seed=1")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    model_tree = yaml.safe_load(Path(a.config).read_text())["model"] if a.config else {"kind": "actgan"}
    tree = {"source": {"path": a.input}, "output": {"path": a.output}, "model": model_tree}
    for item in a.set:
        apply_override(tree, item)
    config = parse_config(tree, source="bench")
    table = pq.read_table(a.input)
    t = time.perf_counter()
    model = synth_model(config.model).fit(table)
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    synthetic = model.generate() if config.model.kind == "dgan" else model.sample_table(table.num_rows)
    sample_s = time.perf_counter() - t
    pq.write_table(synthetic, a.output)
    history = model.history_
    print(json.dumps({
        "model": f"prefect-synth-{config.model.kind}", "rows": table.num_rows, "fit_s": round(fit_s, 2),
        "sample_s": round(sample_s, 2), "epochs_trained": len(history),
        "selected_epoch": getattr(model, "selected_epoch_", None),
        "stopped_early": getattr(model, "stopped_early_", None),
        "epoch_s_median": round(statistics.median(s.seconds for s in history[1:] or history), 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


if __name__ == "__main__":
    main()
