"""The example DAG's `params`: the run config's JSON schema, generated from the same pydantic model
(`tasks.config.RefreshConfig`) as the Prefect form, so Airflow's trigger form validates the same way.

The scheduler re-parses DAG files constantly, and generating the schema imports the run config's
module, so the schema is generated once into `refresh_config.schema.json` beside this file
(`python -m synth_airflow.params` rewrites it; tests/airflow checks that it is current) and a DAG
only reads that file.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).with_name("refresh_config.schema.json")


def build_schema() -> dict[str, Any]:
    """RefreshConfig's JSON schema as an Airflow param takes it: null allowed (no config given), and no
    top-level `description` (Airflow rebuilds a param from `description=…, **schema`)."""
    from tasks.config import RefreshConfig

    schema = RefreshConfig.model_json_schema()
    schema.pop("description", None)
    schema["type"] = ["object", "null"]  # null: the scheduled run, which reads the config files instead
    return schema


def config_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text())


def refresh_params(configs: list[str]) -> dict[str, Any]:
    """`configs` (run config files, one table each), `config` (one run config, instead of the files) and
    `overrides` (key.path=value on top of each), as Airflow params."""
    from airflow.sdk import Param

    return {
        "configs": Param(list(configs), type="array", items={"type": "string"}, title="Run config files",
                         description="YAML run configs, one table each, relative to SYNTH_HOME (the scheduled "
                                     "run refreshes all of them, one mapped task per table)."),
        "config": Param(None, schema=config_schema(), title="Run config",
                        description="One run config to refresh instead of the files: the same keys as the "
                                    "YAML file (source, model, output, ...). Empty: use the files."),
        "overrides": Param([], type="array", items={"type": "string"}, title="Overrides",
                           description="key.path=value settings applied to every table, as "
                                       "`prefect-synth run --set`, e.g. model.epochs=5."),
    }


if __name__ == "__main__":
    SCHEMA_FILE.write_text(json.dumps(build_schema(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {SCHEMA_FILE}")
