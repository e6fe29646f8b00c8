"""prefect-synth's library: transforms, the WGAN-GP loop, models and fidelity metrics.

Plain PyTorch, pandas and pyarrow: nothing here imports Prefect, MLflow or Great Expectations.
"""
from synth.errors import ConfigError, DataError, SynthError

__all__ = ["ConfigError", "DataError", "SynthError"]
