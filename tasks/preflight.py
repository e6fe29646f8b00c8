"""Checks a refresh makes before it spends an hour training: can it write where it will publish?"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from synth import storage
from synth.errors import ConfigError, DataError


def check_writable(path: str | os.PathLike, what: str) -> None:
    """ConfigError, naming `what` and the obstacle, unless a file can be created in `path`'s folder.

    An s3:// URI is checked by writing and deleting a probe object beside it.
    """
    if storage.is_remote(path):
        try:
            storage.check_writable(path)
        except DataError as e:
            raise ConfigError(f"{what}: {e}") from None
        return
    folder = Path(path).absolute().parent
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{what} {path}: cannot be written, '{existing}' is a file, not a folder")
    try:  # in the deepest folder that exists: nothing is created that a failed run would leave behind
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".prefect-synth-check-"):
            pass
    except OSError as e:
        raise ConfigError(f"{what} {path}: cannot be written ({e.strerror or e})") from None
