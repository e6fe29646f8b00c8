"""Per-epoch time of our ACTGAN against sdv-dev CTGAN 0.12.1 at equal work, from each epoch's own clock.

  python bench/bench_epoch_ratio.py [--data NARROW.parquet] [--epochs 8] [--repeats 5]
      [--arm NAME="--run_actgan args" ...] [--out bench/results]

Each repeat trains every arm once for --epochs epochs (batch 500, 2 threads, no model selection),
rotating the order between repeats so that a slow spell of this shared machine hits each arm alike.
An arm's figure for a repeat is the median of its epochs 2..N (ours: the model's own history;
ctgan: bench/peer_ctgan_timed.py). Reports, per arm, the median over repeats and the median of the
per-repeat ratios to ctgan (each ratio from runs made minutes apart, not hours).
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
PEERS = Path(os.environ.get("PEERS_HOME", Path.home() / ".cache" / "synth-peers"))


def run(cmd: list[str]) -> dict:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--arm", action="append", default=[],
                   help='NAME="extra bench/run_actgan.py arguments"; default: ours="" only')
    p.add_argument("--out", default="bench/results")
    a = p.parse_args()
    out = ROOT / a.out
    out.mkdir(parents=True, exist_ok=True)
    arms = dict(arm.split("=", 1) for arm in a.arm) or {"ours": ""}

    def command(name: str) -> list[str]:
        if name == "ctgan":
            return [str(PEERS / "ctgan" / "bin" / "python"), "bench/peer_ctgan_timed.py", a.data,
                    "--epochs", str(a.epochs)]
        return [sys.executable, "bench/run_actgan.py", a.data, str(out / f"{name}.parquet"),
                "--epochs", str(a.epochs), *arms[name].split()]

    names = ["ctgan", *arms]
    runs: dict[str, list[dict]] = {name: [] for name in names}
    for rep in range(a.repeats):
        order = names[rep % len(names):] + names[:rep % len(names)]
        for name in order:
            runs[name].append(run(command(name)))
        line = ", ".join(f"{n} {runs[n][-1]['epoch_s_median']:.3f}" for n in names)
        print(f"repeat {rep + 1} (s/epoch): {line}", file=sys.stderr, flush=True)
    (out / "epoch_ratio.json").write_text(json.dumps(runs, indent=1))
    print(table(runs, a.epochs))


def table(runs: dict[str, list[dict]], epochs: int) -> str:
    ctgan = [r["epoch_s_median"] for r in runs["ctgan"]]
    lines = [f"| arm | s/epoch, median of repeats | per-repeat ratios to ctgan | median ratio |",
             "|---|---|---|---|"]
    for name, rs in runs.items():
        secs = [r["epoch_s_median"] for r in rs]
        ratios = [s / c for s, c in zip(secs, ctgan)]
        lines.append(f"| {name} | {statistics.median(secs):.3f} | {', '.join(f'{x:.2f}' for x in ratios)} | "
                     f"**{statistics.median(ratios):.2f}** |")
    return "\n".join(lines) + f"\n\n({len(ctgan)} repeats of {epochs} epochs; epochs 2..{epochs} per run)"


if __name__ == "__main__":
    main()
