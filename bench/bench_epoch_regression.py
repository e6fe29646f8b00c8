"""Per-epoch training time at equal work: this tree against an earlier commit, side by side in one run.

  python bench/bench_epoch_regression.py [--ref 58d84a9] [--repeats 3] [--data data] [--out bench/results]

Issue 14 asks that the time per epoch "at equal work" stays within 10 % of what it was when the
issue was filed (commit 58d84a9, the last before it). Equal work means the same data, the same
networks and the same encoded width, so this tree runs with the issue's encodings off
(`max_point_masses=0`, `tail_transform=none`) and model selection off; the "new defaults" row is
this tree as a user gets it (wider encoding, selection on for ACTGAN), for the cost of the new
features. The earlier commit is checked out into a temporary git worktree and imported from there.

Cases: ACTGAN on diamonds (batch 500, 6 epochs) and DGAN on weather (configs/weather.yaml's
model, 60 epochs, batches of 1,024 examples as the DGAN default was then; the default of 256 since
makes an epoch four steps, which is not equal work). Each run is its own process with 2 torch threads; runs alternate between the trees so
machine noise hits both alike. The figure per run is the median of the model's own per-epoch wall
times (EpochStats.seconds) over epochs 2..N. Prints a markdown table of medians over repeats and
writes the raw JSON lines to --out.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# One run: imports synth from the tree on sys.path[0], fits, prints the epoch times as JSON.
RUNNER = r"""
import json, sys, statistics
import pyarrow.parquet as pq, torch
torch.set_num_threads(2)
case, data, epochs, new_defaults, current = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1", sys.argv[5] == "1"
from synth.training import WGANConfig
seconds = []
off = {} if (new_defaults or not current) else {"max_point_masses": 0, "tail_transform": "none"}
if case == "actgan":
    from synth.tabular import ACTGAN, ACTGANConfig
    kw = dict(training=WGANConfig(epochs=epochs, batch_size=500))
    if current:
        kw["training"] = WGANConfig(epochs=epochs, batch_size=500, eval_every=5 if new_defaults else 0)
    ACTGAN(ACTGANConfig(seed=0, **kw, **off)).fit(pq.read_table(data), callback=lambda s: seconds.append(s.seconds))
else:
    import yaml
    from synth.timeseries import DGAN, DGANConfig
    m = yaml.safe_load(open("configs/weather.yaml"))["model"]
    base = DGANConfig()
    train = WGANConfig(**{**base.training.__dict__, "epochs": epochs, "batch_size": 1024})  # gretel's, as then
    cfg = DGANConfig(example_id=m["example_id"], time_column=m["time_column"],
                     attribute_columns=tuple(m["attribute_columns"]), feature_columns=tuple(m["feature_columns"]),
                     max_sequence_len=m["max_sequence_len"], sample_len=m["sample_len"], seed=0, training=train, **off)
    DGAN(cfg).fit(pq.read_table(data), callback=lambda s: seconds.append(s.seconds))
print(json.dumps({"epoch_s": statistics.median(seconds[1:]), "epochs": len(seconds)}))
"""

CASES = {"actgan": ("diamonds.parquet", 6), "dgan": ("weather.parquet", 60)}


def one(tree: Path, case: str, data: Path, epochs: int, new_defaults: bool, current: bool) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "2"}
    proc = subprocess.run([sys.executable, "-c", RUNNER, case, str(data), str(epochs), str(int(new_defaults)),
                           str(int(current))], capture_output=True, text=True, cwd=ROOT, env=env)
    if proc.returncode:
        raise RuntimeError(f"{case} in {tree} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])["epoch_s"]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--ref", default="58d84a9")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--cases", default="actgan,dgan")
    p.add_argument("--data", type=Path, default=ROOT / "data")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    rows: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "old"
        subprocess.run(["git", "worktree", "add", "--detach", str(old), a.ref], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            for rep in range(a.repeats):
                for case in a.cases.split(","):
                    name, epochs = CASES[case]
                    for label, tree, new_defaults, current in (
                            (f"{a.ref}", old, False, False), ("this tree, encodings off", ROOT, False, True),
                            ("this tree, new defaults", ROOT, True, True)):
                        s = one(tree, case, a.data / name, epochs, new_defaults, current)
                        rows.setdefault((case, label), []).append(s)
                        line = {"case": case, "tree": label, "repeat": rep, "epoch_s": s}
                        print(json.dumps(line), flush=True)
                        with open(a.out / "epoch_regression.jsonl", "a") as f:
                            f.write(json.dumps(line) + "\n")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, capture_output=True)
    print("\n| case | tree | s per epoch, median of repeats | ratio to " + a.ref + " |\n|---|---|---|---|")
    for case in a.cases.split(","):
        base = statistics.median(rows[(case, a.ref)])
        for (c, label), v in rows.items():
            if c == case:
                m = statistics.median(v)
                print(f"| {case} | {label} | {m:.3f} ({', '.join(f'{x:.3f}' for x in v)}) | {m / base:.2f} |")


if __name__ == "__main__":
    main()
