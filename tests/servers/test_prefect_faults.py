"""Faults around a real Prefect server on loopback (issue 17): the node that runs a refresh dies, the
server restarts under a running refresh, a run keeps crashing.

The module has a Prefect server of its own (the shared `stack` keeps running for the other modules): it
is restarted here, and it runs as deployments/prefect.yaml asks of a production server, its
concurrency leases on disk. scripts/deploy.sh registers the deployments and the recovery automations
(flows/recovery.py) on it, with a heartbeat grace of GRACE_S; its process workers send a heartbeat
every 30 s and lease a dataset's slot for LEASE_S, the shortest the API allows. MLflow is a sqlite
store the runs share.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.client.schemas.objects import StateType
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.states import Crashed, Pending, Running

from flows.locks import lock_name
from flows.recovery import RETRY, ZOMBIE, RecoverySettings, apply
from synth.checkpoint import latest_checkpoint
from tasks.config import parse_config
from tasks.tracking import registered_name
from tests.support.pipeline import TINY_MODEL, mixed_table
from tests.support.servers import BIN, REPO, RUN_TIMEOUT_S, free_port, start, stop, wait_http

pytestmark = pytest.mark.slow

GRACE_S = 90  # no heartbeat for this long: Crashed (3 heartbeats at Prefect's shortest interval, 30 s)
LEASE_S = 60  # the dataset slot's lease; a dead run's slot is free again this long after its last renewal
CRASH_RETRIES = 2  # scripts/deploy.sh's default
FILE_LEASES = "prefect.server.concurrency.lease_storage.filesystem"


@dataclass
class PrefectServer:
    """A Prefect server on a fixed port, database and home, which a test may kill and start again."""

    home: Path
    port: int
    env: dict  # what its clients (deploy.sh, workers and their runs) have in their environment
    process: subprocess.Popen | None = None
    workers: list = field(default_factory=list)
    starts: int = 0

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> None:
        self.starts += 1
        log = self.home / f"prefect-server-{self.starts}.log"
        server_env = {k: v for k, v in self.env.items() if k != "PREFECT_API_URL"}
        server_env.update(PREFECT_SERVER_API_PORT=str(self.port), PREFECT_SERVER_UI_ENABLED="false",
                          PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE=FILE_LEASES,
                          PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS="5")
        self.process = start([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port",
                              str(self.port)], log, server_env, self.home)
        wait_http(f"{self.api}/health", self.process, log)

    def kill(self) -> None:
        """SIGKILL, the server and its children at once: nothing of it gets to clean up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def worker(self, name: str, **env) -> subprocess.Popen:
        process = start([str(BIN / "prefect"), "worker", "start", "--pool", "local-process", "--name", name,
                         "--limit", "1"], self.home / f"worker-{name}.log", {**self.env, **env}, REPO)
        self.workers.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.home.glob("*.log")))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("prefect-faults")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_", "SYNTH_"))}
    port = free_port()
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", PREFECT_HOME=str(home / "prefect"),
               PREFECT_API_URL=f"http://127.0.0.1:{port}/api", PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{home / 'prefect.db'}",
               PREFECT_WORKER_QUERY_SECONDS="2", PREFECT_WORKER_PREFETCH_SECONDS="0",
               PREFECT_FLOWS_HEARTBEAT_FREQUENCY="30", SYNTH_DATASET_LOCK_LEASE_SECONDS=str(LEASE_S),
               MLFLOW_TRACKING_URI=f"sqlite:///{home / 'mlflow.db'}", GX_ANALYTICS_ENABLED="false",
               PYTHONUNBUFFERED="1")
    prefect = PrefectServer(home, port, env)
    try:
        prefect.start()
        deploy = subprocess.run([str(REPO / "scripts" / "deploy.sh")], cwd=REPO, capture_output=True, text=True,
                                timeout=300, env={**env, "SYNTH_HEARTBEAT_GRACE_SECONDS": str(GRACE_S)})
        assert deploy.returncode == 0, f"deploy.sh failed:\n{deploy.stdout[-3000:]}\n{deploy.stderr[-3000:]}"
        assert "created automation 'prefect-synth: retry crashed runs'" in deploy.stdout
        assert "in memory" not in deploy.stderr  # the leases are on disk: no warning
        yield prefect
    finally:
        for worker in prefect.workers:
            if worker.poll() is None:
                _kill_node(worker)  # its runs' processes too: each runs in a session of its own
        if prefect.process is not None:
            stop(prefect.process)


@pytest.fixture(scope="module")
def client(server):
    with SyncPrefectClient(server.api) as client:
        yield client


@dataclass
class Refresh:
    """One refresh's config (a deployment parameter) and where it leaves things."""

    config: dict
    output: Path
    checkpoints: Path
    dataset: str
    mlflow: MlflowClient

    def checkpoint_epoch(self) -> int:
        try:
            found = latest_checkpoint(self.checkpoints)
        except Exception:  # read mid-replace: again on the next poll
            return 0
        return found[0] if found else 0


