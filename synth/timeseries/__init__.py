"""Time-series synthesis: DGAN (DoppelGANger)."""
from synth.timeseries.dgan import DGAN, DGANConfig
from synth.timeseries.transform import FeatureEncoding, Normalization

__all__ = ["DGAN", "DGANConfig", "FeatureEncoding", "Normalization"]
