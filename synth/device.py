"""Device, precision and CUDA graphs, decided in one place for every model."""
from __future__ import annotations

import contextlib
import warnings
from typing import Callable

import torch

from synth.errors import ConfigError


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` picks CUDA when present, else CPU; asking for CUDA without one is a ConfigError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"training.device={name}: no CUDA device is available on this machine")
    return torch.device(name)


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bfloat16 autocast on CUDA when `enabled` (no GradScaler needed); a no-op elsewhere."""
    if enabled and device.type == "cuda":
        # no weight-cast cache: cached casts would outlive a captured CUDA graph's memory pool
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16, cache_enabled=False)
    return contextlib.nullcontext()


class CudaGraphStep:
    """Runs a training step eagerly a few times, then captures it as one CUDA graph and replays it.

    A small-MLP GAN step is hundreds of tiny kernels; launched one by one from Python the GPU sits
    idle between them. A replayed graph launches them all at once. The step must keep its tensors'
    shapes and devices, and draw randomness only from `rng` or the default CUDA generator.
    """

    def __init__(self, step: Callable[[], torch.Tensor], rng: torch.Generator | None, warmup: int = 3):
        self.step, self.rng, self.warmup = step, rng, warmup
        self.graph: torch.cuda.CUDAGraph | None = None
        self.calls = 0
        self.eager = False

    def __call__(self) -> torch.Tensor:
        self.calls += 1
        if self.calls <= self.warmup:  # eager, on a side stream (lets cuBLAS and autograd settle)
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                out = self.step()
            torch.cuda.current_stream().wait_stream(side)
            return out
        if self.eager:
            return self.step()
        if self.graph is None:
            graph = torch.cuda.CUDAGraph()
            if self.rng is not None:
                graph.register_generator_state(self.rng)
            try:
                with torch.cuda.graph(graph):
                    self.out = self.step()
            except RuntimeError as e:  # an op that cannot be captured: train eagerly, slower but right
                warnings.warn(f"CUDA graph capture failed ({str(e).splitlines()[0]}); training goes on "
                              "without graphs (set training.cuda_graphs=false to skip the attempt)",
                              RuntimeWarning, stacklevel=2)
                torch.cuda.synchronize()
                self.eager = True
                return self.step()
            self.graph = graph
        self.graph.replay()
        return self.out
