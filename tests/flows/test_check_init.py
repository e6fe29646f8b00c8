"""`prefect-synth check` and `init`, and `run`'s preflight: bad input fails before any server starts.

Everything goes through the CLI on real Parquet files; no Prefect API is started here.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import BaseModel

from flows.cli import main
from tasks.config import RefreshConfig, load_config
from tests.support.pipeline import TINY_MODEL, mixed_table, write_config

REPO = Path(__file__).resolve().parents[2]
TINY_DGAN = {"kind": "dgan", "epochs": 2, "example_id": "series", "time_column": "t",
             "attribute_columns": ["site", "level"], "feature_columns": ["value"], "sample_len": 2,
             "attribute_num_units": 8, "feature_num_units": 8, "critic_num_units": 8, "critic_num_layers": 2,
             "training": {"batch_size": 4}}


def sequences(n_examples: int = 12, steps: int = 8, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.Table.from_pandas(pd.DataFrame({
        "series": np.repeat(np.arange(n_examples), steps),
        "t": np.tile(np.arange(steps), n_examples),
        "site": np.repeat(rng.choice(["a", "b"], n_examples), steps),
        "level": np.repeat(rng.normal(0, 1, n_examples), steps),
        "value": rng.normal(0, 1, n_examples * steps),
    }), preserve_index=False)


@pytest.fixture
def table_source(tmp_path) -> Path:
    path = tmp_path / "gems.parquet"
    pq.write_table(mixed_table(200), path)
    return path


@pytest.fixture
def series_source(tmp_path) -> Path:
    path = tmp_path / "sensors.parquet"
    pq.write_table(sequences(), path)
    return path


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


# ------------------------------------------------------------------ check


@pytest.mark.parametrize("kind", ["actgan", "dgan"])
def test_check_prints_the_plan_and_writes_nothing(kind, tmp_path, table_source, series_source, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    source, model = (table_source, TINY_MODEL) if kind == "actgan" else (series_source, TINY_DGAN)
    output = tmp_path / "out" / "synth.parquet"
    config = write_config(tmp_path, source, output, model=dict(model))
    before = _files(tmp_path)

    assert main(["check", config]) == 0

    out = capsys.readouterr().out
    assert _files(tmp_path) == before  # no output, report, contract, checkpoint or mlflow.db
    rows = 200 if kind == "actgan" else 96
    assert f"{source}: {rows} rows" in out, out
    assert re.search(r"\d+ steps? per epoch", out) and re.search(r"about [\d.]+ m?s per step", out), out
    epochs = model["epochs"]
    assert re.search(rf"per epoch, [\d.]+ (ms|s|min|h) for {epochs} epochs", out), out
    assert re.search(rf"{re.escape(str(output))}: [\d,]+ rows.*about [\d.]+ (B|kB|MB)", out), out
    if kind == "actgan":
        assert "training  180 rows" in out and "batch 100" in out  # 10% held back
        assert re.search(r"cut +dictionary<values=string.*one-hot: 3 categories", out), out
        assert re.search(r"carat +double +continuous +\d+ +log \(skew [\d.]+ → -?[\d.]+\), then mode-specific "
                         r"normalisation", out), out  # skewed: learned on a log scale
        assert re.search(r"shop +string +discrete +0 +constant", out), out
    else:
        assert "12 examples of up to 8 steps" in out and "batch 4" in out, out
        assert re.search(r"series +int64 +continuous +example id +0", out), out
        assert re.search(r"site +large_string +discrete +attribute +2 +one-hot: 2 categories", out), out
        assert re.search(r"value +double +continuous +feature +1 +min-max scaled", out), out


def test_check_stops_at_the_first_thing_a_run_would_refuse(tmp_path, table_source, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path, table_source, tmp_path / "out.parquet", model=dict(TINY_MODEL))
    assert main(["check", config, "--set", "model.training.batch_size=95"]) == 2  # not a multiple of pac
    assert "pac=10" in capsys.readouterr().err
    assert main(["check", config, "--set", "model.training.batch_size=5000"]) == 2
    assert "model.training.batch_size=5000 is larger than the 180 training rows" in capsys.readouterr().err


# ------------------------------------------------------------------ run fails fast

def _fail_fast_cases(tmp_path: Path, table_source: Path, series_source: Path) -> dict[str, tuple[list[str], str]]:
    csv = tmp_path / "gems.csv"
    csv.write_text("carat,price\n1,2\n")
    disguised = tmp_path / "disguised.parquet"
    disguised.write_text("carat,price\n1,2\n")
    series = str(Path(write_config(tmp_path, series_source, tmp_path / "out" / "s.parquet", model=dict(TINY_DGAN)))
                 .rename(tmp_path / "series.yaml"))
    table = write_config(tmp_path, table_source, tmp_path / "out" / "synth.parquet", model=dict(TINY_MODEL))
    return {
        "wrong path": ([table, "--set", f"source.path={tmp_path / 'nope.parquet'}"], "no such file"),
        "csv named .parquet": ([table, "--set", f"source.path={disguised}"], "Parquet"),
        "csv": ([table, "--set", f"source.path={csv}"], "Parquet"),
        "wrong column": ([table, "--set", "report.target=prize"], "report.target 'prize': not a column"),
        "sequence too long": ([series, "--set", "model.max_sequence_len=4"],
                              "12 example(s) are longer than max_sequence_len=4"),
    }


def test_run_refuses_bad_input_before_prefect_is_imported(tmp_path, table_source, series_source):
    """Each case in a fresh interpreter: `run` exits non-zero with one line, and Prefect was never imported
    (so no temporary API server was started: the 15 s wait is gone)."""
    cases = _fail_fast_cases(tmp_path, table_source, series_source)
    script = (
        "import contextlib, io, json, sys\n"
        "from flows.cli import main\n"
        "results = {}\n"
        f"for name, argv in json.loads({json.dumps(json.dumps({k: v[0] for k, v in cases.items()}))}).items():\n"
        "    err = io.StringIO()\n"
        "    with contextlib.redirect_stderr(err):\n"
        "        code = main(['run', *argv])\n"
        "    results[name] = [code, err.getvalue()]\n"
        "print(json.dumps({'results': results, 'prefect': 'prefect' in sys.modules}))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, env={**_env(), "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    for name, (_, expected) in cases.items():
        code, err = report["results"][name]
        assert code != 0, name
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("prefect-synth: error: ") and expected in lines[0], (name, err)
    assert report["prefect"] is False
    assert not (tmp_path / "out").exists()


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}


# ------------------------------------------------------------------ init


def _keys(node: BaseModel, prefix: str = "") -> list[tuple[str, str]]:
    """(dotted key, field name) of every key of a config, sections included, in order."""
    out = []
    for name in type(node).model_fields:
        value = getattr(node, name)
        out.append((prefix + name, name))
        if isinstance(value, BaseModel):
            out += _keys(value, f"{prefix}{name}.")
    return out


def _assert_every_key_commented(text: str, config: RefreshConfig) -> None:
    lines = text.splitlines()
    at = 0
    for dotted, name in _keys(config):
        pattern = re.compile(rf"^\s*(# )?{re.escape(name)}:( |$)")
        while at < len(lines) and not pattern.match(lines[at]):
            at += 1
        assert at < len(lines), f"{dotted} is not in the config"
        assert lines[at - 1].lstrip().startswith("# ") and not pattern.match(lines[at - 1]), \
            f"{dotted} has no comment above it"
        at += 1


@pytest.mark.parametrize("kind", ["actgan", "dgan"])
def test_init_writes_a_commented_config_that_check_passes(kind, tmp_path, table_source, series_source,
                                                          monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    source = table_source if kind == "actgan" else series_source
    written = tmp_path / "run.yaml"

    assert main(["init", str(source), "--out", str(written)]) == 0

    config = load_config(written)
    assert config.model.kind == kind
    assert config.source.path == str(source)
    assert config.output.path == str(source.with_name(source.stem + "_synth.parquet"))
    if kind == "dgan":
        m = config.model
        assert (m.layout, m.example_id, m.time_column) == ("long", "series", "t")
        assert m.attribute_columns == ["site", "level"] and m.feature_columns == ["value"]
    text = written.read_text()
    _assert_every_key_commented(text, config)
    capsys.readouterr()
    before = _files(tmp_path)
    assert main(["check", str(written)]) == 0, capsys.readouterr().err
    assert _files(tmp_path) == before


def test_init_prints_the_config_without_out(tmp_path, table_source, capsys):
    assert main(["init", str(table_source)]) == 0
    text = capsys.readouterr().out
    assert "kind: actgan" in text and f"path: {table_source}" in text


def test_init_refuses_what_is_not_parquet(tmp_path, capsys):
    csv = tmp_path / "gems.csv"
    csv.write_text("carat,price\n1,2\n")
    assert main(["init", str(csv)]) == 2
    assert "Parquet" in capsys.readouterr().err
