"""An input larger than memory should be comfortable with: 20M rows × 12 mixed columns, through the
functions the refresh flow's tasks run, with the wall time and peak memory of every stage.

  python bench/bench_large.py                           # 20,000,000 rows (the documented run)
  python bench/bench_large.py --rows 200000 --sample-rows 20000   # a smoke run, well under a minute

Stages, in one process (the data is generated beforehand by a child process, so it is not counted):
ingest (`tasks.ingest.read_input`: a uniform sample of --sample-rows drawn while the input streams by
in record batches, every batch checked, the data hash computed column by column), infer the contract
(`tasks.validate.resolve_contract`, first run only: every batch), validate
(`tasks.validate.check_input`, scope full: every batch checked with pyarrow.compute, Great
Expectations on the sample), hold out (the flow's 10 %),
train ACTGAN (`tasks.train.synth_model`, --epochs), sample (`tasks.sample.write_synthetic`: --rows
synthetic rows in chunks of --chunk-rows to a staged file, then renamed over the output) and, unless
--no-report, the report on the kept rows. Per stage: wall seconds, peak RSS within the stage (Linux
`/proc/self/clear_refs` resets the high-water mark before each stage; VmHWM read after) and RSS at
its end. The run's peak is the largest stage peak (resetting VmHWM resets ru_maxrss too). Prints
one JSON line per stage, then a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
GENERATE_ROWS = 1_000_000  # rows per row group (and per generation step) of the input


# ---------------------------------------------------------------- the input


def make_part(rows: int, seed: int) -> pa.Table:
    """12 columns: int32, int64, 2 float64 (one with 5 % nulls), float32, a dictionary (5 values), strings
    of 40 and of 600 values (binary-coded by ACTGAN), 2 booleans (one with nulls), 2 timestamps."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 91, rows).astype(np.int32)
    income = np.exp(rng.normal(10 + (age - 18) / 80, 0.5))
    segments = pa.array(["basic", "plus", "pro", "team", "enterprise"])
    regions = pa.array([f"region-{i:02d}" for i in range(40)])
    products = pa.array([f"product-{i:03d}" for i in range(600)])
    start = np.datetime64("2020-01-01T00:00:00", "us")
    signup = start + rng.integers(0, 4 * 365 * 86_400, rows).astype("timedelta64[s]").astype("timedelta64[us]")
    return pa.table({
        "age": age,
        "visits": rng.poisson(3 + (age % 7), rows).astype(np.int64),
        "income": pa.array(np.round(income, 2), mask=rng.random(rows) < 0.05),
        "score": np.where(rng.random(rows) < 0.3, rng.normal(-2, 0.5, rows), rng.normal(1, 1, rows)),
        "ratio": rng.beta(2, 5, rows).astype(np.float32),
        "segment": pa.DictionaryArray.from_arrays(pa.array(rng.choice(5, rows, p=[.4, .3, .15, .1, .05]),
                                                           pa.int32()), segments),
        "region": pa.DictionaryArray.from_arrays(pa.array(np.minimum(rng.zipf(1.6, rows) - 1, 39), pa.int32()),
                                                 regions).cast(pa.string()),
        "product": pa.DictionaryArray.from_arrays(pa.array(rng.integers(0, 600, rows), pa.int32()),
                                                  products).cast(pa.string()),
        "active": rng.random(rows) < 0.6,
        "verified": pa.array(rng.random(rows) < 0.8, mask=rng.random(rows) < 0.03),
        "signup_at": pa.array(signup, pa.timestamp("us", tz="UTC")),
        "last_seen": pa.array((signup + rng.integers(0, 86_400_000, rows).astype("timedelta64[ms]"))
                              .astype("datetime64[ms]")),
    })


def generate(rows: int, path: Path) -> None:
    """Write `rows` rows in row groups of GENERATE_ROWS, one at a time (never the whole table)."""
    tmp = path.with_name(path.name + ".tmp")
    with pq.ParquetWriter(tmp, make_part(1, 0).schema) as writer:
        for index, start in enumerate(range(0, rows, GENERATE_ROWS)):
            writer.write_table(make_part(min(GENERATE_ROWS, rows - start), seed=index))
    os.replace(tmp, path)


# ---------------------------------------------------------------- measuring


