"""The schema contract through the command line: what a nightly run accepts, what it refuses, and how a
refused change is accepted. Real Prefect engine, real MLflow store, real Parquet, a tiny model."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from flows.cli import main
from synth.contract import infer_contract, load_contract, save_contract

TINY_MODEL = {"kind": "actgan", "epochs": 2, "seed": 0, "embedding_dim": 16, "generator_dims": [32, 32],
              "critic_dims": [32, 32], "pac": 10, "training": {"batch_size": 100}}
ROWS = 300


def nightly(growth: float = 1.0, days_later: int = 0) -> pa.Table:
    """One night's table, as pandas 2 wrote it (`string` columns); `growth` scales the largest price and
    carat, `days_later` moves every timestamp on."""
    rng = np.random.default_rng(0)
    price = rng.integers(300, 20_000, ROWS)
    carat = np.round(rng.gamma(2.0, 0.4, ROWS), 2)
    price[price.argmax()] = round(price.max() * growth)
    carat[carat.argmax()] = round(carat.max() * growth, 2)
    return pa.table({
        "carat": pa.array(carat),
        "price": pa.array(price, pa.int64()),
        "cut": pa.array(rng.choice(["Fair", "Good", "Ideal"], ROWS).tolist(), pa.string()),
        "color": pa.array(rng.choice(["D", "E", "F", "G"], ROWS).tolist(), pa.string()),
        "sold_at": pa.array(pd.date_range("2024-01-01", periods=ROWS, freq="h", tz="UTC")
                            + pd.Timedelta(days=days_later)),
    })


def as_pandas_3_writes_it(table: pa.Table) -> pa.Table:
    """The same values with `large_string` text columns, as pandas 3's `to_parquet` writes them."""
    return table.cast(pa.schema([f.with_type(pa.large_string()) if pa.types.is_string(f.type) else f
                                 for f in table.schema]))


def write_config(tmp_path, source, output, **extra) -> str:
    tree = {"source": {"path": str(source)}, "model": dict(TINY_MODEL), "output": {"path": str(output)},
            "report": {"gate": {"enabled": False}, "bootstrap": 0}, **extra}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(tree))
    return str(path)


@pytest.fixture
def paths(tmp_path):
    output = tmp_path / "out" / "synth.parquet"
    return tmp_path / "in.parquet", output, output.parent / "synth.contract.yaml"


def test_large_strings_from_pandas_3_are_the_same_data(tmp_path, paths, prefect_api, mlflow_store, capsys):
    source, output, contract = paths
    pq.write_table(nightly(), source)
    config = write_config(tmp_path, source, output)
    assert main(["run", config]) == 0
    stored = load_contract(contract)
    assert {c.name: c.arrow_type for c in stored.columns}["cut"] == "string" and stored.range_policy
    published = output.stat().st_mtime_ns

    pq.write_table(as_pandas_3_writes_it(nightly()), source)
    assert pq.read_schema(source).field("cut").type == pa.large_string()
    capsys.readouterr()
    assert main(["run", config]) == 0  # the same data hash: nothing to do
    assert "nothing to do" in capsys.readouterr().out
    assert output.stat().st_mtime_ns == published

    assert main(["run", config, "--set", "output.skip_unchanged=false"]) == 0  # and validated, it passes
    assert "published" in capsys.readouterr().out
    assert load_contract(contract) == stored


def test_a_nightly_table_that_grew_passes_and_a_far_outlier_fails(tmp_path, paths, prefect_api, mlflow_store,
                                                                  capsys):
    source, output, contract = paths
    pq.write_table(nightly(), source)
    config = write_config(tmp_path, source, output)
    assert main(["run", config]) == 0

    pq.write_table(nightly(growth=1.01, days_later=1), source)  # max price and carat up 1%, a day newer
    assert main(["run", config]) == 0
    assert "published" in capsys.readouterr().out

    far = nightly()
    prices = far.column("price").to_numpy()
    outlier = prices.max() + 10 * (prices.max() - prices.min())
    pq.write_table(far.set_column(1, "price", pa.array(np.r_[prices[:-1], outlier])), source)
    assert main(["run", config]) == 1
    err = capsys.readouterr().err
    assert "column 'price': expect_column_values_to_be_between" in err and str(outlier) in err
    assert "--accept-schema" in err and str(contract) in err


def test_a_refused_schema_change_is_accepted_with_accept_schema(tmp_path, paths, prefect_api, mlflow_store, capsys):
    source, output, contract = paths
    pq.write_table(nightly(), source)
    config = write_config(tmp_path, source, output)
    assert main(["run", config]) == 0
    before = contract.read_bytes()

    night = nightly()
    codes = pa.array(["DEFG".index(c) for c in night.column("color").to_pylist()], pa.int64())
    pq.write_table(night.set_column(3, "color", codes), source)  # string -> int: a real change
    capsys.readouterr()
    assert main(["run", config]) == 1
    err = capsys.readouterr().err
    assert "column 'color': expect_column_arrow_type: expected string, observed int64" in err
    last = err.strip().splitlines()[-1]
    assert "`prefect-synth run CONFIG --accept-schema`" in last and f"or edit {contract}" in last
    assert contract.read_bytes() == before

    assert main(["run", config, "--accept-schema"]) == 0
    color = {c.name: c for c in load_contract(contract).columns}["color"]
    assert (color.arrow_type, color.min, color.max, color.allowed) == ("int64", 0, 4, None)
    accepted = contract.read_bytes()
    assert main(["run", config, "--set", "output.skip_unchanged=false"]) == 0  # checked against the new one
    assert contract.read_bytes() == accepted


def test_accept_schema_never_rewrites_a_contract_the_user_wrote(tmp_path, paths, prefect_api, mlflow_store, capsys):
    source, output, _ = paths
    pq.write_table(nightly(), source)
    mine = save_contract(infer_contract(nightly()), tmp_path / "mine.contract.yaml")
    before = mine.read_bytes()
    config = write_config(tmp_path, source, output, validation={"contract": str(mine)})
    assert main(["run", config, "--accept-schema"]) != 0
    err = capsys.readouterr().err
    assert f"your own file at {mine}" in err and "edit it" in err
    assert mine.read_bytes() == before and not output.exists()
