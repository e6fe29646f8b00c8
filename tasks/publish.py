"""Publish: move the staged synthetic Parquet over the output atomically (s3://: switch the pointer to
its version last); or discard it."""
from __future__ import annotations

from synth import storage
from tasks import log

METADATA_PREFIX = "prefect_synth."


def stamp(metadata: dict[str, str]) -> dict[str, str]:
    """The key-value metadata a published file carries: where it came from, under our prefix."""
    return {f"{METADATA_PREFIX}{k}": v for k, v in metadata.items()}


def publish(staged: str, path: str, keep_versions: int = storage.KEEP_VERSIONS) -> str:
    """Rename the staged file (written and stamped by `sample`) over `path`, or on s3:// switch the
    output's pointer to the staged version: readers see the old output or the new one, never a partial
    one; then delete s3:// versions but the newest `keep_versions`. Returns where the published files are
    (the path, or on s3:// the version's prefix)."""
    published = storage.publish_staged(staged, path, keep_versions=keep_versions)
    where = path if published.version is None else f"{path} (version {published.version})"
    log.info("Published %s", where)
    return str(path)


def discard(staged: str) -> None:
    """Delete a staged file that will not be published (failed gate or run); the output is untouched."""
    storage.discard_staged(staged)
