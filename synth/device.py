"""Device and precision, decided in one place for every model."""
from __future__ import annotations

import contextlib

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
