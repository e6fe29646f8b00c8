"""A month of nights, compressed: scheduled refreshes of one table, one a minute, on a real Prefect server
and process worker, a real MLflow server and an S3 server (moto), with retention on.

Before each night a new partition of the input arrives (`source.path` is a directory of hive partitions),
except on the nights given by --unchanged: those runs must skip, naming why. The deployment keeps 7
output versions (`output.keep_versions`) and 7 registered model versions (`tracking.keep_model_versions`);
checkpoints (every 5 epochs, beside the output on S3) are removed by each run that publishes.

Recorded per night: the outcome (MLflow tag `synth.outcome`, and why for a skip), the flow run's wall
time, the worker's RSS after the night and the peak RSS of the worker with its flow-run process, the
bytes held by the output versions, checkpoints and reports on S3 and by MLflow (database and artifacts),
the Prefect database's size, the counts of output and model versions, and whether the `champion` alias
names the run whose output is published.

    .venv/bin/python scripts/make_demo_data.py data      # once: data/diamonds.parquet
    .venv/bin/python bench/soak.py --nights 30 --json /tmp/soak.json > /tmp/soak.md

Prints a markdown table and the pass criteria; nothing is asserted. Needs the machine to itself for
the timings (the outcomes and sizes do not depend on it). About nights + 3 minutes.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow.fs as pafs
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.servers import BIN, free_port, start, stop, wait_http  # noqa: E402

AUTH = "synth-runner:soak-dummy-secret"
BUCKET = "soak"
PARTITION_ROWS = 1500
OUTPUT = f"s3://{BUCKET}/out/diamonds_synth.parquet"
POOL = "soak-process"
COLUMNS = ["carat", "cut", "color", "clarity", "depth", "table", "price", "x", "y", "z"]
DEPLOYMENT = "synthetic-refresh/soak-nightly"


def config(source: Path, keep: int, contract: Path | None = None) -> dict:
    """A small ACTGAN, checkpointed; a gate a 30-epoch model passes (pairs margin and detection AUC off);
    the data contract given (else inferred from the first night's data)."""
    return {"source": {"path": str(source), "sample_rows": 4000, "columns": COLUMNS},  # not the partition key
            "validation": {"contract": None if contract is None else str(contract)},
            "model": {"kind": "actgan", "epochs": 30, "seed": 0, "embedding_dim": 32, "generator_dims": [64, 64],
                      "critic_dims": [64, 64], "training": {"batch_size": 500, "checkpoint_every": 5}},
            "sample": {"num_rows": 4000},
            "report": {"bootstrap": 0, "gate": {"min_pairs_margin": None, "max_detection_auc": None}},
            "output": {"path": OUTPUT, "keep_versions": keep},
            "tracking": {"keep_model_versions": keep}}


class Stack:
    """Prefect server (basic auth), MLflow server (sqlite + artifacts folder), moto S3, one process worker."""

    def __init__(self, home: Path):
        self.home, self.processes = home, []
        prefect_port, mlflow_port, s3_port = free_port(), free_port(), free_port()
        self.api = f"http://127.0.0.1:{prefect_port}/api"
        self.mlflow = f"http://127.0.0.1:{mlflow_port}"
        self.s3 = f"http://127.0.0.1:{s3_port}"
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_", "AWS_"))}
        base.update(PATH=f"{BIN}{os.pathsep}{base.get('PATH', '')}", PYTHONUNBUFFERED="1",
                    PREFECT_HOME=str(home / "prefect-home"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
                    GX_ANALYTICS_ENABLED="false")
        self.client_env = {**base, "PREFECT_API_URL": self.api, "PREFECT_API_AUTH_STRING": AUTH,
                           "MLFLOW_TRACKING_URI": self.mlflow, "AWS_ENDPOINT_URL": self.s3,
                           "AWS_ACCESS_KEY_ID": "soak", "AWS_SECRET_ACCESS_KEY": "soak-dummy",
                           "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
                           "PREFECT_WORKER_QUERY_SECONDS": "2", "PREFECT_WORKER_PREFETCH_SECONDS": "0"}
        self.prefect_db = home / "prefect.db"
        self.mlflow_dir = home / "mlflow"
        self.mlflow_dir.mkdir()
        try:
            self._start("moto", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port)], base,
                        f"{self.s3}/moto-api/")
            self._start("prefect-server", [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1",
                                           "--port", str(prefect_port)],
                        {**base, "PREFECT_SERVER_API_AUTH_STRING": AUTH, "PREFECT_SERVER_API_PORT": str(prefect_port),
                         "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{self.prefect_db}"},
                        f"{self.api}/health")
            self._start("mlflow", [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(mlflow_port),
                                   "--workers", "1", "--backend-store-uri", f"sqlite:///{self.mlflow_dir / 'mlflow.db'}",
                                   "--artifacts-destination", str(self.mlflow_dir / "artifacts")], base,
                        f"{self.mlflow}/health")
        except BaseException:
            self.close()
            raise

    def _start(self, name: str, args: list[str], env: dict, health: str) -> subprocess.Popen:
        process = start(args, self.home / f"{name}.log", env, self.home)
        self.processes.append(process)
        wait_http(health, process, self.home / f"{name}.log")
        return process

    def worker(self) -> subprocess.Popen:
        process = start([str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--name", "soak-worker",
                         "--limit", "1"], self.home / "worker.log", self.client_env, REPO)
        self.processes.append(process)
        return process

    def close(self) -> None:
        for process in reversed(self.processes):
            stop(process)


