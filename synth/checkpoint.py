"""Training checkpoints as data, so that a killed or retried run resumes where it stopped.

A checkpoint directory holds the latest complete checkpoint only:

    <directory>/
      latest.json              {"format_version", "epoch", "path"}: names the checkpoint; replaced last
      epoch-000010-<hex>/
        model/                 the model as model.save() writes it (model.json + weights.safetensors)
        state.json             resume key, epoch, history, optimizer hyperparameters, digest of the tensors
        state.safetensors      critic weights, Adam moments and step counts, RNG states (uint8)

JSON and safetensors only, never pickle: reading a checkpoint cannot execute code. A checkpoint is
written into a temporary directory, renamed into place and only then named in `latest.json` (an
atomic replace), and the previous one is removed after that: a kill at any moment leaves one whole
checkpoint. A run resumes only from a checkpoint with its own resume key (the training settings but
the epoch count and stopping rules, the device type, the training data); any other is ignored with
a warning and replaced by the run's own.

No numpy generator lives across training steps (the tabular conditions draw a fresh one from the
training generator when they need one), so the torch generators are all the random state there is.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import warnings
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import pyarrow as pa
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from synth import storage
from synth.errors import DataError
from synth.serialization import config_to_dict, file_digest, load_state, read_model
from synth.storage.fingerprint import table_fingerprint
from synth.training import EpochStats, TrainingState

FORMAT_VERSION = 1
LATEST = "latest.json"
STATE_JSON = "state.json"
STATE_TENSORS = "state.safetensors"
MODEL_DIR = "model"
# training settings that do not change what the first N epochs compute: a checkpoint survives them
UNKEYED_TRAINING = ("epochs", "max_minutes", "max_critic_grad_norm", "device")
SELECTION_TRAINING = ("eval_every", "patience", "validation_fraction", "ema_decay")
_CHECKPOINT_NAME = re.compile(r"epoch-\d{6}-[0-9a-f]{8}")


class CheckpointWarning(UserWarning):
    """A checkpoint exists but is not resumed (other data or settings): training starts from scratch."""


@dataclass(frozen=True)
class Checkpointing:
    """Where a model's `fit` keeps its checkpoint, and how often it writes one."""

    directory: Path | str  # a local folder, or an s3:// prefix (a local copy is trained against)
    every: int = 10  # epochs between checkpoints; one is also written after the last epoch

    def __post_init__(self):
        if self.every < 1:
            raise ValueError(f"checkpoint every={self.every}: must be at least 1")


def resume_key(config: Any, device: torch.device, table: pa.Table) -> dict[str, str]:
    """What a checkpoint must match to be resumed: settings, device type and data, each as a digest."""
    settings = config_to_dict(config)
    for name in UNKEYED_TRAINING:
        settings["training"].pop(name, None)
    if not settings["training"].get("eval_every"):  # selection off: its settings change nothing (older checkpoints)
        for name in SELECTION_TRAINING:
            settings["training"].pop(name, None)
    text = json.dumps(settings, sort_keys=True)
    return {"settings": hashlib.sha256(text.encode()).hexdigest()[:16], "device": device.type,
            "data": table_fingerprint(table)}


_KEY_CHANGES = {"data": "the training data changed", "settings": "the model or training settings changed",
                "device": "it was trained on another device type"}


@dataclass
class Resumed:
    """A checkpoint read back: the saved model, and the critic weights, RNG states and loop state to restore."""

    path: Path
    epoch: int
    model: dict                       # the saved model's JSON document
    model_tensors: dict[str, torch.Tensor]
    state: dict                       # state.json
    tensors: dict[str, torch.Tensor]  # state.safetensors

    def restore(self, critics: Sequence[nn.Module], rng: torch.Generator | None,
                device: torch.device) -> TrainingState:
        """Load the critic weights and RNG states; the returned state restores the optimizers."""
        try:
            for i, critic in enumerate(critics):
                load_state(critic, self.tensors, f"critic.{i}")
            if rng is not None:
                rng.set_state(self.tensors["rng.training"])
            torch.set_rng_state(self.tensors["rng.torch"])
            if device.type == "cuda":
                torch.cuda.set_rng_state(self.tensors["rng.cuda"], device)
            optimizers = {name: _unflatten_optimizer(name, self.tensors, doc)
                          for name, doc in self.state["optimizers"].items()}
            history = [EpochStats(**h) for h in self.state["history"]]
            selection = _selection_from(self.state.get("selection"), self.tensors)
        except (KeyError, TypeError, ValueError, RuntimeError, DataError) as e:
            raise DataError(f"checkpoint {self.path}: its state does not fit this model ({e}); delete "
                            f"{self.path.parent} to train from scratch") from e
        return TrainingState(self.epoch, history, optimizers, selection)


