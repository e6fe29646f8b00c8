"""Fixtures for the library tests: a tiny ACTGAN config, a table with every supported type, a fitted model."""
from __future__ import annotations

import pyarrow as pa
import pytest
import torch

from synth.tabular import ACTGAN, ACTGANConfig
from tests.support.tables import make_mixed_table, make_tiny_config


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
