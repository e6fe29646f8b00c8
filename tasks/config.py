"""The run configuration: one pydantic model that is both the YAML file and the flow's parameter.

The Prefect UI renders `RefreshConfig` as a form, so every field carries a title-worthy description
and bounds; unknown keys are errors everywhere (extra="forbid"). The `model` section is each model
kind's own (`tasks/kinds/`), told apart by `model.kind`.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ConfigDict, Field, ValidationError, model_validator

from synth.errors import ConfigError
from synth.models import KINDS
from tasks.kinds import ModelConfig
from tasks.kinds.base import Strict as _Strict


class SourceConfig(_Strict):
    path: str = Field(description="Parquet file, or a directory of Parquet files / hive partitions.")
    columns: list[str] | None = Field(None, description="Columns to read (default: all).")
    sample_rows: int | None = Field(
        None, ge=2, description="Train on a uniform random sample of this many rows (dgan, long layout: this "
                                "many whole examples), drawn while the input streams by in record batches, so "
                                "it never has to fit in memory. The holdout is taken from the sample. Default: "
                                "read the whole input. An input with fewer rows (examples) is taken whole.")
    sample_seed: int = Field(0, ge=0, description="Seed of the training sample: the same data and seed give "
                                                  "the same sample.")
    batch_rows: int = Field(131_072, ge=100, le=10_000_000,
                            description="Rows per record batch while the input is streamed (sampling, full "
                                        "validation): memory grows with it.")
    pandas_index: Literal["auto", "drop", "keep"] = Field(
        "auto", description="Columns that pandas' metadata names as the DataFrame index (df.to_parquet() "
                            "stores a filtered frame's index as __index_level_0__). auto: drop unnamed ones "
                            "(__index_level_N__), keep named ones (e.g. a date set as index) as data; drop: drop "
                            "them all; keep: keep them all as data. Ignored when source.columns is set.")


class ValidationConfig(_Strict):
    contract: str | None = Field(
        None, description="Schema contract YAML. Default: inferred on the first run (from the whole input), "
                          "stored beside the output.")
    scope: Literal["full", "sample"] = Field(
        "full", description="What is checked when training on a sample (source.sample_rows). full: every row "
                            "of the input, batch by batch (Arrow types from the schema; nulls, ranges and "
                            "allowed values added up with pyarrow.compute), plus Great Expectations on the "
                            "training sample. sample: the training sample only. Without a sample both check "
                            "the whole input. The validation summary states the scope and rows checked.")
    accept_schema: bool = Field(
        False, description="Accept the input's schema as it is now: infer a new contract from this input instead "
                           "of checking it against the stored one, and store it when the run succeeds (the CLI's "
                           "`run --accept-schema`). Use it once, after an intended schema change.")

    @model_validator(mode="after")
    def _own_contract_is_never_replaced(self) -> "ValidationConfig":
        if self.accept_schema and self.contract is not None:
            raise ValueError(f"accept_schema (--accept-schema) cannot accept a new schema: the contract is your own "
                             f"file at {self.contract} (validation.contract), which is never overwritten; edit it "
                             "to accept the change, and run without --accept-schema")
        return self


class SampleConfig(_Strict):
    num_rows: int | None = Field(None, ge=1, description="Rows (actgan) or sequences (dgan) to generate "
                                                          "(default: as many as the input has).")
    conditions: dict[str, str | int | float | bool] | None = Field(
        None, description="Only generate rows with these column values, e.g. {cut: Ideal} (actgan), or "
                          "sequences with these attribute values (dgan).")
    chunk_rows: int = Field(200_000, ge=100, le=10_000_000,
                            description="Synthetic rows generated and written per chunk (dgan: as many whole "
                                        "sequences as fit); memory grows with it, not with num_rows. Each chunk "
                                        "has a seed of its own: the same seed and chunk_rows give the same file.")


class GateConfig(_Strict):
    """Thresholds that decide whether a refresh publishes (and moves the MLflow `champion` alias).
    A threshold set to null is not checked."""

    enabled: bool = Field(True, description="Apply the gate; false publishes whatever the scores.")
    min_overall: float | None = Field(0.7, ge=0, le=1, description="Minimum overall score (shapes and pairs).")
    min_column_shapes: float | None = Field(0.7, ge=0, le=1, description="Minimum column-shapes score.")
    min_column_pairs: float | None = Field(0.6, ge=0, le=1, description="Minimum column-pair-trends score.")
    min_structure: float | None = Field(None, ge=0, le=1, description="Minimum 2-D structure (PCA) score.")
    min_detection: float | None = Field(None, ge=0, le=1, description="Minimum detection score "
                                                                      "(1 = a classifier cannot tell).")
    min_series: float | None = Field(None, ge=0, le=1, description="Minimum time-series overall score (dgan).")
    max_exact_copy_rate: float | None = Field(0.05, ge=0, le=1, description="Maximum share of synthetic rows "
                                                                          "that copy a training row exactly.")
    min_dcr_holdout_share: float | None = Field(
        0.3, ge=0, le=1, description="Minimum share of synthetic rows that are no closer to the training data "
                                     "than to the holdout (distance to closest record; 0.5 is ideal).")
    min_pairs_margin: float | None = Field(
        0.0, ge=-1, le=1, description="The pair-trend score must beat the independent-columns baseline (each "
                                       "column drawn on its own: no dependence) by more than this; 0 = beat it. "
                                       "The score taken is the low end of its 90 % bootstrap interval (report."
                                       "bootstrap 0: the score itself), so a model that learned no dependence "
                                       "does not pass on a lucky draw. Empty = not checked.")
    max_detection_auc: float | None = Field(
        0.99, ge=0.5, le=1, description="Maximum AUC of the classifier telling synthetic rows from real ones "
                                        "(0.5: it cannot tell; 1: every row gives itself away).")
    max_acf_error_ratio: float | None = Field(
        1.0, gt=0, description="Time series (dgan): the synthetic autocorrelation error at most this times "
                                "that of the real sequences time-shuffled (a model that learned no temporal "
                                "order); 1 = no worse than shuffled. Skipped for tables, and when the real "
                                "sequences have almost no autocorrelation.")


class ReportConfig(_Strict):
    max_rows: int = Field(50_000, ge=100, description="Rows of each side compared in the table sections.")
    holdout_fraction: float = Field(0.1, ge=0, lt=0.5, description="Share of the real data (of the examples, "
                                    "for time series) held back from training, for reference points and privacy.")
    target: str | None = Field(None, description="A column to predict for the utility section "
                                                 "(train on synthetic, test on real).")
    bootstrap: int = Field(20, ge=0, le=1000, description="Bootstrap resamples for the confidence intervals.")
    gate: GateConfig = Field(default_factory=GateConfig)


class OutputConfig(_Strict):
    path: str = Field(description="Where the synthetic Parquet is published: a local path or s3://bucket/key.")
    report_dir: str | None = Field(None, description="Where report.json/html go (default: <output>.report/).")
    skip_unchanged: bool = Field(
        True, description="Do nothing (train nothing, publish nothing) when the current output was published "
                          "from the same input data and the same config; false refreshes it anyway.")
    keep_versions: int = Field(
        3, ge=1, le=1000,
        description="Published versions of an s3:// output kept, the current one included; older ones are "
                    "deleted after each publish (a local output is one file, replaced in place).")
    file_mode: str | None = Field(
        None, pattern=r"^0?[0-7]{3}$",
        description="Permission bits of the published local files (output, report, contract) in octal, e.g. "
                    "'0640'. Default: what a plain file write gets under the umask (0644 under the usual 0022). "
                    "s3:// objects have no mode: bucket policies decide.")

    @property
    def mode(self) -> int | None:
        """`file_mode` as a number (None: the umask's)."""
        return None if self.file_mode is None else int(self.file_mode, 8)


class TrackingConfig(_Strict):
    experiment: str | None = Field(None, description="MLflow experiment (default: the output file's stem).")
    keep_model_versions: int | None = Field(
        None, ge=1, le=10_000,
        description="Versions of the registered model kept, the newest ones (the champion always among them); "
                    "after each publish older versions are deleted with their logged model's files and their "
                    "run's files (the report); the runs stay, with params, metrics and tags. Default: keep all.")


SECRET_KEY = re.compile(r"passw|secret|token|api[_-]?key|access[_-]?key|credential|private[_-]?key", re.I)
URL_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s:]*:[^/@\s]+@", re.I)
WHERE_SECRETS_GO = ("secrets never go in a run config (it is stored with every run: MLflow params, the Prefect "
                    "form, the Airflow DAG run); set them in the worker's environment (AWS_SECRET_ACCESS_KEY, "
                    "MLFLOW_TRACKING_PASSWORD), a Prefect Secret block or an Airflow connection")


