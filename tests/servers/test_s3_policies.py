"""The object store's roles, enforced by a real S3 server on loopback: moto with IAM on, its users given
the very policy documents createbuckets loads into MinIO (infra/minio/policies/). The runner reads the
sources and writes the outputs and checkpoints; the viewer reads published outputs only; a request
without valid credentials is refused; a full refresh runs with the runner's keys alone, and a refusal
reaches the user as one line naming the location.

Where moto differs from MinIO (and AWS), so not asserted here: it ignores IAM conditions on S3 requests,
so the viewer's listing is not held to `s3:prefix` outputs/*; and it authorises a multi-object delete
once, as s3:DeleteObject on the bucket's ARN, then deletes every key listed, where MinIO checks each
key. The runner gets that one grant here as well (MOTO_MULTI_DELETE), or moto would refuse its
checkpoint clean-up; so here, unlike on MinIO, its multi-object deletes are not held to its prefixes.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass

import boto3
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
import yaml

from flows.cli import main
from synth import storage
from synth.checkpoint import LATEST
from synth.errors import DataError
from tests.support.pipeline import TINY_MODEL, mixed_table
from tests.support.servers import REPO, s3_client_env, start_moto, stop

pytestmark = pytest.mark.slow

POLICIES = REPO / "infra" / "minio" / "policies"
BUCKET = "synth"            # compose's default SYNTH_BUCKET
OTHER_BUCKET = "elsewhere"  # a bucket no role's policy names
SOURCE = f"s3://{BUCKET}/sources/diamonds.parquet"
# objects the admin puts in place: one per prefix, and one in the other bucket
NOTES = {where: where.encode() for where in (f"s3://{BUCKET}/outputs/note.txt", f"s3://{BUCKET}/checkpoints/note.txt",
                                             f"s3://{BUCKET}/private/note.txt", f"s3://{OTHER_BUCKET}/outputs/note.txt")}
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
# moto only (see the module docstring); on MinIO it would name no object, as no key is the bucket's ARN
MOTO_MULTI_DELETE = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{BUCKET}"}]}


@dataclass(frozen=True)
class Keys:
    access_key: str
    secret_key: str


@dataclass(frozen=True)
class Store:
    endpoint: str
    keys: dict[str, Keys]  # by role: runner, viewer, admin
    source: object         # the source table, as uploaded


def policy_document(name: str, bucket: str = BUCKET) -> str:
    """A role's policy as createbuckets loads it into MinIO: the file, the bucket's name filled in."""
    return (POLICIES / f"{name}.json").read_text().replace("${SYNTH_BUCKET}", bucket)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """moto's S3 server with two buckets, the source table and NOTES, and the users `synth-runner`,
    `synth-viewer` and `synth-admin`; then IAM enforced for every later request."""
    endpoint, process = start_moto(tmp_path_factory, "moto-iam")
    try:
        setup = {"endpoint_url": endpoint, "region_name": "us-east-1", "aws_access_key_id": "setup",
                 "aws_secret_access_key": "setup"}  # nothing is checked until enforcement is switched on
        iam, s3 = boto3.client("iam", **setup), boto3.client("s3", **setup)
        for bucket in (BUCKET, OTHER_BUCKET):
            s3.create_bucket(Bucket=bucket)
        for uri, body in NOTES.items():
            bucket, _, key = uri.removeprefix("s3://").partition("/")
            s3.put_object(Bucket=bucket, Key=key, Body=body)
        documents = {"runner": policy_document("synth-runner"), "viewer": policy_document("synth-viewer"),
                     "admin": json.dumps(ADMIN_POLICY)}
        keys = {}
        for role, document in documents.items():
            arn = iam.create_policy(PolicyName=f"synth-{role}", PolicyDocument=document)["Policy"]["Arn"]
            iam.create_user(UserName=f"synth-{role}")
            iam.attach_user_policy(UserName=f"synth-{role}", PolicyArn=arn)
            key = iam.create_access_key(UserName=f"synth-{role}")["AccessKey"]
            keys[role] = Keys(key["AccessKeyId"], key["SecretAccessKey"])
        iam.put_user_policy(UserName="synth-runner", PolicyName="moto-multi-delete",
                            PolicyDocument=json.dumps(MOTO_MULTI_DELETE))
        source = mixed_table(400)
        fs = pafs.S3FileSystem(access_key="setup", secret_key="setup", region="us-east-1", scheme="http",
                               endpoint_override=endpoint.removeprefix("http://"))
        pq.write_table(source, SOURCE.removeprefix("s3://"), filesystem=fs)
        enforce = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST",
                                         headers={"Content-Type": "text/plain"})  # 0 requests left unchecked
        with urllib.request.urlopen(enforce, timeout=30) as response:
            assert json.loads(response.read())["status"] == "ok"
        yield Store(endpoint, keys, source)
    finally:
        stop(process)


@pytest.fixture
def as_role(store, monkeypatch):
    """as_role("runner"): from now on the client environment holds that role's keys, and only those."""
    def switch(role: str, secret: str | None = None) -> None:
        s3_client_env(monkeypatch, store.endpoint)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", store.keys[role].access_key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret or store.keys[role].secret_key)
    return switch


