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


def check_not_inside_source(config) -> None:
    """ConfigError unless every place a refresh writes lies outside its source: an output equal to the source
    would replace the real data with synthetic rows, and anything written inside a source directory (output,
    report, contract, checkpoints) would be read back as input by the next run. Local paths are compared
    after resolving links; s3:// URIs as bucket/key prefixes (an s3:// output also as its versions prefix).
    """
    source = _normalized(config.source.path)
    output = config.output.path
    targets = {"output.path": output,
               "output.report_dir": config.output.report_dir or storage.beside(output, ".report"),
               "the inferred contract (beside output.path)": storage.beside(output, ".contract.yaml"),
               "model.training.checkpoint_dir": (config.model.training.checkpoint_dir
                                                 or storage.beside(output, ".checkpoints"))}
    if config.validation.contract is not None:
        del targets["the inferred contract (beside output.path)"]
    for what, target in targets.items():
        for form in _forms(target):
            if form == source:
                raise ConfigError(f"{what} {target} is the source itself (source.path {config.source.path}): "
                                  "the run would overwrite your real data with synthetic rows; choose another "
                                  f"{what if what.startswith(('output', 'model')) else 'output.path'}")
            if form.startswith(source.rstrip("/") + "/"):
                raise ConfigError(f"{what} {target} lies inside the source (source.path {config.source.path}): "
                                  "what the run writes there would be read as input by the next run; write it "
                                  "outside the source")


def _normalized(uri: str) -> str:
    if storage.is_remote(uri):
        return str(uri).rstrip("/")
    return os.path.realpath(os.path.abspath(os.path.expanduser(str(uri))))


def _forms(uri: str) -> list[str]:
    """`uri` as compared with a source: itself, and for an s3:// Parquet output also the prefix its versions
    live under (`s3://b/out/x.parquet` publishes under `s3://b/out/x/`)."""
    forms = [_normalized(uri)]
    if storage.is_remote(uri) and str(uri).endswith(".parquet"):
        forms.append(str(uri)[: -len(".parquet")])
    return forms
