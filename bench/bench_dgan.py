"""DGAN (ours) against gretel-synthetics 0.22.20 DGAN on the weather series, side by side in one run.

  python bench/bench_dgan.py [--epochs 25,75] [--repeats 3] [--judge-epochs 400]
      [--ttq-epochs 150] [--ttq-args "--batch-size 1000"] [--out bench/results]

Per-epoch time is (fit_s(E2) - fit_s(E1)) / (E2 - E1) per repeat, so fixed costs cancel; the two
models alternate so machine noise hits both alike. Then both train --judge-epochs epochs with their
defaults (equal epochs), ours also trains --ttq-epochs with --ttq-args (time to quality), and
../shared/peers/judge.py scores every output. Needs ../shared/peers/setup.sh first. Prints a
markdown table and writes the raw JSON to --out.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "peers"
PEERS = Path(os.environ.get("PEERS_HOME", Path.home() / ".cache" / "synth-peers"))
COLUMNS = ["--example-id", "station_day", "--time", "hour", "--attributes", "origin,month",
           "--features", "temp,dewp,humid,wind_speed,precip,visib"]
SHAPE = ["--max-seq-len", "24", "--sample-len", "4"]
METRICS = (("feature_ks_complement", "feature 1-KS", 1), ("sequence_stats_ks_complement", "sequence mean/std 1-KS", 1),
           ("acf_mae", "ACF error", -1), ("attr_tv_complement", "attribute 1-TV", 1),
           ("feature_corr_mae", "feature-correlation error", -1))


def run(cmd: list[str]) -> dict:
    proc = subprocess.run(["/usr/bin/time", "-f", "MAXRSS_KB=%M", *cmd], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    result = json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])
    rss = [line for line in proc.stderr.splitlines() if line.startswith("MAXRSS_KB=")]
    result["peak_rss_mb"] = round(int(rss[-1].split("=")[1]) / 1024, 1)
    return result


def ours(data: Path, out: Path, epochs: int, extra: list[str] = ()) -> dict:
    return run([sys.executable, "bench/run_dgan.py", str(data), str(out), "--epochs", str(epochs), *extra])


def gretel(data: Path, out: Path, epochs: int) -> dict:
    return run([str(PEERS / "dgan" / "bin" / "python"), str(SHARED / "peer_dgan.py"), str(data), str(out),
                *COLUMNS, *SHAPE, "--epochs", str(epochs)])


def judge(real: Path, synthetic: Path) -> dict:
    proc = subprocess.run([str(PEERS / "ctgan" / "bin" / "python"), str(SHARED / "judge.py"), "series", str(real),
                           str(synthetic), *COLUMNS], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="data/weather.parquet")
    p.add_argument("--epochs", default="25,75")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--judge-epochs", type=int, default=400)
    p.add_argument("--ttq-epochs", type=int, default=150)
    p.add_argument("--ttq-args", default="")
    p.add_argument("--out", default="bench/results")
    a = p.parse_args()
    e1, e2 = (int(x) for x in a.epochs.split(","))
    data, out = ROOT / a.data, ROOT / a.out
    out.mkdir(parents=True, exist_ok=True)
    models = {"gretel": gretel, "ours": ours}
    rows: dict[str, list[dict]] = {name: [] for name in models}
    for rep in range(a.repeats):
        for name, fn in models.items():
            r1, r2 = fn(data, out / f"dgan_{name}_{e1}.parquet", e1), fn(data, out / f"dgan_{name}_{e2}.parquet", e2)
            per_epoch = (r2["fit_s"] - r1["fit_s"]) / (e2 - e1)
            rows[name].append({"per_epoch_s": per_epoch, "peak_rss_mb": max(r1["peak_rss_mb"], r2["peak_rss_mb"]),
                               "runs": [r1, r2]})
            print(f"repeat {rep + 1} {name}: {per_epoch:.3f} s/epoch", file=sys.stderr, flush=True)
    scores = {}
    if a.judge_epochs:
        for name, fn in models.items():
            synthetic = out / f"dgan_{name}_judge_{a.judge_epochs}.parquet"
            fit = fn(data, synthetic, a.judge_epochs)
            scores[f"{name}, {a.judge_epochs} epochs, defaults"] = {**judge(data, synthetic), "fit_s": fit["fit_s"]}
    if a.ttq_epochs:
        synthetic = out / f"dgan_ours_ttq_{a.ttq_epochs}.parquet"
        fit = ours(data, synthetic, a.ttq_epochs, a.ttq_args.split())
        label = f"ours, {a.ttq_epochs} epochs{', ' + a.ttq_args if a.ttq_args else ', defaults'}"
        scores[label] = {**judge(data, synthetic), "fit_s": fit["fit_s"]}
    (out / "dgan_vs_gretel.json").write_text(json.dumps({"rows": rows, "scores": scores}, indent=1))
    print(table(rows, scores))


def table(rows: dict, scores: dict) -> str:
    med = {k: {m: statistics.median(r[m] for r in v) for m in ("per_epoch_s", "peak_rss_mb")} for k, v in rows.items()}
    lines = ["| measure (median) | gretel 0.22.20 | ours | ours / gretel |", "|---|---|---|---|"]
    for m, label in (("per_epoch_s", "time per epoch (s)"), ("peak_rss_mb", "peak RSS (MB)")):
        lines.append(f"| {label} | {med['gretel'][m]:.3f} | {med['ours'][m]:.3f} | "
                     f"{med['ours'][m] / med['gretel'][m]:.2f} |")
    if scores:
        lines += ["", "| run | fit (s) | " + " | ".join(label for _, label, _ in METRICS) + " |",
                  "|---|---|" + "---|" * len(METRICS)]
        for name, s in scores.items():
            lines.append(f"| {name} | {s['fit_s']:.1f} | " + " | ".join(f"{s[k]:.4f}" for k, _, _ in METRICS) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