def _delete(uri: str) -> None:
    fs, path = storage.resolve(uri)
    with storage.store_errors(uri, "file"):
        fs.delete_file(path)


def _delete_dir(uri: str) -> None:
    """Everything under `uri`, in multi-object deletes."""
    fs, path = storage.resolve(uri)
    with storage.store_errors(uri, "folder"):
        fs.delete_dir(path)


def _denied(action, uri: str) -> str:
    """`action(uri)` is refused with one line that names `uri` and says why."""
    with pytest.raises(DataError) as caught:
        action(uri)
    message = str(caught.value)
    assert "access denied" in message and uri in message and "\n" not in message, message
    return message


def test_requests_without_valid_credentials_are_refused(store, as_role, monkeypatch):
    for path in (f"{BUCKET}/outputs/note.txt", f"{BUCKET}/sources/diamonds.parquet", f"{BUCKET}?list-type=2"):
        with pytest.raises(urllib.error.HTTPError) as refused:  # unsigned: no Authorization header at all
            urllib.request.urlopen(f"{store.endpoint}/{path}", timeout=30)
        assert refused.value.code in (403, 500)  # MinIO and AWS answer 403; moto fails such a request (500)
    as_role("viewer", secret="not-the-viewers-secret")
    message = _denied(storage.read_bytes, f"s3://{BUCKET}/outputs/note.txt")
    assert "not-the-viewers-secret" not in message and store.keys["viewer"].secret_key not in message
    as_role("runner")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIANOSUCHUSER000000")  # a key id no user has
    _denied(storage.read_bytes, SOURCE)
    as_role("viewer")
    assert storage.read_bytes(f"s3://{BUCKET}/outputs/note.txt") == NOTES[f"s3://{BUCKET}/outputs/note.txt"]


def test_viewer_reads_published_outputs_and_nothing_else(as_role):
    as_role("viewer")
    assert storage.read_bytes(f"s3://{BUCKET}/outputs/note.txt") == NOTES[f"s3://{BUCKET}/outputs/note.txt"]
    for where in (SOURCE, *[uri for uri in NOTES if not uri.startswith(f"s3://{BUCKET}/outputs/")]):
        _denied(storage.read_bytes, where)
    for where in (f"s3://{BUCKET}/outputs/new.txt", f"s3://{BUCKET}/outputs/note.txt", f"s3://{BUCKET}/sources/new.txt",
                  f"s3://{BUCKET}/checkpoints/new.txt", f"s3://{BUCKET}/new.txt", f"s3://{OTHER_BUCKET}/new.txt"):
        _denied(lambda uri: storage.write_bytes(uri, b"x"), where)
    _denied(_delete, f"s3://{BUCKET}/outputs/note.txt")
    assert storage.read_bytes(f"s3://{BUCKET}/outputs/note.txt") == NOTES[f"s3://{BUCKET}/outputs/note.txt"]


