"""Fixtures for the library tests: a tiny ACTGAN config, a table with every supported type, a fitted model."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
import torch

from synth.tabular import ACTGAN, ACTGANConfig
from synth.training import WGANConfig

ROWS = 300
START = dt.datetime(2024, 1, 1)


def make_tiny_config(**training) -> ACTGANConfig:
    """Networks and training small enough that a fit takes well under a second on one CPU core."""
    return ACTGANConfig(
        embedding_dim=16, generator_dims=(32, 32), critic_dims=(32, 32), pac=10,
        max_modes=3,  # fewer mixture components: faster fits, the same code paths
        training=WGANConfig(**{"epochs": 2, "batch_size": 100, **training}),
    )


def make_mixed_table(rows: int = ROWS, seed: int = 0) -> pa.Table:
    """One column of each supported kind, with nulls where the type allows them, and constant columns."""
    rng = np.random.default_rng(seed)

    def mask(p: float = 0.1) -> np.ndarray:
        return rng.random(rows) < p

    hours = rng.integers(0, 24 * 365, rows)
    return pa.table({
        "segment": pa.array(rng.choice(["a", "b", "c"], rows), mask=mask()),
        "plan": pa.array(rng.choice(["free", "pro"], rows)).dictionary_encode(),
        "member": pa.array(rng.random(rows) < 0.4, mask=mask()),
        "age": pa.array(rng.integers(18, 91, rows).astype(np.int32), mask=mask()),
        "visits": pa.array(rng.poisson(5, rows).astype(np.int64), mask=mask(0.05)),
        "income": pa.array(np.where(rng.random(rows) < 0.5, rng.normal(30, 3, rows), rng.normal(80, 5, rows)),
                           mask=mask()),
        "joined": pa.array([START + dt.timedelta(hours=int(h)) for h in hours], pa.timestamp("us", tz="UTC")),
        "birthday": pa.array([dt.date(1960, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 15_000, rows)],
                             pa.date32()),
        "version": pa.array(np.full(rows, 3, dtype=np.int64)),
        "country": pa.array(["FR"] * rows),
    })


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """One intra-op thread: as fast for these tiny networks, and 10x faster on a busy machine
    (two spinning OpenMP threads on two shared cores stall each other)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_config() -> ACTGANConfig:
    return make_tiny_config()


@pytest.fixture(scope="session")
def mixed_table() -> pa.Table:
    return make_mixed_table()


@pytest.fixture(scope="session")
def fitted_model(mixed_table) -> ACTGAN:
    """A tiny ACTGAN fitted once for the session. Tests must not mutate it."""
    return ACTGAN(make_tiny_config()).fit(mixed_table)
