"""Time-series synthesis: DGAN (DoppelGANger)."""
from synth.timeseries.dgan import DGAN, DGANConfig
from synth.timeseries.transform import Normalization

__all__ = ["DGAN", "DGANConfig", "Normalization"]