def _refresh(server, tmp_path: Path, name: str, epochs: int, **training) -> Refresh:
    source, output = tmp_path / "in.parquet", tmp_path / "out" / f"{name}.parquet"
    pq.write_table(mixed_table(2000), source)  # 20 steps an epoch: about a tenth of a second
    training = {"batch_size": 100, "checkpoint_every": 5, "eval_every": 0, **training}
    model = {**TINY_MODEL, "epochs": epochs, "training": training}
    config = {"source": {"path": str(source)}, "model": model, "output": {"path": str(output)},
              "report": {"gate": {"enabled": False}, "bootstrap": 0}}
    dataset = registered_name(parse_config(config))
    mlflow = MlflowClient(server.env["MLFLOW_TRACKING_URI"])
    mlflow.create_experiment(dataset, artifact_location=str(tmp_path / "mlflow-artifacts"))  # not in the repo
    return Refresh(config, output, output.with_suffix(".checkpoints"), dataset, mlflow)


def _start(client, refresh: Refresh):
    deployment = client.read_deployment_by_name("synthetic-refresh/diamonds-nightly")
    return client.create_flow_run_from_deployment(deployment.id, parameters={"config": refresh.config})


def _wait(condition: Callable[[], object], timeout_s: float, what: str, server: PrefectServer, every_s: float = 0.1):
    deadline = time.monotonic() + timeout_s
    while not (found := condition()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s\n{server.logs()}"
        time.sleep(every_s)
    return found


def _wait_settled(client, run_id, server: PrefectServer):
    """The run once final for good: a Crashed attempt within the retries is about to be scheduled again."""
    def settled():
        run = client.read_flow_run(run_id)
        crashed_to_retry = run.state.is_crashed() and run.run_count <= CRASH_RETRIES
        return run if run.state.is_final() and not crashed_to_retry else None
    return _wait(settled, RUN_TIMEOUT_S, f"flow run {run_id} final", server, every_s=1)


def _descendants(pid: int) -> list[int]:
    """Every process below `pid`, from /proc (the flow run's process starts in a session of its own)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (OSError, ValueError):
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        found.extend(kids := children.get(todo.pop(), []))
        todo.extend(kids)
    return found


def _kill_node(worker: subprocess.Popen) -> None:
    """SIGKILL a worker and every process it started, as when their machine dies."""
    doomed = [worker.pid, *_descendants(worker.pid)]
    for pid in doomed:
        try:
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    worker.wait()
    _wait_gone(doomed)


def _wait_gone(pids: list[int]) -> None:
    deadline = time.monotonic() + 30
    while [pid for pid in pids if Path(f"/proc/{pid}").exists()
           and Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]:
        assert time.monotonic() < deadline, "processes outlived SIGKILL"
        time.sleep(0.1)


def _log_lines(client, run_id, text: str) -> list[str]:
    """The run's log lines that contain `text` (read page by page: the server's text search fails on sqlite)."""
    found, offset = [], 0
    while page := client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])), limit=200,
                                   offset=offset):
        found += [log.message for log in page if text in log.message]
        offset += len(page)
    return found


def _slots(client, refresh: Refresh) -> tuple[int, int]:
    """Active slots of the dataset's limit (0 before the run creates it) and of the deployment's limit."""
    try:
        dataset = client.read_global_concurrency_limit_by_name(lock_name(refresh.dataset)).active_slots
    except ObjectNotFound:
        dataset = 0
    deployment = client.read_deployment_by_name("synthetic-refresh/diamonds-nightly").global_concurrency_limit
    return dataset, deployment.active_slots


def _published_once(client, run, refresh: Refresh) -> str:
    """The output, one MLflow run of this flow run, one registered model version: the MLflow run id."""
    [mlrun] = refresh.mlflow.search_runs([refresh.mlflow.get_experiment_by_name(refresh.dataset).experiment_id],
                                         filter_string=f"tags.`prefect.flow_run_id` = '{run.id}'")
    assert mlrun.info.status == "FINISHED" and mlrun.data.tags["synth.outcome"] == "published"
    [version] = refresh.mlflow.search_model_versions(f"name = '{refresh.dataset}'")
    assert version.run_id == mlrun.info.run_id
    assert pq.read_metadata(refresh.output).metadata[b"prefect_synth.mlflow_run_id"].decode() == mlrun.info.run_id
    stem = refresh.dataset  # the output, its report and inferred contract; no staged file, no checkpoint
    assert sorted(p.name for p in refresh.output.parent.iterdir()) == [
        f"{stem}.contract.yaml", f"{stem}.parquet", f"{stem}.report"]
    return mlrun.info.run_id


def test_a_node_lost_mid_training_is_crashed_rescheduled_and_resumes_from_its_checkpoint(server, client, tmp_path):
    refresh = _refresh(server, tmp_path, "lost_node", epochs=60)
    first = server.worker("node-1")
    run = _start(client, refresh)
    _wait(lambda: refresh.checkpoint_epoch() >= 10, 300, "a checkpoint of epoch 10", server)
    _kill_node(first)
    killed_at = refresh.checkpoint_epoch()
    assert killed_at < 60, "trained to the end before the kill: make the epochs slower"
    assert client.read_flow_run(run.id).state.is_running()  # nothing told the server
    server.worker("node-2")  # the pool's other machine

    # the dead run's dataset slot comes free by itself once its lease has expired
    _wait(lambda: _slots(client, refresh)[0] == 0, LEASE_S + 30, "the dead run's dataset slot freed", server,
          every_s=0.5)
    run = _wait_settled(client, run.id, server)
    assert run.state.is_completed(), server.logs()

    states = client.read_flow_run_states(run.id)
    assert [s.name for s in states if s.type in (StateType.CRASHED, StateType.SCHEDULED)][-2:] == [
        "Crashed", "AwaitingRetry"]
    [crashed] = [s for s in states if s.type == StateType.CRASHED]
    assert crashed.message.startswith(f"no heartbeat for {GRACE_S} s")
    assert run.run_count == 2  # one retry, the same flow run
    [resumed] = _log_lines(client, run.id, "resumed from epoch")
    assert int(resumed.split("resumed from epoch ")[1].split()[0]) >= killed_at  # not from epoch 0

    run_id = _published_once(client, run, refresh)
    steps = {m.step for m in refresh.mlflow.get_metric_history(run_id, "wasserstein")}
    assert steps == set(range(1, 61))  # both attempts in the one MLflow run
    assert not refresh.checkpoints.exists()  # removed once published
    assert _slots(client, refresh) == (0, 0)


def test_a_prefect_server_restart_mid_run_leaves_the_run_finished_and_no_slot_held(server, client, tmp_path):
    # training runs for a fixed 90 s, longer than the lease: the slot is kept only by renewing it, and
    # the renewal 45 s after taking it reaches the restarted server
    refresh = _refresh(server, tmp_path, "server_restart", epochs=100_000, checkpoint_every=0, max_minutes=1.5)
    worker = server.worker("steady")
    try:
        run = _start(client, refresh)
        _wait(lambda: _slots(client, refresh) == (1, 1), 300, "the run holding both slots", server, every_s=0.5)
        taken = time.monotonic()
        time.sleep(10)  # into training
        server.kill()
        time.sleep(3)
        server.start()  # same port, database and home: the leases are read back from it
        time.sleep(max(0.0, taken + LEASE_S + 10 - time.monotonic()))  # past the lease unless renewed
        assert client.read_flow_run(run.id).state.is_running(), server.logs()
        assert _slots(client, refresh) == (1, 1)  # still held: renewed through the new server
        run = _wait_settled(client, run.id, server)
        assert run.state.is_completed(), server.logs()
        assert run.run_count == 1  # it went on by itself: no crash, no retry
        assert not _log_lines(client, run.id, "lease renewal failed")
        _published_once(client, run, refresh)
        assert _slots(client, refresh) == (0, 0)
    finally:
        _kill_node(worker)


def test_a_run_that_keeps_crashing_is_retried_crash_retries_times_then_stays_crashed(server, client):
    with temporary_settings({PREFECT_API_URL: server.api}):  # deploy.sh again: the same two, updated
        assert apply(RecoverySettings(heartbeat_grace_seconds=GRACE_S)) == [
            f"updated automation {ZOMBIE!r}", f"updated automation {RETRY!r}"]
    assert [len(client.read_automations_by_name(name)) for name in (ZOMBIE, RETRY)] == [1, 1]

    # states proposed as a worker would: a deployment of a pool with no worker here, so no process runs
    deployment = client.read_deployment_by_name("synthetic-refresh/diamonds-docker")
    run = client.create_flow_run_from_deployment(deployment.id)
    for attempt in range(1, CRASH_RETRIES + 2):
        client.set_flow_run_state(run.id, Pending())
        client.set_flow_run_state(run.id, Running())
        client.set_flow_run_state(run.id, Crashed(message=f"attempt {attempt}: infrastructure exited with -9"))
        if attempt <= CRASH_RETRIES:
            state = _wait(lambda: (s := client.read_flow_run(run.id).state).is_scheduled() and s, 60,
                          f"attempt {attempt} rescheduled", server)
            assert state.name == "AwaitingRetry"
    time.sleep(10)  # the automations' events are processed within a second or two
    run = client.read_flow_run(run.id)
    assert run.state.is_crashed() and run.run_count == CRASH_RETRIES + 1
    assert deployment.global_concurrency_limit is not None
    assert client.read_deployment(deployment.id).global_concurrency_limit.active_slots == 0
