"""What a run would refuse, found before it spends an hour training: `run`'s preflight, the first half of
`check`, and the refresh's own checks of where it will write.

Only footers are read, plus, for a long time series, the example-id and time columns: never the whole
table. Each error is the ConfigError or DataError the flow would raise later, with the same message;
where the model has the check (`Sequences.from_table`), it is the model's own code that runs.
No Prefect, MLflow or Great Expectations is imported here.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tasks.config import RefreshConfig
from tasks.kinds.base import Inspected
from tasks.train import checkpointing
from synth import storage
from synth.errors import ConfigError, DataError
from synth.storage import ParquetSource, check_not_empty
from synth.tables import ColumnHealth


def inspect_input(config: RefreshConfig) -> Inspected:
    """Check the output paths, the input's schema and columns, and what a time series must be.

    The training-size checks the flow makes only after validation (holdout, batch size) are left to
    `check_training`, which `prefect-synth check` adds: a run still reports a bad column or value
    before them, as it always did.

    Raises:
        ConfigError: a path cannot be written, a configured column is missing, the model refuses a setting.
        DataError: the input is missing, not Parquet, empty, has an untrainable column, names a column
            in model.column_transforms that cannot take a transform, or breaks a sequence rule (too long,
            duplicate time stamps, fewer than two examples, ...).
    """
    check_not_inside_source(config)  # in the flow's order
    check_writable(config.output.path, "output.path")
    check_writable(os.path.join(report_dir(config), "report.json"), "output.report_dir")
    checkpoints = checkpointing(config.model, config.output.path)
    if checkpoints is not None:  # found now, not after the flow has started training
        check_writable(str(checkpoints.directory).rstrip("/"), "model.training.checkpoint_dir", "checkpoint")
    path = config.source.path
    with storage.store_errors(path, "input"):
        source = open_source(path, config.source.columns, config.source.pandas_index)
        schema = source.schema()
        rows = check_not_empty(source)
        ColumnHealth(schema, source=f"input {path}")  # duplicate names, unsupported types
        config.check_columns(schema.names)
        _check_model_settings(config)
        return config.model.inspect(config, source, schema, rows)  # the kind's own reading and checks


def check_training(config: RefreshConfig, data: Inspected) -> int:
    """The rows (examples) a run will train on, after `report.holdout_fraction`.

    Raises:
        DataError: too few to hold any back (as `split_holdout` says it).
        ConfigError: a batch size the user chose is larger than that (as the flow's `_check_batch`).
    """
    what = f"examples ('{config.model.example_id}')" if data.unit == "examples" else "rows"
    training = training_units(config, data.units_read, what)
    check_batch(config, training, data.unit)
    return training


def report_dir(config: RefreshConfig) -> str:
    """Where report.json/html go: `output.report_dir`, else `<output without .parquet>.report` beside it."""
    return config.output.report_dir or storage.beside(config.output.path, ".report")


def open_source(path: str, columns: list[str] | None = None, pandas_index: str = "auto") -> ParquetSource:
    """The input as the run opens it (`synth.storage.open_source`), its footers read.

    Raises:
        DataError: the path is missing, not Parquet, or lacks a configured column.
    """
    source = storage.open_source(path, columns, pandas_index)
    source.dataset()  # opens the footers: DataError if missing, not Parquet, or lacking a configured column
    return source


def training_units(config: RefreshConfig, units: int, what: str) -> int:
    """Rows (examples) left to train on after `report.holdout_fraction`; DataError as `split_holdout` says it."""
    fraction = config.report.holdout_fraction
    if fraction <= 0:
        return units
    held = int(round(fraction * units))
    if held < 1 or units - held < 2:
        raise DataError(f"report.holdout_fraction={fraction}: the input has {units} {what}, too few to hold "
                        f"{max(held, 1)} back and still train on at least 2; lower it (0 turns the holdout off)")
    return units - held


def check_batch(config: RefreshConfig, units: int, what: str) -> None:
    """A batch size the user chose that is larger than the training data is a mistake worth naming;
    the default one is clamped by the model (DoppelGANger's 1,024 examples often exceed small data)."""
    training = config.model.training
    default = type(config.model).model_fields["training"].get_default(call_default_factory=True).batch_size
    if training.batch_size != default and training.batch_size > units:
        raise ConfigError(f"model.training.batch_size={training.batch_size} is larger than the {units} training "
                          f"{what} (after holding back report.holdout_fraction={config.report.holdout_fraction}): "
                          f"lower it, or leave it unset")


def _check_model_settings(config: RefreshConfig) -> None:
    """What the model refuses in the settings alone: building it, and the device it is to train on."""
    from tasks.estimator import synth_model
    from synth.device import resolve_device

    synth_model(config.model)
    resolve_device(config.model.training.device)


# ---------------------------------------------------------------- where the run writes


def check_writable(path: str | os.PathLike, what: str, kind: str = "output") -> None:
    """ConfigError, naming `what` and the obstacle, unless a file can be created in `path`'s folder
    (`kind`: what the store's message calls the location).

    An s3:// URI is checked by writing and deleting a probe object beside it.
    """
    if storage.is_remote(path):
        try:
            storage.check_writable(path, kind)
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
