"""CUDA paths: graph-captured training, mixed precision, GPU-to-CPU loading. Skipped without a GPU."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from synth.models import load_model
from synth.tabular import ACTGAN
from tests.support.tables import conditional_mixture, failed_mixture_checks, learning_config

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def _cuda_config(epochs: int, **training):
    config = learning_config(epochs)
    return dataclasses.replace(config, training=dataclasses.replace(config.training, device="cuda", **training))


@pytest.mark.parametrize("graphs", [True, False])
def test_cuda_training_learns(graphs):
    real = conditional_mixture()
    model = ACTGAN(_cuda_config(25, cuda_graphs=graphs)).fit(real)
    assert model.device_.type == "cuda"
    assert failed_mixture_checks(model.sample(2_000, seed=1), real) == []


def test_mixed_precision_trains_with_finite_diagnostics():
    model = ACTGAN(_cuda_config(3, amp=True)).fit(conditional_mixture())
    assert all(math.isfinite(v) for s in model.history_ for v in s.as_dict().values())


def test_a_model_trained_on_gpu_loads_and_samples_on_cpu(tmp_path):
    real = conditional_mixture()
    model = ACTGAN(_cuda_config(2)).fit(real)
    model.save(tmp_path / "model")
    on_cpu = load_model(tmp_path / "model")  # the default device is the CPU
    assert on_cpu.device_.type == "cpu"
    sample = on_cpu.sample(100, seed=0)
    assert list(sample.columns) == list(real.columns) and len(sample) == 100
    assert on_cpu.sample(100, seed=0).equals(sample)


# -- DGAN ---------------------------------------------------------------------------------------------

def _dgan_cuda(epochs: int, **training):
    from tests.support.timeseries import dgan_config
    return dgan_config(training={"epochs": epochs, "device": "cuda", **training})


@pytest.mark.parametrize("graphs", [True, False])
def test_dgan_cuda_training_learns(graphs):
    from synth.timeseries import DGAN
    from tests.support.timeseries import failed_period_checks, periodic
    model = DGAN(_dgan_cuda(120, cuda_graphs=graphs)).fit(periodic())
    assert model.device_.type == "cuda"
    assert failed_period_checks(model) == []


def test_dgan_mixed_precision_and_gpu_to_cpu_load(tmp_path):
    from synth.timeseries import DGAN
    from tests.support.timeseries import periodic
    model = DGAN(_dgan_cuda(3, amp=True)).fit(periodic())
    assert all(math.isfinite(v) for s in model.history_ for v in s.as_dict().values())
    model.save(tmp_path / "model")
    on_cpu = load_model(tmp_path / "model")
    assert on_cpu.device_.type == "cpu"
    assert on_cpu.generate(10, seed=0).equals(on_cpu.generate(10, seed=0))
