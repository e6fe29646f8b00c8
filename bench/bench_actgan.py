"""ACTGAN (ours) against sdv-dev CTGAN 0.12.1 on diamonds, side by side in one run.

  python bench/bench_actgan.py [--epochs 3,6] [--repeats 3] [--judge-epochs 0] [--out bench/results]

Per-epoch time is (fit_s(E2) - fit_s(E1)) / (E2 - E1) for each repeat, so fixed costs cancel; runs
alternate between the two models so machine noise hits both alike. Peak RSS comes from each run's
own process (the peer's through /usr/bin/time). With --judge-epochs N, both models also train N
epochs and ../shared/peers/judge.py scores their output. Needs ../shared/peers/setup.sh first.
Prints a markdown table and writes the raw JSON lines to --out.
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
PEER_PY = PEERS / "ctgan" / "bin" / "python"


def run(cmd: list[str]) -> dict:
    wrapped = ["/usr/bin/time", "-f", "MAXRSS_KB=%M", *cmd]
    proc = subprocess.run(wrapped, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    result = json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])
    rss = [line for line in proc.stderr.splitlines() if line.startswith("MAXRSS_KB=")]
    result["peak_rss_mb"] = round(int(rss[-1].split("=")[1]) / 1024, 1)
    return result


def ours(data: Path, out: Path, epochs: int, extra: list[str]) -> dict:
    return run([sys.executable, "bench/run_actgan.py", str(data), str(out), "--epochs", str(epochs), *extra])


def peer(data: Path, out: Path, epochs: int) -> dict:
    return run([str(PEER_PY), str(SHARED / "peer_ctgan.py"), str(data), str(out), "--epochs", str(epochs)])


def judge(real: Path, synthetic: Path) -> dict:
    proc = subprocess.run([str(PEER_PY), str(SHARED / "judge.py"), "table", str(real), str(synthetic)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="data/diamonds.parquet")
    p.add_argument("--epochs", default="3,6")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--judge-epochs", type=int, default=0)
    p.add_argument("--ours-args", default="", help="extra arguments for bench/run_actgan.py")
    p.add_argument("--out", default="bench/results")
    a = p.parse_args()
    e1, e2 = (int(x) for x in a.epochs.split(","))
    data, out = ROOT / a.data, ROOT / a.out
    out.mkdir(parents=True, exist_ok=True)
    extra = a.ours_args.split()
    rows: dict[str, list[dict]] = {"ours": [], "ctgan": []}
    for rep in range(a.repeats):
        for name, fn in (("ctgan", peer), ("ours", lambda d, o, e: ours(d, o, e, extra))):
            r1 = fn(data, out / f"{name}_{e1}.parquet", e1)
            r2 = fn(data, out / f"{name}_{e2}.parquet", e2)
            per_epoch = (r2["fit_s"] - r1["fit_s"]) / (e2 - e1)
            rows[name].append({"per_epoch_s": per_epoch, "transform_fit_s": r2["transform_fit_s"],
                               "peak_rss_mb": max(r1["peak_rss_mb"], r2["peak_rss_mb"]),
                               "sample_s": r2["sample_s"], "runs": [r1, r2]})
            print(f"repeat {rep + 1} {name}: {per_epoch:.2f} s/epoch", file=sys.stderr, flush=True)
    scores = {}
    if a.judge_epochs:
        for name, fn in (("ctgan", peer), ("ours", lambda d, o, e: ours(d, o, e, extra))):
            synthetic = out / f"{name}_judge_{a.judge_epochs}.parquet"
            fit = fn(data, synthetic, a.judge_epochs)
            scores[name] = {**judge(data, synthetic), "fit_s": fit["fit_s"]}
    (out / "actgan_vs_ctgan.json").write_text(json.dumps({"rows": rows, "scores": scores}, indent=1))
    print(table(rows, scores, a.judge_epochs))


def table(rows: dict, scores: dict, judge_epochs: int) -> str:
    med = {k: {m: statistics.median(r[m] for r in v) for m in ("per_epoch_s", "transform_fit_s", "peak_rss_mb",
                                                                "sample_s")} for k, v in rows.items()}
    lines = ["| measure (median) | ctgan 0.12.1 | ours | ours / ctgan |", "|---|---|---|---|"]
    for m, label in (("per_epoch_s", "time per epoch (s)"), ("transform_fit_s", "transformer fit (s)"),
                     ("sample_s", "sample all rows (s)"), ("peak_rss_mb", "peak RSS (MB)")):
        lines.append(f"| {label} | {med['ctgan'][m]:.2f} | {med['ours'][m]:.2f} | "
                     f"{med['ours'][m] / med['ctgan'][m]:.2f} |")
    for name, s in scores.items():
        lines.append(f"| judge after {judge_epochs} epochs, {name} | quality {s['quality']:.4f} "
                     f"(shapes {s['column_shapes']:.4f}, pairs {s['column_pair_trends']:.4f}) | fit {s['fit_s']:.0f} s | |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
