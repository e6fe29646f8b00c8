"""The report's speed: 1M × 20 tables, and diamonds side by side with SDMetrics (QualityReport + DCR).

  python bench/bench_report.py big [--rows 1000000]        # real, holdout, synthetic: 1M rows × 20 columns each
  python bench/bench_report.py diamonds [--epochs 10]      # ours vs SDMetrics on the same train/holdout/synthetic

`big` generates the three tables once (not timed) and times the `prefect-synth report` command as a
whole (reading the Parquet, every section, both files written) with its peak RSS. `diamonds` holds
back 10 % of diamonds, trains our ACTGAN for --epochs on the rest, and runs our report and
SDMetrics' QualityReport, DCROverfittingProtection and DCRBaselineProtection on the same three
tables (SDMetrics from the ctgan peer venv). Prints JSON lines.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
PEERS = Path(os.environ.get("PEERS_HOME", Path.home() / ".cache" / "synth-peers"))
CLI = [sys.executable, "-c", "import sys; from flows.cli import main; sys.exit(main())"]


def timed(cmd: list[str]) -> dict:
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "MAXRSS_KB=%M", *cmd], capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):  # 1: a gate failed, still a full report
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    rss = [line for line in proc.stderr.splitlines() if line.startswith("MAXRSS_KB=")]
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(int(rss[-1].split("=")[1]) / 1024, 1),
            "stdout": proc.stdout}


def mixed_table(rows: int, seed: int) -> pa.Table:
    """20 columns: 8 continuous (2 with 5 % missing), 6 discrete, 4 boolean, 2 timestamps; related columns."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=rows)
    cols = {}
    for i in range(8):
        x = base * (i % 3) + rng.normal(size=rows) * (1 + i)
        if i < 2:
            x[rng.random(rows) < 0.05] = np.nan
        cols[f"num{i}"] = x
    for i in range(6):
        k = 3 + 5 * i
        cols[f"cat{i}"] = pa.array(np.char.add("c", (np.clip(base * 2 + rng.normal(size=rows), -3, 3) * k / 6
                                                     + k / 2).astype(int).astype(str)))
    for i in range(4):
        cols[f"flag{i}"] = base + rng.normal(size=rows) > i * 0.5
    start = np.datetime64("2024-01-01T00:00:00", "us")
    for i in range(2):
        cols[f"at{i}"] = start + (rng.integers(0, 365 * 86400, rows) * 10**6).astype("timedelta64[us]")
    return pa.table(cols)


def big(rows: int, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / f"{name}_{rows}.parquet" for name in ("real", "holdout", "synthetic")}
    for seed, (name, path) in enumerate(paths.items()):
        if not path.exists():
            pq.write_table(mixed_table(rows, seed), path)
    result = timed([*CLI, "report", "--real", str(paths["real"]), "--synthetic", str(paths["synthetic"]),
                    "--holdout", str(paths["holdout"]), "--out", str(out / "report_big")])
    print(json.dumps({"bench": "report", "rows": rows, "columns": 20, "wall_s": result["wall_s"],
                      "peak_rss_mb": result["peak_rss_mb"]}))


def diamonds(epochs: int, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    table = pq.read_table(ROOT / "data" / "diamonds.parquet")
    rng = np.random.default_rng(0)
    held = np.zeros(table.num_rows, dtype=bool)
    held[rng.choice(table.num_rows, table.num_rows // 10, replace=False)] = True
    train, holdout = out / "diamonds_train.parquet", out / "diamonds_holdout.parquet"
    pq.write_table(table.filter(pa.array(~held)), train)
    pq.write_table(table.filter(pa.array(held)), holdout)
    synthetic = out / f"diamonds_synthetic_{epochs}.parquet"
    if not synthetic.exists():
        subprocess.run([sys.executable, "bench/run_actgan.py", str(train), str(synthetic), "--epochs", str(epochs)],
                       check=True, cwd=ROOT, capture_output=True)
    ours = timed([*CLI, "report", "--real", str(train), "--synthetic", str(synthetic), "--holdout", str(holdout),
                  "--out", str(out / "report_diamonds")])
    report = json.loads((out / "report_diamonds" / "report.json").read_text())
    print(json.dumps({"bench": "ours", "wall_s": ours["wall_s"], "peak_rss_mb": ours["peak_rss_mb"],
                      "summary": report["summary"],
                      "reference": {k: {"holdout": v["holdout"], "independent": v["independent"]}
                                    for k, v in report["scores"].items()}}))
    peer = timed([str(PEERS / "ctgan" / "bin" / "python"), "bench/sdmetrics_report.py", str(train), str(synthetic),
                  str(holdout)])
    line = json.loads(peer["stdout"].strip().splitlines()[-1])
    print(json.dumps({"bench": "sdmetrics", "wall_s": peer["wall_s"], "peak_rss_mb": peer["peak_rss_mb"], **line}))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["big", "diamonds"])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--out", default="bench/results")
    a = p.parse_args()
    out = ROOT / a.out
    if a.what == "big":
        big(a.rows, out)
    else:
        diamonds(a.epochs, out)


if __name__ == "__main__":
    main()
