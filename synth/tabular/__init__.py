"""Tabular synthesis: ACTGAN (conditional tabular WGAN-GP)."""
from synth.tabular.actgan import ACTGAN, ACTGANConfig

__all__ = ["ACTGAN", "ACTGANConfig"]
