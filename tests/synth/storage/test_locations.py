"""Where a URI points (`synth.storage.locations`): local paths and s3:// URIs parsed, the endpoint and
region from the environment, and a store's errors named without a credential."""
from __future__ import annotations

import os

import pyarrow.fs as pafs
import pytest

from synth import storage
from synth.errors import ConfigError, DataError


@pytest.fixture
def aws_env(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def _s3_options(fs: pafs.S3FileSystem) -> dict:
    return fs.__reduce__()[1][0]


def test_resolve_local_paths_and_file_uris(tmp_path):
    fs, path = storage.resolve(tmp_path / "out" / "x.parquet")
    assert isinstance(fs, pafs.LocalFileSystem) and path == str(tmp_path / "out" / "x.parquet")
    assert storage.resolve(f"file://{tmp_path}/x.parquet")[1] == str(tmp_path / "x.parquet")
    assert storage.resolve("relative/x.parquet")[1] == os.path.abspath("relative/x.parquet")
    assert not storage.is_remote(tmp_path) and storage.is_remote("s3://bucket/key") and storage.is_remote("S3://b/k")


def test_resolve_s3_takes_endpoint_and_region_from_the_environment(aws_env):
    aws_env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    aws_env.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    fs, path = storage.resolve("s3://bucket/out/x.parquet")
    assert path == "bucket/out/x.parquet"
    options = _s3_options(fs)
    assert (options["endpoint_override"], options["scheme"]) == ("127.0.0.1:9000", "http")
    assert options["region"] == "eu-west-1"
    aws_env.setenv("AWS_ENDPOINT_URL_S3", "https://minio.internal:9443")  # the S3-specific one wins
    options = _s3_options(storage.resolve("s3://bucket/")[0])
    assert (options["endpoint_override"], options["scheme"]) == ("minio.internal:9443", "https")
    assert storage.resolve("s3://bucket/")[1] == "bucket"


def test_resolve_refuses_other_schemes_and_credentials_in_the_uri(aws_env):
    with pytest.raises(ConfigError, match=r"unsupported scheme 'gs://'"):
        storage.resolve("gs://bucket/x.parquet")
    with pytest.raises(ConfigError, match="no bucket"):
        storage.resolve("s3:///x.parquet")
    for uri in ("s3://bucket/x.parquet?secret_key=hunter22", "s3://AKIA:hunter22@bucket/x.parquet"):
        with pytest.raises(ConfigError, match="do not belong in the URI") as raised:
            storage.resolve(uri)
        assert "hunter22" not in str(raised.value)


def test_store_errors_name_the_uri_and_never_a_credential(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-value-123")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://user:pw@127.0.0.1:9")
    with pytest.raises(DataError) as raised:
        with storage.store_errors("s3://b/x.parquet", "output"):
            raise OSError("AWS Error NETWORK_CONNECTION: signing with s3cr3t-value-123 failed")
    message = str(raised.value)
    assert message.startswith("output s3://b/x.parquet: could not reach the S3 endpoint http://127.0.0.1:9")
    assert "s3cr3t-value-123" not in message and "pw" not in message and "***" in message
    assert storage.locations._is_gone(OSError("AWS Error RESOURCE_NOT_FOUND during GetObject operation: "))
    with pytest.raises(PermissionError):  # a local path's errors stay as they were
        with storage.store_errors("out/x.parquet", "output"):
            raise PermissionError("denied")
