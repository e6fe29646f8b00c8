"""Versions and their pointer on local paths (`synth.storage.versions`): folders put and got whole,
a torn pointer refused, a pruned version read again."""
from __future__ import annotations

import json

import pyarrow.fs as pafs
import pytest

from synth import storage
from synth.errors import DataError


def test_put_dir_get_dir_locally(tmp_path):
    uri = str(tmp_path / "checkpoints" / "run")
    assert storage.get_dir(uri, tmp_path / "back") is False
    source = tmp_path / "ckpt"
    (source / "sub").mkdir(parents=True)
    (source / "state.json").write_text('{"epoch": 1}')
    (source / "sub" / "weights.safetensors").write_bytes(b"\x00\x01" * 100)
    (source / ".epoch-000004.tmp").mkdir()  # a checkpoint still being written: left out
    (source / ".epoch-000004.tmp" / "state.json").write_text("{}")
    versions = [storage.put_dir(source, uri).version]
    assert storage.get_dir(uri, tmp_path / "back") is True
    assert (tmp_path / "back" / "sub" / "weights.safetensors").read_bytes() == b"\x00\x01" * 100
    for epoch in (2, 3):
        (source / "state.json").write_text(f'{{"epoch": {epoch}}}')
        versions.append(storage.put_dir(source, uri).version)
    assert storage.get_dir(uri, tmp_path / "back") is True
    assert json.loads((tmp_path / "back" / "state.json").read_text()) == {"epoch": 3}
    assert storage.list_versions(uri) == versions[1:]  # keep_versions=2
    assert not [p for p in (tmp_path / "back").iterdir() if p.name.startswith(".")]  # no hidden entry, no staging


def test_a_torn_or_foreign_pointer_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(storage.versions, "POINTER_RETRIES", 2)
    uri = str(tmp_path / "ckpt")
    storage.put_dir(tmp_path, uri)
    pointer_path = tmp_path / "ckpt" / storage.POINTER
    pointer = json.loads(pointer_path.read_text())
    pointer["files"] = ["other.bin"]  # bytes of another write: the checksum no longer matches
    pointer_path.write_text(json.dumps(pointer))
    with pytest.raises(DataError, match="not a valid version pointer"):
        storage.get_dir(uri, tmp_path / "back")
    pointer_path.write_text('{"format": 1, "version": "x", "files": [')
    with pytest.raises(DataError, match="not a valid version pointer"):
        storage.get_dir(uri, tmp_path / "back")


def test_a_version_pruned_under_a_reader_is_read_again(tmp_path, monkeypatch):
    """A reader holding a pointer whose files were pruned reads the pointer again (never a mix)."""
    uri = str(tmp_path / "ckpt")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("old")
    stale = storage.versions._read_pointer(pafs.LocalFileSystem(), uri)
    assert stale is None
    storage.put_dir(tmp_path / "src", uri, keep_versions=None)
    stale = storage.versions._read_pointer(pafs.LocalFileSystem(), uri)
    (tmp_path / "src" / "a.txt").write_text("new")
    storage.put_dir(tmp_path / "src", uri, keep_versions=1)  # prunes the stale version's files
    real, calls = storage.versions._read_pointer, []

    def stale_first(fs, prefix):
        calls.append(prefix)
        return stale if len(calls) == 1 else real(fs, prefix)

    monkeypatch.setattr(storage.versions, "_read_pointer", stale_first)
    assert storage.get_dir(uri, tmp_path / "back") is True
    assert (tmp_path / "back" / "a.txt").read_text() == "new" and len(calls) == 2
