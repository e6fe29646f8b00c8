"""Saving models as data: config and fitted state as JSON, weights as safetensors. No pickle."""
from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from pathlib import Path

import pyarrow as pa
import torch
from safetensors.torch import load_file, save_file

from synth.configs import config_from_dict, config_to_dict  # noqa: F401  (their home)
from synth.errors import DataError

FORMAT_VERSION = 1
MODEL_JSON = "model.json"
WEIGHTS = "weights.safetensors"


def schema_to_text(schema: pa.Schema) -> str:
    """An exact Arrow schema as JSON-safe text (its IPC bytes, base64)."""
    return base64.b64encode(schema.serialize().to_pybytes()).decode()


def schema_from_text(text: str) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


def save_model(directory: str | Path, kind: str, meta: dict, modules: dict[str, torch.nn.Module]) -> Path:
    """Write `model.json` ({kind, format_version, **meta}) and `weights.safetensors` (all state dicts)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {f"{name}.{key}": t.detach().cpu().contiguous()
               for name, module in modules.items() for key, t in module.state_dict().items()}
    save_file(tensors, directory / WEIGHTS)
    doc = {"kind": kind, "format_version": FORMAT_VERSION, **meta, "weights_sha256": file_digest(directory / WEIGHTS)}
    (directory / MODEL_JSON).write_text(json.dumps(doc, indent=1, allow_nan=False))
    return directory


def read_model(directory: str | Path, kind: str | None = None) -> tuple[dict, dict[str, torch.Tensor]]:
    """The JSON document and the flat tensor dict of a saved model; refuses anything malformed, and a
    model of another kind than `kind` (when given)."""
    directory = Path(directory)
    for name in (MODEL_JSON, WEIGHTS):  # safetensors' FileNotFoundError carries no filename
        if not (directory / name).is_file():
            raise DataError(f"model {directory}: missing {name}")
    try:
        doc = json.loads((directory / MODEL_JSON).read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise DataError(f"model {directory}: unreadable or corrupted {MODEL_JSON} ({e})") from e
    if not isinstance(doc, dict):
        raise DataError(f"model {directory}: {MODEL_JSON} is not a JSON object")
    expected = doc.get("weights_sha256")  # absent in models saved before it was recorded
    if expected is not None and file_digest(directory / WEIGHTS) != expected:
        raise DataError(f"model {directory}: {WEIGHTS} does not match the digest in {MODEL_JSON} "
                        "(changed or corrupted)")
    try:
        tensors = load_file(directory / WEIGHTS, device="cpu")
    except Exception as e:  # safetensors raises its own error types on tampered files
        raise DataError(f"model {directory}: unreadable or corrupted {WEIGHTS} ({e})") from e
    if doc.get("format_version") != FORMAT_VERSION:
        raise DataError(f"model {directory}: format_version {doc.get('format_version')} "
                        f"(this version reads {FORMAT_VERSION})")
    if kind is not None and doc.get("kind") != kind:
        raise DataError(f"model {directory}: kind {doc.get('kind')!r}, expected {kind!r}")
    return doc, tensors


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def saved_state(directory: str | Path, kind: str):
    """Turns a missing or mistyped field of a saved model into a DataError naming the model."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise DataError(f"model {directory}: its saved state is not that of a {kind} model "
                        f"({type(e).__name__}: {e})") from e


def load_state(module: torch.nn.Module, tensors: dict[str, torch.Tensor], name: str) -> None:
    prefix = f"{name}."
    try:
        module.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
    except RuntimeError as e:  # missing, unexpected or mis-shaped tensors: not this model's weights
        raise DataError(f"the saved '{name}' weights do not fit the saved config ({str(e).splitlines()[0]})") from e
