"""Transient object-store faults during a refresh, on the real S3 server (moto) behind a proxy that drops
connections: more than the S3 client's own retries absorb, so the step fails once with
StorageUnavailable and the orchestrator's retry of that step completes the run."""
from __future__ import annotations

import socket
import time
import threading

import pyarrow.parquet as pq
import pytest

from synth import storage
from synth.errors import StorageUnavailable
from tasks.config import parse_config
from tests.support.servers import free_port
from tests.support.pipeline import TINY_MODEL, mixed_table
from tests.support.storage import read_all

pytestmark = pytest.mark.slow


class DroppingProxy:
    """Forwards HTTP from a loopback port to `target`, one request per connection (it asks for
    `Connection: close`), and closes without an answer the first `drops` requests whose request line
    contains `pattern`."""

    def __init__(self, target: str):
        self.target = target.removeprefix("http://").split(":")
        self.port = free_port()
        self.pattern, self.drops, self.dropped = b"", 0, 0
        self.server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._serve, daemon=True).start()

    def fail(self, pattern: str, drops: int) -> None:
        self.pattern, self.drops, self.dropped = pattern.encode(), drops, 0

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(65536)
            if not chunk:
                client.close()
                return
            head += chunk
        head, _, rest = head.partition(b"\r\n\r\n")
        request_line = head.split(b"\r\n", 1)[0]
        if self.pattern and self.pattern in request_line and self.dropped < self.drops:
            self.dropped += 1
            client.close()
            return
        lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:")]
        upstream = socket.create_connection((self.target[0], int(self.target[1])))
        upstream.sendall(b"\r\n".join(lines) + b"\r\nConnection: close\r\n\r\n" + rest)
        threading.Thread(target=_pipe, args=(client, upstream), daemon=True).start()
        _pipe(upstream, client)

    def close(self) -> None:
        self.server.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture
