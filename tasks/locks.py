"""One refresh of an output at a time on this machine: an OS file lock named after the output.

An orchestrator may add its own lock across machines around it (Prefect: a global concurrency limit,
flows/locks.py).
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def output_lock(output_path: str | None) -> Iterator[None]:
    """Hold the lock of `output_path` (its absolute path or URI) for the block, waiting for it if taken."""
    if output_path is None:
        yield
        return
    where = output_path if "://" in output_path else os.path.abspath(output_path)
    key = hashlib.sha256(where.encode()).hexdigest()[:16]
    folder = os.path.join(tempfile.gettempdir(), "prefect-synth-locks")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{key}.lock")
    with open(path, "a") as handle:  # the lock file stays; the lock goes with the descriptor
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