class Checkpoints:
    """The checkpoint directory of one training run: what it resumes from, and where it saves.

    A model's `fit` opens it (`for_fit`), calls `resume` before fitting its transform, `start` once
    its networks and training generator exist, and hands it to `train_wgan`, which calls `save`
    and `describe`.
    """

    def __init__(self, settings: Checkpointing, kind: str, key: dict[str, str], device: torch.device):
        self.location, self.every = str(settings.directory), settings.every
        self.remote = storage.is_remote(self.location)
        if self.remote:  # s3://: work in a local copy, fetched now and uploaded after each save
            self.directory = Path(tempfile.mkdtemp(prefix="prefect-synth-checkpoint-"))
            weakref.finalize(self, shutil.rmtree, str(self.directory), True)
            storage.get_dir(self.location, self.directory)
        else:
            self.directory = Path(settings.directory)
        self.kind, self.key, self.device = kind, key, device
        self.latest: tuple[int, Path] | None = None  # the last complete checkpoint of this run's key
        self.resumed: Resumed | None = None
        self._bound: tuple[Any, list[nn.Module], torch.Generator | None] | None = None

    @classmethod
    def for_fit(cls, settings: Checkpointing | None, model: Any, table: pa.Table) -> "Checkpoints | None":
        """The checkpoints of `model` (its config and `device_`) training on `table`; None without settings."""
        if settings is None:
            return None
        return cls(settings, model.kind, resume_key(model.config, model.device_, table), model.device_)

    # -- resume ---------------------------------------------------------------------------------------
    def resume(self, epochs: int) -> Resumed | None:
        """The latest checkpoint if it is this run's (same key, at most `epochs` epochs), else None.

        Raises:
            DataError: the checkpoint's files are corrupted or tampered with (never executed).
        """
        pointer = self.directory / LATEST
        if not pointer.is_file():
            return None
        doc = _read_json(pointer)
        name = doc.get("path") if isinstance(doc, dict) else None
        if not isinstance(name, str) or not _CHECKPOINT_NAME.fullmatch(name):
            raise DataError(f"checkpoint {pointer}: names no checkpoint of this directory ({name!r}); delete "
                            f"{self.directory} to train from scratch")
        path = self.directory / name
        state = _read_json(path / STATE_JSON)
        why = self._not_resumable(state, epochs)
        if why is not None:
            warnings.warn(f"checkpoint {path} is not resumed: {why}; training starts from epoch 1 and "
                          f"replaces it", CheckpointWarning, stacklevel=3)
            return None
        tensors_path = path / STATE_TENSORS
        if not tensors_path.is_file() or file_digest(tensors_path) != state.get("tensors_sha256"):
            raise DataError(f"checkpoint {path}: {STATE_TENSORS} is missing or does not match the digest in "
                            f"{STATE_JSON} (changed or corrupted); delete {self.directory} to train from scratch")
        try:
            tensors = load_file(tensors_path, device="cpu")
        except Exception as e:  # safetensors raises its own error types on malformed files
            raise DataError(f"checkpoint {path}: unreadable {STATE_TENSORS} ({e})") from e
        model, model_tensors = read_model(path / MODEL_DIR, self.kind)
        self.latest = (state["epoch"], path)
        self.resumed = Resumed(path, state["epoch"], model, model_tensors, state, tensors)
        return self.resumed

    def _not_resumable(self, state: Any, epochs: int) -> str | None:
        if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
            return f"it has another format version than {FORMAT_VERSION}"
        key = state.get("key") or {}
        changed = [why for part, why in _KEY_CHANGES.items() if key.get(part) != self.key[part]]
        if changed:
            return " and ".join(changed)
        epoch = state.get("epoch")
        if not isinstance(epoch, int) or not 1 <= epoch <= epochs:
            return f"it is at epoch {epoch}, past the {epochs} epochs configured"
        return None

    def start(self, model: Any, critics: Sequence[nn.Module], rng: torch.Generator | None) -> TrainingState | None:
        """Bind what `save` writes (`model.save()`, the critics' weights, the RNG states); when `resume`
        found a checkpoint, restore the generator, critics and RNGs from it and return its loop state."""
        self._bound = (model, list(critics), rng)
        if self.resumed is None:
            return None
        load_state(model.generator_, self.resumed.model_tensors, "generator")
        return self.resumed.restore(critics, rng, self.device)

    # -- save -----------------------------------------------------------------------------------------

    def save(self, state: TrainingState) -> None:
        """Write a checkpoint of `state` and the bound model, then make it the latest one."""
        model, critics, rng = self._bound
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"epoch-{state.epoch:06d}-{os.urandom(4).hex()}"
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=self.directory))
        try:
            model.history_ = list(state.history)  # the checkpoint's model is a loadable model of its own
            model.save(tmp / MODEL_DIR)
            tensors = {f"critic.{i}.{k}": t.detach().cpu().contiguous()
                       for i, critic in enumerate(critics) for k, t in critic.state_dict().items()}
            tensors.update(self._rng_states(rng))
            optimizers = {}
            for opt_name, opt_state in state.optimizers.items():
                flat, optimizers[opt_name] = _flatten_optimizer(opt_name, opt_state)
                tensors.update(flat)
            selection = None
            if state.selection is not None:  # its states (dicts of tensors) beside the others, the rest as JSON
                selection = {k: v for k, v in state.selection.items() if not isinstance(v, dict)}
                tensors.update({f"{SELECTION_PREFIX}{name}.{k}": t for name, group in state.selection.items()
                                if isinstance(group, dict) for k, t in group.items()})
            save_file(tensors, tmp / STATE_TENSORS)
            doc = {"format_version": FORMAT_VERSION, "kind": self.kind, "key": self.key, "epoch": state.epoch,
                   "history": [{"epoch": s.epoch, **s.as_dict()} for s in state.history],
                   "optimizers": optimizers, "selection": selection,
                   "tensors_sha256": file_digest(tmp / STATE_TENSORS)}
            _write_json(tmp / STATE_JSON, doc)
            _fsync_tree(tmp)
            os.rename(tmp, self.directory / name)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _write_json(self.directory / LATEST, {"format_version": FORMAT_VERSION, "epoch": state.epoch,
                                              "path": name}, atomic=True)
        self.latest = (state.epoch, self.directory / name)
        self._remove_all_but(name)
        if self.remote:
            try:
                storage.put_dir(self.directory, self.location)
            except (OSError, DataError) as e:  # training goes on; only a resume after a kill loses this epoch
                warnings.warn(f"checkpoint of epoch {state.epoch} not uploaded to {self.location} ({e}); "
                              "training goes on", CheckpointWarning, stacklevel=2)
                return

    def describe(self) -> str:
        if self.latest is None:
            return f"no checkpoint was written yet (one every {self.every} epochs, in {self.location})"
        epoch, path = self.latest
        where = f"{self.location} (copied from {path})" if self.remote else str(path)
        return f"the last good checkpoint (epoch {epoch}) is kept at {where}"

    def _rng_states(self, rng: torch.Generator | None) -> dict[str, torch.Tensor]:
        states = {"rng.torch": torch.get_rng_state()}  # the default generator: dropout
        if rng is not None:
            states["rng.training"] = rng.get_state()  # every other draw of the loop
        if self.device.type == "cuda":
            states["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        return {k: v.contiguous() for k, v in states.items()}

    def _remove_all_but(self, keep: str) -> None:
        """Older checkpoints and what a killed save left (temporary directories, a temporary pointer);
        nothing else in the directory is touched."""
        for entry in self.directory.iterdir():
            checkpoint = _CHECKPOINT_NAME.fullmatch(entry.name.lstrip(".").split(".")[0])  # or a temporary one
            if entry.is_dir() and entry.name != keep and checkpoint:
                shutil.rmtree(entry, ignore_errors=True)
            elif entry.is_file() and entry.name.startswith(f".{LATEST}."):
                entry.unlink(missing_ok=True)


def remove_checkpoints(location: str | Path) -> bool:
    """Delete the checkpoints kept at `location` (a folder, or an s3:// prefix that `put_dir` wrote): the
    checkpoint directories, `latest.json` and what a killed save left. Other files are never touched, and
    the folder itself goes only when nothing else is left in it. Returns whether anything was there."""
    if storage.is_remote(location):
        found = bool(storage.list_versions(location))
        storage.remove_dir(location)
        return found
    directory = Path(location)
    if not directory.is_dir():
        return False
    found = False
    for entry in directory.iterdir():
        checkpoint = _CHECKPOINT_NAME.fullmatch(entry.name.lstrip(".").split(".")[0])
        if entry.is_dir() and checkpoint:
            shutil.rmtree(entry, ignore_errors=True)
            found = True
        elif entry.is_file() and (entry.name == LATEST or entry.name.startswith(f".{LATEST}.")):
            entry.unlink(missing_ok=True)
            found = True
    if not any(directory.iterdir()):
        directory.rmdir()
    return found


def latest_checkpoint(directory: str | Path) -> tuple[int, Path] | None:
    """(epoch, path) of the latest complete checkpoint in `directory`, or None; its model loads with
    `synth.models.load_model(path / "model")`."""
    pointer = Path(directory) / LATEST
    if not pointer.is_file():
        return None
    doc = _read_json(pointer)
    name = doc.get("path") if isinstance(doc, dict) else None
    if not isinstance(name, str) or not _CHECKPOINT_NAME.fullmatch(name) or not isinstance(doc.get("epoch"), int):
        raise DataError(f"checkpoint {pointer}: names no checkpoint of this directory")
    return doc["epoch"], Path(directory) / name


SELECTION_PREFIX = "selection."


def _selection_from(doc: dict | None, tensors: dict[str, torch.Tensor]) -> dict | None:
    """Model selection's state as `ModelSelection.load_state_dict` takes it, or None (no selection)."""
    if doc is None:
        return None
    state = dict(doc)
    for key, tensor in tensors.items():
        if key.startswith(SELECTION_PREFIX):
            name, field = key[len(SELECTION_PREFIX):].split(".", 1)
            state.setdefault(name, {})[field] = tensor
    return state


def _flatten_optimizer(name: str, state_dict: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """An optimizer state dict as flat tensors (moments, step counts) and JSON (hyperparameters, scalars)."""
    tensors, scalars = {}, {}
    for index, values in state_dict["state"].items():
        for key, value in values.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{name}.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{index}.{key}"] = value
    groups = [{k: list(v) if isinstance(v, tuple) else v for k, v in g.items()} for g in state_dict["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def _unflatten_optimizer(name: str, tensors: dict[str, torch.Tensor], doc: dict) -> dict:
    state: dict[int, dict[str, Any]] = {}
    prefix = f"optimizer.{name}."
    for key, tensor in tensors.items():
        if key.startswith(prefix):
            index, field = key[len(prefix):].split(".", 1)
            state.setdefault(int(index), {})[field] = tensor
    for key, value in doc["scalars"].items():
        index, field = key.split(".", 1)
        state.setdefault(int(index), {})[field] = value
    return {"state": state, "param_groups": doc["param_groups"]}


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise DataError(f"checkpoint {path}: unreadable or corrupted ({e}); delete {path.parent} "
                        f"to train from scratch") from e


def _write_json(path: Path, doc: dict, atomic: bool = False) -> None:
    text = json.dumps(doc, indent=1, allow_nan=False)  # the divergence guard keeps the diagnostics finite
    if not atomic:
        path.write_text(text)
        return
    with storage.atomic_file(path, durable=True) as tmp:
        Path(tmp).write_text(text)


def _fsync_tree(root: Path) -> None:
    """Flush a new checkpoint's files to disk before it is named the latest (a power cut, not only a kill)."""
    for folder, _, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(folder))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