def deploy(stack: Stack, source: Path, keep: int, interval_s: int, anchor: datetime, contract: Path | None) -> None:
    """Register the deployment the way a user does: a prefect.yaml and `prefect deploy`."""
    spec = {"name": "prefect-synth-soak", "prefect-version": "3.8.8", "build": None, "push": None,
            "pull": [{"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}],
            "deployments": [{"name": "soak-nightly", "entrypoint": "flows/refresh.py:synthetic_refresh",
                             "work_pool": {"name": POOL},
                             "schedules": [{"interval": interval_s, "anchor_date": anchor.isoformat()}],
                             "concurrency_limit": {"limit": 1, "collision_strategy": "ENQUEUE"},
                             "parameters": {"config": config(source, keep, contract)}}]}
    prefect_file = stack.home / "prefect.yaml"
    prefect_file.write_text(json.dumps(spec))  # JSON is YAML
    for args in (["work-pool", "create", POOL, "--type", "process", "--overwrite"],
                 ["--no-prompt", "deploy", "--prefect-file", str(prefect_file), "--all"]):
        done = subprocess.run([str(BIN / "prefect"), *args], env=stack.client_env, cwd=REPO, capture_output=True,
                              text=True, timeout=300)
        if done.returncode:
            raise RuntimeError(f"prefect {' '.join(args[:3])} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


def add_partition(table, source: Path, night: int) -> None:
    """Night `night`'s rows, written under a temporary name and renamed: a run never sees half a file."""
    folder = source / f"night={night:02d}"
    folder.mkdir(parents=True, exist_ok=True)
    part = table.slice((night * PARTITION_ROWS) % (table.num_rows - PARTITION_ROWS), PARTITION_ROWS)
    pq.write_table(part, folder / ".part-0.parquet.tmp")
    os.replace(folder / ".part-0.parquet.tmp", folder / "part-0.parquet")


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree(pid: int) -> list[int]:
    """`pid` and its descendants, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


class PeakRss(threading.Thread):
    """Samples the worker's process tree twice a second; `take()` returns and resets the peak (KiB)."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0, True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, sum(rss_kib(p) for p in tree(self.pid)))
            time.sleep(0.5)

    def take(self) -> int:
        peak, self.peak = self.peak, 0
        return peak


def s3_bytes(fs: pafs.FileSystem, prefix: str) -> int:
    try:
        infos = fs.get_file_info(pafs.FileSelector(prefix, recursive=True, allow_not_found=True))
    except OSError:
        return 0
    return sum(i.size or 0 for i in infos if i.type == pafs.FileType.File)


def local_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def night_record(night: int, run, stack: Stack, fs, mlflow_client, peak_kib: int, worker_pid: int,
                 partition_added: bool) -> dict:
    from synth import storage
    from tasks import tracking

    runs = mlflow_client.search_runs(mlflow_client.get_experiment_by_name("diamonds_synth").experiment_id,
                                     f"tags.`prefect.flow_run_id` = '{run.id}'")
    tags = runs[0].data.tags if runs else {}
    outcome = tags.get("synth.outcome", "none")
    current = storage.current_version(OUTPUT)
    published_run = current.metadata.get("prefect_synth.mlflow_run_id") if current else None
    try:
        champion = mlflow_client.get_model_version_by_alias("diamonds_synth", tracking.CHAMPION)
        champion_run = champion.run_id
    except Exception:  # noqa: BLE001 — no champion yet
        champion_run = None
    versions = mlflow_client.search_model_versions("name = 'diamonds_synth'")
    wall = (run.end_time - run.start_time).total_seconds() if run.start_time and run.end_time else None
    reason = ""
    if outcome == "skipped":
        reason = (f"input unchanged: data hash {tags.get('synth.data_hash', '?')[:12]} and config hash "
                  f"{tags.get('synth.config_hash', '?')} are those of the published output")
    elif outcome != "published":
        reason = (tags.get("synth.failure") or (run.state.message or ""))[:200]
    return {"night": night, "partition_added": partition_added, "flow_run": str(run.id), "state": run.state.name,
            "outcome": outcome, "reason": reason, "wall_s": wall,
            "worker_rss_mib": rss_kib(worker_pid) / 1024, "peak_rss_mib": peak_kib / 1024,
            "output_bytes": s3_bytes(fs, f"{BUCKET}/out/diamonds_synth"),
            "checkpoint_bytes": s3_bytes(fs, f"{BUCKET}/out/diamonds_synth.checkpoints"),
            "report_bytes": s3_bytes(fs, f"{BUCKET}/out/diamonds_synth.report"),
            "tracking_bytes": local_bytes(stack.mlflow_dir),
            "prefect_db_bytes": sum(p.stat().st_size for p in stack.home.glob(stack.prefect_db.name + "*")),
            "output_versions": len(storage.list_versions(OUTPUT)), "model_versions": len(versions),
            "champion_is_published": champion_run is not None and champion_run == published_run}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nights", type=int, default=30)
    parser.add_argument("--interval", type=int, default=60, help="seconds between scheduled runs")
    parser.add_argument("--keep", type=int, default=7, help="output and model versions kept")
    parser.add_argument("--unchanged", default="5,10,15,20,25,30", help="nights (from 1) with no new partition")
    parser.add_argument("--data", default=str(REPO / "data" / "diamonds.parquet"))
    parser.add_argument("--inferred-contract", action="store_true",
                        help="let the first night infer the data contract (default: one reviewed against the "
                             "whole table, as a platform team would keep in its repo)")
    parser.add_argument("--json", help="write the nightly records here too")
    args = parser.parse_args()
    unchanged = {int(n) for n in args.unchanged.split(",") if n}
    table = pq.read_table(args.data)

    with tempfile.TemporaryDirectory(prefix="synth-soak-") as home_dir:
        home = Path(home_dir)
        source = home / "source"
        add_partition(table, source, 0)  # what the table held before the first night ...
        add_partition(table, source, 1)  # ... and what arrived for it
        contract = None
        if not args.inferred_contract:
            from synth.contract import infer_contract, save_contract
            contract = home / "diamonds.contract.yaml"
            save_contract(infer_contract(table), contract)
        stack = Stack(home)
        try:
            os.environ.update({k: v for k, v in stack.client_env.items() if k.startswith(("AWS_", "MLFLOW_"))})
            from mlflow import MlflowClient
            from prefect.client.orchestration import SyncPrefectClient
            from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
            from prefect.client.schemas.sorting import FlowRunSort

            fs = pafs.S3FileSystem(endpoint_override=stack.s3.removeprefix("http://"), scheme="http",
                                   access_key="soak", secret_key="soak-dummy", allow_bucket_creation=True)
            fs.create_dir(BUCKET)
            anchor = (datetime.now(timezone.utc) + timedelta(seconds=60)).replace(microsecond=0)
            deploy(stack, source, args.keep, args.interval, anchor, contract)
            worker = stack.worker()
            peak = PeakRss(worker.pid)
            peak.start()
            mlflow_client = MlflowClient(stack.mlflow)
            records = []
            with SyncPrefectClient(stack.api, auth_string=AUTH) as client:
                deployment = client.read_deployment_by_name(DEPLOYMENT)
                by_deployment = DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
                schedule = []  # the nights: the scheduler's runs of the deployment, in order
                while len(schedule) < args.nights:
                    time.sleep(2)
                    schedule = sorted(r.expected_start_time for r in client.read_flow_runs(
                        deployment_filter=by_deployment,
                        sort=FlowRunSort.EXPECTED_START_TIME_ASC, limit=args.nights))
                for night in range(1, args.nights + 1):
                    expected = schedule[night - 1]
                    added = night not in unchanged
                    if added and night > 1:  # the new partition lands before the night's run is due
                        add_partition(table, source, night)
                    late = datetime.now(timezone.utc) > expected
                    run = None
                    deadline = time.monotonic() + 30 * args.interval
                    while time.monotonic() < deadline:
                        runs = client.read_flow_runs(deployment_filter=by_deployment,
                                                     sort=FlowRunSort.EXPECTED_START_TIME_ASC, limit=args.nights + 5)
                        due = [r for r in runs if r.expected_start_time and
                               abs((r.expected_start_time - expected).total_seconds()) < 1]
                        if due and due[0].state and due[0].state.is_final():
                            run = due[0]
                            break
                        time.sleep(2)
                    if run is None:
                        raise RuntimeError(f"night {night}: no finished run scheduled at {expected} "
                                           f"(see {home}/worker.log)")
                    record = night_record(night, run, stack, fs, mlflow_client, peak.take(), worker.pid, added)
                    record["partition_late"] = late
                    records.append(record)
                    print(json.dumps(record), file=sys.stderr, flush=True)
                client.pause_deployment(deployment.id)
            peak.running = False
        finally:
            stack.close()
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1))
    print_summary(records, args.keep)


def print_summary(records: list[dict], keep: int) -> None:
    mib = 1024 * 1024
    print("| night | new partition | outcome | wall s | worker RSS MiB | peak RSS MiB | outputs MiB | "
          "checkpoints MiB | tracking MiB | Prefect DB MiB | output versions | model versions | champion = published |")
    print("|---:|:---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|")
    for r in records:
        print(f"| {r['night']} | {'yes' if r['partition_added'] else 'no'} | {r['outcome']} | "
              f"{r['wall_s']:.1f} | {r['worker_rss_mib']:.0f} | {r['peak_rss_mib']:.0f} | "
              f"{r['output_bytes'] / mib:.2f} | {r['checkpoint_bytes'] / mib:.2f} | {r['tracking_bytes'] / mib:.2f} | "
              f"{r['prefect_db_bytes'] / mib:.1f} | {r['output_versions']} | {r['model_versions']} | "
              f"{'yes' if r['champion_is_published'] else 'NO'} |")
    settled = records[keep + 1:]  # after the retention window has filled
    ok_outcome = all(r["outcome"] == "published" or (r["outcome"] == "skipped" and r["reason"]) for r in records)
    skipped_right = all((r["outcome"] == "skipped") == (not r["partition_added"]) for r in records)
    print()
    print(f"- every night published or skipped with a reason: {ok_outcome}; skipped exactly the unchanged "
          f"nights: {skipped_right}")
    print(f"- champion = the published output's run, every night: {all(r['champion_is_published'] for r in records)}")
    if settled:
        for key in ("output_bytes", "checkpoint_bytes", "tracking_bytes", "prefect_db_bytes"):
            values = [r[key] / mib for r in settled]
            print(f"- {key} after night {keep + 1}: min {min(values):.2f} MiB, max {max(values):.2f} MiB, "
                  f"first {values[0]:.2f}, last {values[-1]:.2f}")
        for key in ("worker_rss_mib", "peak_rss_mib"):
            values = [r[key] for r in settled]
            print(f"- {key} after night {keep + 1}: min {min(values):.0f}, max {max(values):.0f}, "
                  f"first {values[0]:.0f}, last {values[-1]:.0f}")
        walls = sorted(r["wall_s"] for r in records if r["wall_s"] is not None)
        print(f"- wall time per night: median {walls[len(walls) // 2]:.1f} s, max {walls[-1]:.1f} s")


if __name__ == "__main__":
    main()