def inline_secrets(tree: Any, prefix: str = "") -> list[str]:
    """The places in a config tree that hold a secret: a key named like one, or a URL with a password."""
    found = []
    if isinstance(tree, dict):
        for key, value in tree.items():
            name = f"{prefix}{key}"
            if SECRET_KEY.search(str(key)):
                found.append(f"{name} (a key named like a secret)")
            else:
                found.extend(inline_secrets(value, name + "."))
    elif isinstance(tree, (list, tuple)):
        for i, value in enumerate(tree):
            found.extend(inline_secrets(value, f"{prefix.rstrip('.')}[{i}]."))
    elif isinstance(tree, str) and URL_PASSWORD.match(tree):
        found.append(f"{prefix.rstrip('.')} (a password in a URL)")
    return found


def _model_as_form(schema: dict[str, Any]) -> None:
    """Publish `model` as a plain anyOf: the Prefect UI draws an anyOf of objects as a form with a
    switch between the two kinds, but a oneOf with a discriminator only as raw JSON. Validation in
    Python still goes by the discriminator; the server's schema check accepts exactly the same values
    (each kind's `kind` is a constant and unknown keys are refused)."""
    model = schema["properties"]["model"]
    if "oneOf" in model:
        model["anyOf"] = model.pop("oneOf")
        model.pop("discriminator", None)