def proxy(s3_endpoint, bucket, monkeypatch):
    proxy = DroppingProxy(s3_endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{proxy.port}")
    yield proxy
    proxy.close()


def _refresh_config(bucket: str) -> dict:
    return {"source": {"path": f"s3://{bucket}/in/data.parquet"},
            "model": {**TINY_MODEL, "epochs": 2}, "output": {"path": f"s3://{bucket}/out/data_synth.parquet"},
            "sample": {"num_rows": 200}, "report": {"gate": {"enabled": False}, "bootstrap": 0}}


def test_the_proxy_fault_is_one_the_client_gives_up_on(proxy, bucket):  # noqa: F811
    fs, _ = storage.resolve(f"s3://{bucket}")
    pq.write_table(mixed_table(50), f"{bucket}/in/data.parquet", filesystem=fs)
    proxy.fail(f"/{bucket}/in/data.parquet", storage.locations.S3_MAX_ATTEMPTS)
    with pytest.raises(StorageUnavailable, match=rf"s3://{bucket}/in/data.parquet: "):
        read_all(f"s3://{bucket}/in/data.parquet")
    assert proxy.dropped == storage.locations.S3_MAX_ATTEMPTS
    assert read_all(f"s3://{bucket}/in/data.parquet").num_rows == 50  # the fault has passed


@pytest.mark.parametrize("step, pattern", [
    ("ingest", "/{bucket}/in/data.parquet"),
    ("publish", "PUT /{bucket}/out/data_synth/_CURRENT"),  # switching the pointer (synth.storage.versions)
])
def test_a_transient_storage_fault_is_retried_by_the_step(step, pattern, proxy, bucket, prefect_api,  # noqa: F811
                                                          mlflow_store, caplog):
    from flows.refresh import synthetic_refresh

    fs, _ = storage.resolve(f"s3://{bucket}")
    pq.write_table(mixed_table(300), f"{bucket}/in/data.parquet", filesystem=fs)
    proxy.fail(pattern.format(bucket=bucket), storage.locations.S3_MAX_ATTEMPTS)
    outcome = synthetic_refresh(parse_config(_refresh_config(bucket)))
    assert proxy.dropped == storage.locations.S3_MAX_ATTEMPTS  # the fault happened, and outlasted the client
    assert outcome["rows"] == 200 and not outcome["skipped"]
    assert storage.read_published(outcome["output"]).num_rows == 200
    assert storage.current_version(outcome["output"]).metadata["prefect_synth.mlflow_run_id"] == \
        outcome["mlflow_run_id"]


class Reader(threading.Thread):
    """Reads the published output through the pointer, again and again, while a refresh publishes: every read
    is one whole version, as many rows as one of the runs sampled; each read's (rows, MLflow run) is kept."""

    def __init__(self, uri: str):
        super().__init__(daemon=True)
        self.uri, self.seen, self.errors, self.running = uri, [], [], True

    def run(self) -> None:
        while self.running:
            try:
                table = storage.read_published(self.uri)
            except Exception as e:  # noqa: BLE001 — collected: a reader must never fail
                self.errors.append(repr(e))
                continue
            self.seen.append((table.num_rows, table.schema.metadata[b"prefect_synth.mlflow_run_id"].decode()))

    def stop(self) -> list[tuple[int, str]]:
        self.running = False
        self.join(timeout=30)
        return self.seen


def _publish_over(bucket: str, proxy, drops: int):
    """Publish 150 rows, then refresh again (checkpointed, 200 rows) with the pointer's PUT dropped `drops`
    times, a reader reading all along. Returns the first outcome, the second's outcome or exception, and
    what the reader saw."""
    from flows.refresh import synthetic_refresh

    fs, _ = storage.resolve(f"s3://{bucket}")
    pq.write_table(mixed_table(300), f"{bucket}/in/data.parquet", filesystem=fs)
    config = _refresh_config(bucket)
    first = synthetic_refresh(parse_config({**config, "sample": {"num_rows": 150}}))
    reader = Reader(first["output"])
    reader.start()
    config["model"]["training"] = {**config["model"]["training"], "checkpoint_every": 1}
    config["output"]["skip_unchanged"] = False
    proxy.fail(f"PUT /{bucket}/out/data_synth/_CURRENT", drops)
    try:
        second = synthetic_refresh(parse_config(config))
    except Exception as e:  # noqa: BLE001 — returned for the test to read
        second = e
    return first, second, reader, config


def test_readers_see_the_old_version_or_the_new_one_while_publishing_drops_connections(
        proxy, bucket, prefect_api, mlflow_store):  # noqa: F811
    """Dropped connections while switching the pointer, fewer than the step's retries absorb: the run
    publishes; a reader never sees anything but the old version or the new one, whole."""
    first, second, reader, _ = _publish_over(bucket, proxy, storage.locations.S3_MAX_ATTEMPTS)
    time.sleep(0.5)
    seen = reader.stop()
    assert proxy.dropped == storage.locations.S3_MAX_ATTEMPTS
    assert not reader.errors, reader.errors[:3]
    assert set(seen) <= {(150, first["mlflow_run_id"]), (200, second["mlflow_run_id"])}
    assert seen[0] == (150, first["mlflow_run_id"]) and seen[-1] == (200, second["mlflow_run_id"])


def test_a_publish_the_store_keeps_refusing_fails_naming_it_and_the_rerun_publishes_from_the_checkpoint(
        proxy, bucket, prefect_api, mlflow_store):  # noqa: F811
    """The pointer's PUT dropped every time: the run fails with one line naming the output, readers keep the
    old version, no staged version is left; the rerun, the store back, resumes from the last checkpoint
    (training was done) and publishes."""
    from flows.refresh import synthetic_refresh

    first, failed, reader, config = _publish_over(bucket, proxy, 10 ** 6)
    assert isinstance(failed, StorageUnavailable), failed
    message = str(failed)
    assert "\n" not in message and f"s3://{bucket}/out/data_synth.parquet" in message, message
    assert storage.current_version(first["output"]).metadata["prefect_synth.mlflow_run_id"] == first["mlflow_run_id"]
    assert len(storage.list_versions(first["output"])) == 1  # the unpublished version is gone
    proxy.fail("", 0)
    rerun = synthetic_refresh(parse_config(config))
    seen = reader.stop()
    from mlflow import MlflowClient
    assert MlflowClient().get_run(rerun["mlflow_run_id"]).data.tags["synth.resumed_from_epoch"] == "2"
    assert storage.current_version(rerun["output"]).metadata["prefect_synth.mlflow_run_id"] == rerun["mlflow_run_id"]
    assert not reader.errors, reader.errors[:3]
    assert set(seen) <= {(150, first["mlflow_run_id"]), (200, rerun["mlflow_run_id"])}
    assert seen[-1] == (200, rerun["mlflow_run_id"])