def _status(key: str) -> int:
    """VmHWM or VmRSS of this process, in kB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


class Stages:
    def __init__(self):
        self.rows: list[dict] = []

    def run(self, name: str, fn, *args, **kwargs):
        resettable = _reset_peak()
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        row = {"stage": name, "wall_s": round(time.perf_counter() - start, 1),
               "peak_rss_mb": round(_status("VmHWM") / 1024) if resettable else None,
               "rss_after_mb": round(_status("VmRSS") / 1024)}
        self.rows.append(row)
        print(json.dumps(row), flush=True)
        return result


# ---------------------------------------------------------------- the stages


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=20_000_000, help="input rows, and synthetic rows written")
    p.add_argument("--sample-rows", type=int, default=1_000_000, help="training sample (source.sample_rows)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=500, help="ACTGAN training batch (rows)")
    p.add_argument("--chunk-rows", type=int, default=200_000, help="synthetic rows per chunk (sample.chunk_rows)")
    p.add_argument("--batch-rows", type=int, default=131_072, help="rows per record batch (source.batch_rows)")
    p.add_argument("--data-dir", default="/tmp", help="where the input and outputs go (never the repository)")
    p.add_argument("--no-report", action="store_true", help="skip the report stage")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    data_dir = Path(a.data_dir).resolve()
    if data_dir == ROOT or ROOT in data_dir.parents:
        p.error(f"--data-dir {data_dir} is inside the repository; use a folder outside it (default /tmp)")
    work = data_dir / "prefect-synth-bench-large"
    work.mkdir(parents=True, exist_ok=True)
    source = work / f"input_{a.rows}.parquet"
    if not source.exists():
        start = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--generate-into", str(source), "--rows", str(a.rows)],
                       check=True)
        print(json.dumps({"generated": str(source), "rows": a.rows, "wall_s": round(time.perf_counter() - start, 1),
                          "bytes": source.stat().st_size}), flush=True)
    run(a, source, work)


def run(a: argparse.Namespace, source: Path, work: Path) -> None:
    import torch

    from tasks.kinds.actgan import ActganModelConfig
    from synth.contract import save_contract
    from synth.storage import publish_staged
    from synth.split import split_holdout
    from tasks.ingest import read_input
    from tasks.sample import write_synthetic
    from tasks.train import synth_model
    from tasks.validate import check_input, resolve_contract

    torch.set_num_threads(a.threads)
    output = work / "synthetic.parquet"
    contract = work / "contract.yaml"
    stages = Stages()
    data = stages.run("ingest: uniform sample, checks, data hash", read_input, str(source),
                      sample_rows=a.sample_rows, seed=0, batch_rows=a.batch_rows)
    inferred, _, _ = stages.run("infer the contract (first run only)", resolve_contract, data.table, None,
                                str(output), data.source, a.batch_rows)
    save_contract(inferred, contract)
    checked = stages.run("validate, scope full", check_input, data.table, str(contract), str(output), "full",
                         data.source, a.batch_rows)
    assert checked.success, [f.line() for f in checked.failures]
    train_table, holdout = stages.run("hold out 10 %", split_holdout, data.table, 0.1, 0)
    del data
    config = ActganModelConfig(epochs=a.epochs, training={"batch_size": a.batch_size, "device": "cpu"})
    model = stages.run("train ACTGAN", synth_model(config).fit, train_table)
    staged = stages.run("sample and write", write_synthetic, model, a.rows, 0, str(output),
                        {"prefect_synth.model_kind": "actgan"}, chunk_rows=a.chunk_rows, keep_rows=50_000)
    stages.run("publish (rename)", publish_staged, staged.path, str(output))
    if not a.no_report:
        from synth.fidelity import build_report
        stages.run("report (50,000 rows a side)", build_report, train_table, staged.kept, holdout,
                   max_rows=50_000, bootstrap=20, seed=0)
    written = pq.ParquetFile(output).metadata
    # clear_refs resets ru_maxrss along with VmHWM: the run's peak is the largest stage peak
    peak = max([resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]
               + [r["peak_rss_mb"] or 0 for r in stages.rows])
    summary = {"rows": a.rows, "sample_rows": a.sample_rows, "epochs": a.epochs, "written_rows": written.num_rows,
               "row_groups": written.num_row_groups, "validated_rows": checked.rows,
               "total_s": round(sum(r["wall_s"] for r in stages.rows), 1), "peak_rss_mb": round(peak)}
    print(json.dumps(summary), flush=True)
    print("\n| stage | wall (s) | peak RSS in stage (MB) | RSS after (MB) |\n|---|---|---|---|")
    for r in stages.rows:
        print(f"| {r['stage']} | {r['wall_s']} | {r['peak_rss_mb']} | {r['rss_after_mb']} |")
    print(f"| **whole run** | **{summary['total_s']}** | **{summary['peak_rss_mb']}** | |")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--generate-into":
        generate(int(sys.argv[sys.argv.index("--rows") + 1]), Path(sys.argv[2]))
    else:
        main()
