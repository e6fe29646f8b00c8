"""Tables for the ACTGAN tests: a tiny config and a table of every supported column kind (fast fits), and
a conditional two-mode table with the config that learns it and the checks that tell it was learned."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

from synth.tabular import ACTGANConfig
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


# -- learning ------------------------------------------------------------------------------------

P_HI, MEAN = 0.7, {"lo": -2.0, "hi": 3.0}
TOLERANCE = {"p_hi": 0.1, "class_mean": 0.75, "low_fraction": 0.1}


def conditional_mixture(rows: int = 2_000, seed: int = 0) -> pd.DataFrame:
    """c ∈ {lo, hi} with P(hi) = 0.7; x ~ N(-2, 0.3) if lo, N(3, 0.5) if hi."""
    rng = np.random.default_rng(seed)
    hi = rng.random(rows) < P_HI
    x = np.where(hi, rng.normal(MEAN["hi"], 0.5, rows), rng.normal(MEAN["lo"], 0.3, rows))
    return pd.DataFrame({"c": np.where(hi, "hi", "lo"), "x": x})


def learning_config(epochs: int) -> ACTGANConfig:
    """An ACTGAN config big enough to learn `conditional_mixture` in about 25 epochs."""
    return ACTGANConfig(embedding_dim=32, generator_dims=(64, 64), critic_dims=(64, 64), seed=0,
                        training=WGANConfig(epochs=epochs, batch_size=100, generator_lr=1e-3, critic_lr=1e-3))


def failed_mixture_checks(synthetic: pd.DataFrame, real: pd.DataFrame) -> list[str]:
    """The checks (with the tolerances above) that the synthetic table misses; [] when all pass."""
    failed = []
    p_hi = (synthetic["c"] == "hi").mean()
    if abs(p_hi - P_HI) > TOLERANCE["p_hi"]:
        failed.append(f"P(hi)={p_hi:.3f}")
    for category, true_mean in MEAN.items():
        mean = synthetic.loc[synthetic["c"] == category, "x"].mean()
        if not abs(mean - true_mean) <= TOLERANCE["class_mean"]:  # NaN (category never sampled) fails too
            failed.append(f"mean(x | {category})={mean:.2f}")
    low, real_low = (synthetic["x"] < 0.5).mean(), (real["x"] < 0.5).mean()
    if abs(low - real_low) > TOLERANCE["low_fraction"]:
        failed.append(f"P(x < 0.5)={low:.3f} vs {real_low:.3f}")
    return failed


CUTS = ["Fair", "Good", "Ideal", "Premium", "Very Good"]


def diamonds_like(rows: int) -> pa.Table:
    """A small diamonds-like table with one column of each Arrow type family the contract checks."""
    return pa.table({
        "carat": pa.array([0.2 + 0.05 * i for i in range(rows)], pa.float64()),
        "price": pa.array([326 + 10 * i for i in range(rows)], pa.int64()),
        "cut": pa.array([CUTS[i % 5] for i in range(rows)], pa.string()),
        "color": pa.array(["DEF"[i % 3] for i in range(rows)]).dictionary_encode(),
        "sold_at": pa.array([dt.datetime(2021, 1, 4, tzinfo=dt.timezone.utc) + dt.timedelta(hours=i)
                             for i in range(rows)], pa.timestamp("us", tz="UTC")),
        "graded_on": pa.array([dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(rows)], pa.date32()),
        "certified": pa.array([i % 4 != 0 for i in range(rows)], pa.bool_()),
    })
