"""Sequences for the DGAN tests: a periodic data set whose period depends on the class, a small DGAN
config for it, and the check that a model learned the class-dependent period."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from synth.timeseries import DGAN, DGANConfig
from synth.training import WGANConfig

PERIOD = {"fast": 4, "slow": 8}


def periodic(examples: int = 400, length: int = 16, seed: int = 0) -> pd.DataFrame:
    """Long format: class fast → period 4, slow → period 8; random phase and amplitude, a little noise."""
    rng = np.random.default_rng(seed)
    cls = rng.choice(list(PERIOD), examples)
    period = np.array([PERIOD[c] for c in cls])[:, None]
    t = np.arange(length)[None, :]
    phase = rng.uniform(0, 2 * np.pi, (examples, 1))
    amp = rng.uniform(1.0, 2.0, (examples, 1))
    x = amp * np.sin(2 * np.pi * t / period + phase) + rng.normal(0, 0.05, (examples, length)) + 10
    return pd.DataFrame({
        "id": np.repeat(np.arange(examples), length),
        "t": np.tile(np.arange(length), examples),
        "cls": np.repeat(cls, length),
        "x": x.ravel(),
    })


def dgan_config(**kw) -> DGANConfig:
    """A small DGAN config for `periodic` data; keyword arguments (and `training={...}`) override it."""
    training = {"epochs": 2, "batch_size": 50, "generator_lr": 1e-3, "critic_lr": 1e-3, "betas": (0.5, 0.999),
                **kw.pop("training", {})}
    base = dict(example_id="id", time_column="t", attribute_columns=("cls",), feature_columns=("x",),
                max_sequence_len=16, sample_len=4, attribute_num_units=32, feature_num_units=32,
                critic_num_layers=3, critic_num_units=64, training=WGANConfig(**training))
    return DGANConfig(**{**base, **kw})


def acf(x: np.ndarray, lag: int) -> float:
    """The autocorrelation at `lag`, averaged over the rows (one sequence a row)."""
    x = x - x.mean(axis=1, keepdims=True)
    return float(((x[:, lag:] * x[:, :-lag]).sum(1) / ((x ** 2).sum(1) + 1e-12)).mean())


def series(table: pa.Table, length: int = 16) -> np.ndarray:
    """The x column of a long-format table as one row per example, in time order."""
    df = table.to_pandas().sort_values(["id", "t"])
    return df["x"].to_numpy().reshape(-1, length)


def failed_period_checks(model: DGAN) -> list[str]:
    """Per class: the ACF at lag 4 is strongly positive for period 4 and strongly negative for period 8."""
    failed = []
    for cls, sign in (("fast", 1), ("slow", -1)):
        out = model.generate(attributes=pd.DataFrame({"cls": [cls] * 200}), seed=1)
        value = acf(series(out), 4)
        if not sign * value > 0.4:
            failed.append(f"acf(lag 4 | {cls})={value:.2f}")
    return failed
