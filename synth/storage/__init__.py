"""Where data lives: Parquet read from any source and published atomically, local paths and s3:// URIs.

- `sources`: the one place an input is opened (`open_source`): a file, a directory or hive partitions,
  an s3:// object or prefix, or the current version published there; `read_source` reads it whole,
  `ParquetSource.batches` streams it.
- `datasets`: publishing, whole or streamed, at once or staged (`publish_table`, `open_writer`,
  `publish_staged`), one Parquet metadata stamp (`stamped`), and the published version read back
  (`read_published`, `current_version`).
- `versions`: the versions under a prefix and the pointer naming the current one; checkpoint folders.
- `locations`: URIs to filesystems, the store's errors as DataErrors, atomic small files.
- `fingerprint`: the data hash of a table or of a source, streamed.

Locally, publishing replaces one file (temporary file + rename). An object store has no rename, so
there a dataset is published as a new version and then announced by a small pointer object, written
last::

    s3://bucket/out/x.parquet  ->  s3://bucket/out/x/versions/<version>/part-00000.parquet, ...
                                   s3://bucket/out/x/_CURRENT    (JSON: version, files, rows, metadata)

A reader that goes through the pointer (`read_published`, `open_source`) sees the old version or the
new one, never a mix. Checkpoint directories (`put_dir` / `get_dir`) use the same layout at any prefix,
local or s3://.

Credentials and region come from the environment through the AWS SDK (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION / AWS_DEFAULT_REGION, profiles); an endpoint
other than AWS from AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (pyarrow does not read these itself), its
scheme (http:// for a local server) included. No error message carries a credential.
"""
from synth.storage.datasets import (DatasetWriter, current_version, discard_staged, open_writer, publish_staged,
                                    publish_table, read_metadata, read_published)
from synth.storage.fingerprint import source_fingerprint, table_fingerprint
from synth.storage.locations import (atomic_file, beside, check_writable, exists, file_mode, is_remote, read_bytes,
                                     resolve, s3_filesystem, set_mode, store_errors, write_bytes)
from synth.storage.sources import (BATCH_ROWS, ParquetSource, check_not_empty, index_notes, open_source,
                                   read_source)
from synth.storage.versions import (KEEP_VERSIONS, POINTER, VERSIONS, PublishedVersion, get_dir, list_versions,
                                    prune_versions, put_dir, remove_dir)

__all__ = ["BATCH_ROWS", "DatasetWriter", "KEEP_VERSIONS", "POINTER", "ParquetSource", "PublishedVersion", "VERSIONS",
           "atomic_file", "beside", "check_not_empty", "check_writable", "current_version", "discard_staged",
           "exists", "file_mode", "get_dir", "index_notes", "is_remote", "list_versions", "open_source",
           "open_writer", "prune_versions", "publish_staged", "publish_table", "put_dir", "read_bytes",
           "read_metadata", "read_published", "read_source", "remove_dir", "resolve", "s3_filesystem", "set_mode",
           "source_fingerprint", "store_errors", "table_fingerprint", "write_bytes"]