def test_runner_reads_sources_and_writes_outputs_and_checkpoints_only(store, as_role):
    as_role("runner")
    assert storage.read_bytes(SOURCE)
    for where in (f"s3://{BUCKET}/outputs/probe.txt", f"s3://{BUCKET}/checkpoints/probe.txt"):
        storage.write_bytes(where, b"x")
        assert storage.read_bytes(where) == b"x"
        _delete(where)
    for where in (f"s3://{BUCKET}/private/note.txt", f"s3://{OTHER_BUCKET}/outputs/note.txt"):
        _denied(storage.read_bytes, where)
    for where in (f"s3://{BUCKET}/sources/new.parquet", SOURCE, f"s3://{BUCKET}/private/note.txt",
                  f"s3://{BUCKET}/new.txt", f"s3://{OTHER_BUCKET}/outputs/new.txt"):
        _denied(lambda uri: storage.write_bytes(uri, b"x"), where)
    for where in (SOURCE, f"s3://{BUCKET}/private/note.txt", f"s3://{OTHER_BUCKET}/outputs/note.txt"):
        _denied(_delete, where)
    as_role("admin")
    fs, path = storage.resolve(SOURCE)
    assert pq.read_table(path, filesystem=fs).equals(store.source)  # untouched


def _config(tmp_path, output: str, checkpoints: str) -> str:
    model = {**TINY_MODEL, "epochs": 2, "training": {**TINY_MODEL["training"], "checkpoint_every": 1,
                                                     "checkpoint_dir": checkpoints, "keep_checkpoints": True}}
    tree = {"source": {"path": SOURCE}, "model": model, "output": {"path": output}, "sample": {"num_rows": 200},
            "report": {"gate": {"enabled": False}, "bootstrap": 0}}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(tree))
    return str(path)


def _last_error_line(capsys) -> str:
    """The CLI's own error: the last line on stderr (Prefect logs a failed flow's traceback before it)."""
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("prefect-synth: error: "), line
    return line


def test_full_refresh_with_the_runners_keys_then_the_viewer_reads_it(
        tmp_path, store, as_role, prefect_api, mlflow_store, capsys):
    output = f"s3://{BUCKET}/outputs/diamonds_synth.parquet"
    checkpoints = f"s3://{BUCKET}/checkpoints/diamonds_synth"
    as_role("runner")
    assert main(["run", _config(tmp_path, output, checkpoints)]) == 0
    assert storage.current_version(output).num_rows == 200
    assert storage.get_dir(checkpoints, tmp_path / "checkpoint")
    assert json.loads((tmp_path / "checkpoint" / LATEST).read_text())["epoch"] == 2

    as_role("viewer")
    synthetic = storage.read_published(output)
    assert synthetic.num_rows == 200
    assert synthetic.schema.remove_metadata().equals(store.source.schema.remove_metadata())
    assert json.loads(storage.read_bytes(f"s3://{BUCKET}/outputs/diamonds_synth.report/report.json"))
    _denied(lambda uri: storage.get_dir(uri, tmp_path / "not-for-the-viewer"), checkpoints)
    _denied(storage.remove_dir, output)
    _denied(_delete_dir, f"s3://{BUCKET}/outputs/diamonds_synth")  # refused as such, not taken for an outage
    assert storage.read_published(output).equals(synthetic)

    # the runner sent where it may not write: the output and the checkpoints are refused before anything
    # is read, each in one line that names the setting and the location, and never a secret
    as_role("runner")
    capsys.readouterr()
    forbidden = f"s3://{BUCKET}/sources/diamonds_synth.parquet"
    assert main(["run", _config(tmp_path, forbidden, checkpoints)]) == 1
    line = _last_error_line(capsys)
    assert "output.path" in line and forbidden in line and "access denied" in line, line
    elsewhere = f"s3://{BUCKET}/private/diamonds_synth"
    assert main(["run", _config(tmp_path, f"s3://{BUCKET}/outputs/other.parquet", elsewhere)]) == 1
    err = capsys.readouterr().err
    line = err.strip().splitlines()[-1]
    assert line.startswith("prefect-synth: error: model.training.checkpoint_dir: checkpoint "
                           f"{elsewhere}: access denied"), line
    assert "Flow run" not in err  # refused before the flow started
    assert store.keys["runner"].secret_key not in line
    assert storage.read_published(output).equals(synthetic)

    # the runner removes its checkpoints (a multi-object delete), as a run with keep_checkpoints=false does
    storage.remove_dir(checkpoints)
    assert storage.list_versions(checkpoints) == [] and not storage.get_dir(checkpoints, tmp_path / "gone")
