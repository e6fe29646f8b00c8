"""Malformed inputs and configs, as one matrix: every case ends with a non-zero exit, a message naming
the cause, nothing published and the previous output byte-for-byte intact.

Each case is run through `prefect-synth run` (the real flow, real Parquet, a real MLflow store) with a
previous output in place. A case builds its source and returns the config overrides it needs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from flows.cli import main
from tests.support.pipeline import mixed_table, write_config

pytestmark = pytest.mark.slow

PREVIOUS = b"previous published output"
ROWS = 60


def _write(tmp_path, table: pa.Table) -> str:
    path = tmp_path / "in.parquet"
    pq.write_table(table, path)
    return str(path)


def _plus(table: pa.Table, name: str, values) -> pa.Table:
    return table.append_column(name, values if isinstance(values, pa.Array) else pa.array(values))


def _sequences(n_examples: int = 12, steps: int = 8, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "series": np.repeat(np.arange(n_examples), steps),
        "t": np.tile(np.arange(steps), n_examples),
        "site": np.repeat(rng.choice(["a", "b"], n_examples), steps),
        "level": np.repeat(rng.normal(0, 1, n_examples), steps),
        "value": rng.normal(0, 1, n_examples * steps),
    })


DGAN = ["--set", "model={kind: dgan, epochs: 1, example_id: series, time_column: t, "
                 "attribute_columns: [site, level], feature_columns: [value], sample_len: 2, "
                 "attribute_num_units: 8, feature_num_units: 8, critic_num_units: 8, "
                 "training: {batch_size: 4}}"]


# ------------------------------------------------------------------ files that are not usable Parquet

def missing_file(tmp_path):
    return str(tmp_path / "nope.parquet"), []


def not_parquet(tmp_path):
    path = tmp_path / "in.parquet"
    path.write_text("carat,price\n1,2\n")
    return str(path), []


def truncated_parquet(tmp_path):
    path = _write(tmp_path, mixed_table(ROWS))
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])
    return path, []


def wrong_magic_bytes(tmp_path):
    path = _write(tmp_path, mixed_table(ROWS))
    data = bytearray(open(path, "rb").read())
    data[-4:] = b"PAR0"
    open(path, "wb").write(bytes(data))
    return path, []


def empty_file(tmp_path):
    path = tmp_path / "in.parquet"
    path.write_bytes(b"")
    return str(path), []


def empty_directory(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    return str(folder), []


# ------------------------------------------------------------------ tables a model cannot learn from

def zero_rows(tmp_path):
    return _write(tmp_path, mixed_table(ROWS).slice(0, 0)), []


def zero_columns(tmp_path):
    return _write(tmp_path, pa.table({"x": [1, 2, 3]}).drop_columns(["x"])), []


def duplicate_column_names(tmp_path):
    table = mixed_table(ROWS)
    dup = pa.Table.from_arrays([*table.columns, table.column("carat")], names=[*table.column_names, "carat"])
    return _write(tmp_path, dup), []


def list_column(tmp_path):
    return _write(tmp_path, _plus(mixed_table(ROWS), "tags", [["a", "b"]] * ROWS)), []


def struct_column(tmp_path):
    return _write(tmp_path, _plus(mixed_table(ROWS), "where", [{"lat": 1.0, "lon": 2.0}] * ROWS)), []


def all_null_column(tmp_path):
    return _write(tmp_path, _plus(mixed_table(ROWS), "empty", pa.nulls(ROWS, pa.float64()))), []


def positive_infinity(tmp_path):
    values = np.ones(ROWS)
    values[7] = np.inf
    return _write(tmp_path, _plus(mixed_table(ROWS), "ratio", values)), []


def negative_infinity(tmp_path):
    values = np.ones(ROWS)
    values[3] = -np.inf
    return _write(tmp_path, _plus(mixed_table(ROWS), "ratio", values)), []


def invalid_utf8(tmp_path):
    good = pa.array(["ok"] * ROWS, pa.string())
    data = bytearray(good.buffers()[2].to_pybytes())
    data[4:6] = b"\xff\xfe"  # the third value is no longer UTF-8
    bad = pa.Array.from_buffers(pa.string(), ROWS, [None, good.buffers()[1], pa.py_buffer(bytes(data))])
    return _write(tmp_path, _plus(mixed_table(ROWS), "note", bad)), []


def mixed_time_zones(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    table = mixed_table(ROWS)
    pq.write_table(table, folder / "a.parquet")
    other = table.set_column(table.column_names.index("sold_at"), "sold_at",
                             table.column("sold_at").cast(pa.timestamp("us", tz="Europe/Paris")))
    pq.write_table(other, folder / "b.parquet")
    return str(folder), []


def million_categories(tmp_path):
    n = 1_000_000
    rng = np.random.default_rng(0)
    table = pa.table({"order_id": pa.array([f"o{i:07d}" for i in range(n)]),
                      "amount": rng.gamma(2.0, 10.0, n)})
    return _write(tmp_path, table), ["--set", "source.columns=[order_id, amount]"]


def binary_column(tmp_path):
    return _write(tmp_path, _plus(mixed_table(ROWS), "blob", pa.array([b"\x00\x01"] * ROWS, pa.binary()))), []


# ------------------------------------------------------------------ time series

def nan_in_series_attribute(tmp_path):
    frame = _sequences()
    frame.loc[frame.series == 3, "level"] = np.nan  # a real NaN (pandas' from_pandas would make it a null)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    level = pa.array(frame["level"].to_numpy(), from_pandas=False)
    return _write(tmp_path, table.set_column(table.column_names.index("level"), "level", level)), DGAN


def attribute_changes_within_example(tmp_path):
    frame = _sequences()
    frame.loc[(frame.series == 2) & (frame.t == 5), "site"] = "zzz"
    return _write(tmp_path, pa.Table.from_pandas(frame, preserve_index=False)), DGAN


def duplicate_time_stamps(tmp_path):
    frame = _sequences()
    frame.loc[(frame.series == 4) & (frame.t == 3), "t"] = 2
    return _write(tmp_path, pa.Table.from_pandas(frame, preserve_index=False)), DGAN


def sample_len_not_dividing(tmp_path):
    return (_write(tmp_path, pa.Table.from_pandas(_sequences(), preserve_index=False)),
            [*DGAN, "--set", "model.sample_len=3"])


def example_id_missing(tmp_path):
    return (_write(tmp_path, pa.Table.from_pandas(_sequences().drop(columns="series"), preserve_index=False)),
            DGAN)


def symlink_loop(tmp_path):
    (tmp_path / "a.parquet").symlink_to(tmp_path / "b.parquet")
    (tmp_path / "b.parquet").symlink_to(tmp_path / "a.parquet")
    return str(tmp_path / "a.parquet"), []


def _partitions(tmp_path, *tables: pa.Table) -> str:
    for day, table in enumerate(tables, start=1):
        folder = tmp_path / "in" / f"day={day}"
        folder.mkdir(parents=True)
        pq.write_table(table, folder / "part-0.parquet")
    return str(tmp_path / "in")


def type_changes_between_partitions(tmp_path):
    table = mixed_table(ROWS)
    later = table.set_column(table.schema.get_field_index("price"), "price",
                             pa.array([f"{v:.2f}" for v in table["price"].to_pylist()]))  # as text
    return _partitions(tmp_path, table, later), []


def column_added_in_a_later_partition(tmp_path):
    table = mixed_table(ROWS)
    return _partitions(tmp_path, table, _plus(table, "discount", np.linspace(0, 0.3, ROWS))), []


def config_not_utf8(tmp_path):
    def edit(config):  # a comment saved in Latin-1, as an old editor might
        config.write_bytes(config.read_bytes() + "# prix en \u20ac, caf\u00e9\n".encode("cp1252"))
    return _write(tmp_path, mixed_table(ROWS)), [], edit


# ------------------------------------------------------------------ configs

def _table_config(*overrides):
    def case(tmp_path):
        return _write(tmp_path, mixed_table(ROWS)), [x for item in overrides for x in ("--set", item)]
    return case


def output_not_writable(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    return _write(tmp_path, mixed_table(ROWS)), ["--set", f"output.path={blocker / 'sub' / 'out.parquet'}"]


def unreachable_mlflow(tmp_path, monkeypatch=None):
    return _write(tmp_path, mixed_table(ROWS)), []


CASES = [
    (missing_file, "no such file"),
    (not_parquet, "is not a Parquet file (it looks like CSV)"),
    (truncated_parquet, "truncated or damaged Parquet file"),
    (wrong_magic_bytes, "truncated or damaged Parquet file"),
    (empty_file, "is an empty file, not Parquet"),
    (empty_directory, "no Parquet files"),
    (zero_rows, "zero rows"),
    (zero_columns, "no columns"),
    (duplicate_column_names, "duplicate column name(s) ['carat']"),
    (list_column, "'tags'"),
    (struct_column, "'where'"),
    (binary_column, "'blob'"),
    (all_null_column, "'empty'"),
    (positive_infinity, "'ratio'"),
    (negative_infinity, "'ratio'"),
    (invalid_utf8, "'note'"),
    (mixed_time_zones, "'sold_at'"),
    (million_categories, "'order_id'"),
    (nan_in_series_attribute, "'level'"),
    (attribute_changes_within_example, "'site'"),
    (duplicate_time_stamps, "duplicate"),
    (sample_len_not_dividing, "sample_len"),
    (example_id_missing, "'series'"),
    (_table_config("model.epochz=3"), "model.epochz: unknown key"),
    (_table_config("sourc.path=x"), "sourc: unknown key"),
    (_table_config("model.kind=gan"), "model.kind"),
    (_table_config("model.epochs=-1"), "model.epochs"),
    (_table_config("model.epochs=0"), "model.epochs"),
    (_table_config("source.columns=[carat, nope]"), "'nope'"),
    (_table_config("model.training.batch_size=25"), "pac"),
    (_table_config("model.training.batch_size=5000"), "batch_size"),
    (_table_config("report.holdout_fraction=1.5"), "holdout_fraction"),
    (_table_config("model.training.generator_lr=-1"), "generator_lr"),
    (output_not_writable, "blocker"),
    (symlink_loop, "a symbolic link loop"),
    (type_changes_between_partitions, "column 'price' is string in"),
    (column_added_in_a_later_partition, "column 'discount' is in"),
    (config_not_utf8, "not UTF-8 text (byte 0x80 on line"),
    (_table_config("source.aws_secret_access_key=abc123"), "a secret inline at source.aws_secret_access_key"),
    (_table_config("output.path=s3://AKIAEXAMPLE:abc123@bucket/synth.parquet"),
     "a secret inline at output.path (a password in a URL)"),
]


def _id(i: int, case) -> str:
    make = case.values[0] if hasattr(case, "values") else case[0]
    return make.__name__ if make.__name__ != "case" else f"config-{i}"


@pytest.mark.parametrize("make, expected", CASES, ids=[_id(i, c) for i, c in enumerate(CASES)])
def test_bad_input_fails_cleanly(make, expected, tmp_path, prefect_api, mlflow_store, capsys):
    source, overrides, *edit = make(tmp_path)
    output = tmp_path / "out" / "synth.parquet"
    output.parent.mkdir()
    output.write_bytes(PREVIOUS)
    config = write_config(tmp_path, source, output)
    for change in edit:
        change(Path(config))
    code = main(["run", config, *overrides])
    err = capsys.readouterr().err
    assert "abc123" not in err  # a secret given inline is refused without being shown
    assert code != 0, err
    # what the user reads last: the error naming the cause, not an exception's type from deep inside
    assert "prefect-synth: error: " in err, err
    assert expected in err[err.rindex("prefect-synth: error: "):], err
    assert output.read_bytes() == PREVIOUS
    assert sorted(p.name for p in output.parent.iterdir()) == ["synth.parquet"]  # nothing staged or half-written


def test_an_unreachable_mlflow_server_fails_before_training(tmp_path, prefect_api, monkeypatch, capsys):
    import mlflow

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # discard port: nothing listens
    mlflow.set_tracking_uri("http://127.0.0.1:9")
    try:
        source, _ = unreachable_mlflow(tmp_path)
        output = tmp_path / "out" / "synth.parquet"
        output.parent.mkdir()
        output.write_bytes(PREVIOUS)
        code = main(["run", write_config(tmp_path, source, output)])
    finally:
        mlflow.set_tracking_uri(None)
    err = capsys.readouterr().err
    assert code != 0
    assert "127.0.0.1:9" in err and "MLflow" in err, err
    assert output.read_bytes() == PREVIOUS


# ------------------------------------------------------------------ awkward but valid: refreshed as they are

def decimal_column(table: pa.Table) -> pa.Table:
    import decimal

    rng = np.random.default_rng(3)
    values = [decimal.Decimal(f"{v:.2f}") for v in rng.uniform(100, 9000, table.num_rows)]
    return _plus(table, "amount", pa.array(values, pa.decimal128(12, 2)))


def timestamps_beyond_nanoseconds(table: pa.Table) -> pa.Table:
    import datetime as dt

    start = dt.datetime(1650, 1, 1)  # pandas' nanosecond timestamps end in 1677 and 2262
    values = [start + dt.timedelta(days=int(d)) for d in np.linspace(0, 365 * 700, table.num_rows)]
    return _plus(table, "founded", pa.array(values, pa.timestamp("us")))


def dictionary_strings_with_nulls(table: pa.Table) -> pa.Table:
    values = pa.array([None if i % 4 == 0 else ["north", "south", "east"][i % 3] for i in range(table.num_rows)])
    return _plus(table, "region", values.dictionary_encode())


@pytest.mark.parametrize("add, column", [(decimal_column, "amount"), (timestamps_beyond_nanoseconds, "founded"),
                                         (dictionary_strings_with_nulls, "region")],
                         ids=lambda value: getattr(value, "__name__", None) or value)
def test_awkward_but_valid_input_is_refreshed_with_its_types(add, column, tmp_path, prefect_api, mlflow_store):
    real = add(mixed_table(200))
    source, output = _write(tmp_path, real), tmp_path / "out" / "synth.parquet"
    assert main(["run", write_config(tmp_path, source, output)]) == 0
    synthetic = pq.read_table(output)
    assert synthetic.schema.field(column).type == real.schema.field(column).type
    values, seen = synthetic[column], real[column]
    if pa.types.is_dictionary(seen.type):
        assert 0 < values.null_count < len(values)  # the nulls come back, beside the categories
        assert set(values.drop_null().to_pylist()) <= set(seen.drop_null().to_pylist())
    else:
        low, high = pc.min_max(seen).values()
        assert pc.all(pc.greater_equal(values.drop_null(), low)).as_py()
        assert pc.all(pc.less_equal(values.drop_null(), high)).as_py()