# Settings of how a refresh runs and what it keeps, not of what it makes: left out of the config hash, so
# changing them does not make an unchanged night retrain.
RETENTION_AND_POLICY = {"output": {"skip_unchanged", "keep_versions"}, "validation": {"accept_schema"},
                        "tracking": {"keep_model_versions"}}


class RefreshConfig(_Strict):
    """One synthetic refresh: read `source`, validate, train `model`, sample, report, publish `output`."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Run configuration",
                              json_schema_extra=_model_as_form)

    source: SourceConfig
    model: ModelConfig
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    sample: SampleConfig = Field(default_factory=SampleConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    output: OutputConfig
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secrets(cls, tree: Any) -> Any:
        """Refused before anything else, whichever way the config came (YAML, form, DAG params)."""
        found = inline_secrets(tree)
        if found:
            raise ValueError(f"a secret inline at {', '.join(found)}: {WHERE_SECRETS_GO}")
        return tree

    def config_hash(self) -> str:
        """Short stable hash of the whole configuration (what was asked for, not the data); whether an
        unchanged output is skipped, and how many old versions are kept, are not part of what was asked for."""
        text = json.dumps(self.model_dump(mode="json", exclude=RETENTION_AND_POLICY), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def series_spec(self):
        """The time-series columns the report compares as sequences (a long-layout dgan run), else None."""
        return self.model.series_spec()

    def gate_thresholds(self):
        """The quality gate's thresholds, or None when the gate is off."""
        from synth.fidelity.gate import GateThresholds
        gate = self.report.gate
        return GateThresholds(**gate.model_dump(exclude={"enabled"})) if gate.enabled else None

    def check_columns(self, names: list[str]) -> None:
        """Every column the config names must be in the input: one ConfigError naming all that are not."""
        named = {"report.target": [self.report.target] if self.report.target else [],
                 "sample.conditions": list(self.sample.conditions or {}), **self.model.named_columns()}
        missing = [f"{key} '{name}'" for key, columns in named.items() for name in columns if name not in names]
        if missing:
            raise ConfigError(f"{', '.join(missing)}: not a column of the input (its columns are {names})")

    def flat(self) -> dict[str, Any]:
        """`{"model.epochs": 300, ...}`: the configuration as dotted keys (MLflow params)."""
        return flatten(self.model_dump(mode="json"))


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def load_config(path: str | Path, overrides: list[str] = ()) -> RefreshConfig:
    """Read a YAML run configuration and apply `key.path=value` overrides.

    Raises:
        ConfigError: the file is missing or not YAML, a key is unknown, or a value breaks a rule.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config {path}: no such file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise ConfigError(f"config {path}: not UTF-8 text (byte 0x{raw[e.start]:02x} on line {line}); save it "
                          f"as UTF-8") from None
    try:
        tree = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"config {path}: not valid YAML ({e})") from e
    if not isinstance(tree, dict):
        raise ConfigError(f"config {path}: the top level must be a mapping of keys")
    for item in overrides:
        apply_override(tree, item)
    return parse_config(tree, source=str(path))


def apply_override(tree: dict[str, Any], item: str) -> None:
    """Set `a.b.c=value` in a nested dict; the value is parsed as YAML (numbers, lists, booleans)."""
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set {item!r}: expected key.path=value")
    parts = key.strip().split(".")
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {item!r}: '{part}' is not a section")
        node = child
    try:
        node[parts[-1]] = yaml.safe_load(raw)
    except yaml.YAMLError as e:
        raise ConfigError(f"--set {item!r}: value is not valid YAML ({e})") from e


def parse_config(tree: dict[str, Any], source: str = "config") -> RefreshConfig:
    try:
        return RefreshConfig.model_validate(tree)
    except ValidationError as e:
        raise ConfigError(f"{source}: invalid configuration\n{format_validation_error(e)}") from e


def format_validation_error(e: ValidationError) -> str:
    lines = []
    for err in e.errors():
        loc = ".".join(str(p) for p in err["loc"] if not (isinstance(p, str) and p in KINDS))
        if err["type"] == "extra_forbidden":
            lines.append(f"  {loc}: unknown key")
        elif err["type"] == "union_tag_invalid":
            ctx = err.get("ctx", {})
            lines.append(f"  {loc}.kind: unknown model kind {ctx.get('tag')!r} "
                         f"(expected one of {ctx.get('expected_tags')})")
        elif err["type"] == "union_tag_not_found":
            lines.append(f"  {loc}.kind: missing (expected one of {', '.join(KINDS)})")
        else:
            message = err["msg"].removeprefix("Value error, ")  # a rule of ours: its own words
            lines.append(f"  {loc or '(top level)'}: {message}")
    return "\n".join(lines)
