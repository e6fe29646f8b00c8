"""A model kind is its library package, one entry in synth.models.KINDS and its run-config module in
tasks/kinds/: a kind added that way (in a child process, so the registry here stays as it is) is in
the run config's form, passes preflight, trains, samples and plans, with no other file changed."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq

from tests.support.pipeline import REPO, mixed_table
from tasks.kinds import SECTIONS
from synth.models import KINDS

# the new kind's run-config module, as its author would write it (a table model with ACTGAN's fields)
TOY_SECTION = textwrap.dedent('''
    from typing import Literal
    from pydantic import ConfigDict, Field
    from tasks.kinds.actgan import ActganModelConfig

    class ToyModelConfig(ActganModelConfig):
        model_config = ConfigDict(extra="forbid", frozen=True, title="Toy (tables)")
        kind: Literal["toy"] = Field("toy", description="Model family: toy for tables.")

    SECTION = ToyModelConfig
''')

ADD_KIND = textwrap.dedent('''
    import importlib.util, json, sys

    section_file, source, output = sys.argv[1:4]

    class KindModule:  # finds tasks.kinds.toy in the test's folder, as if it were tasks/kinds/toy.py
        def find_spec(self, name, path=None, target=None):
            if name == "tasks.kinds.toy" and section_file != "-":
                return importlib.util.spec_from_file_location(name, section_file)

    sys.meta_path.insert(0, KindModule())
    from synth.configs import ACTGANConfig
    from synth.models import KINDS, ModelKind
    KINDS["toy"] = ModelKind("toy", ACTGANConfig, "synth.tabular.actgan:ACTGAN", "rows", title="Toy (tables)")

    from tasks.config import RefreshConfig, parse_config
    from tasks.preflight import check_training, inspect_input
    from tasks.train import train
    import pyarrow.parquet as pq

    config = parse_config({"source": {"path": source}, "output": {"path": output},
                           "model": {"kind": "toy", "epochs": 2, "embedding_dim": 16, "generator_dims": [32],
                                     "critic_dims": [32], "pac": 5, "training": {"batch_size": 50}}})
    data = inspect_input(config)
    model = train(pq.read_table(source), config.model)
    columns, encoded = config.model.plan_columns(data.schema, model)
    form = RefreshConfig.model_json_schema()
    print(json.dumps({"type": type(model).__name__, "units": data.units, "training": check_training(config, data),
                      "rows": model.sample_table(7, seed=0).num_rows, "columns": [c.name for c in columns],
                      "encoded": encoded, "form": [ref["$ref"].split("/")[-1]
                                                   for ref in form["properties"]["model"]["anyOf"]]}))
''')


def _add_kind(tmp_path: Path, section: str | None):
    source = tmp_path / "in.parquet"
    pq.write_table(mixed_table(300), source)
    section_file = "-"
    if section is not None:
        section_file = str(tmp_path / "toy.py")
        Path(section_file).write_text(section)
    env = {**os.environ, "PYTHONPATH": str(REPO), "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    return subprocess.run([sys.executable, "-c", ADD_KIND, section_file, str(source), str(tmp_path / "out.parquet")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)


def test_every_registered_kind_has_its_run_config_section():
    assert list(SECTIONS) == list(KINDS)
    for name, section in SECTIONS.items():
        assert section.model_fields["kind"].default == name
        assert section.model_config["title"] == KINDS[name].title


def test_a_kind_added_as_a_package_and_one_registry_entry_runs(tmp_path):
    done = _add_kind(tmp_path, TOY_SECTION)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["form"] == ["ActganModelConfig", "DganModelConfig", "ToyModelConfig"]
    assert result["type"] == "ACTGAN" and result["rows"] == 7
    assert result["units"] == 300 and result["training"] == 270  # report.holdout_fraction 0.1 held back
    assert result["columns"] == mixed_table(3).column_names
    assert "values per row" in result["encoded"]


def test_a_registered_kind_without_its_section_is_named(tmp_path):
    done = _add_kind(tmp_path, None)
    assert done.returncode != 0
    assert "model kind 'toy' (synth.models.KINDS) has no run-config section: add tasks/kinds/toy.py" in done.stderr
