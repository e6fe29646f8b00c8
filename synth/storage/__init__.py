"""Where data lives: local paths and s3:// URIs, read from and published to atomically.

A local path works exactly as before: a Parquet file or directory is read by `synth.io`, and
publishing replaces one file (temporary file + rename). An object store has no rename, so there a
dataset is published as a new version and then announced by a small pointer object, written last::

    s3://bucket/out/x.parquet  ->  s3://bucket/out/x/versions/<version>/part-00000.parquet, ...
                                   s3://bucket/out/x/_CURRENT    (JSON: version, files, rows, metadata)

A reader that goes through the pointer (`read_published`, `read_table`) sees the old version or the
new one, never a mix. Checkpoint directories (`put_dir` / `get_dir`) use the same layout at any prefix,
local or s3://.

Credentials and region come from the environment through the AWS SDK (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION / AWS_DEFAULT_REGION, profiles); an endpoint
other than AWS from AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (pyarrow does not read these itself), its
scheme (http:// for a local server) included. No error message carries a credential.
"""
from synth.storage.datasets import (DatasetWriter, current_version, discard_staged, open_dataset, open_source,
                                    open_writer,
                                    publish_staged, publish_table, read_published, read_table)
from synth.storage.locations import (atomic_file, beside, check_writable, exists, file_mode, is_remote, read_bytes, resolve,
                                     s3_filesystem, set_mode, store_errors, write_bytes)
from synth.storage.versions import (KEEP_VERSIONS, POINTER, VERSIONS, PublishedVersion, get_dir, list_versions,
                                    prune_versions, put_dir, remove_dir)

__all__ = ["atomic_file", "DatasetWriter", "KEEP_VERSIONS", "POINTER", "VERSIONS", "PublishedVersion", "beside", "check_writable",
           "current_version", "discard_staged", "exists", "file_mode", "get_dir", "is_remote", "list_versions", "open_dataset",
           "open_source", "open_writer", "prune_versions",
           "publish_staged", "publish_table", "put_dir", "remove_dir", "read_bytes", "read_published", "read_table", "resolve",
           "s3_filesystem", "set_mode", "store_errors", "write_bytes"]
