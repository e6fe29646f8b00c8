"""Prefect tasks: thin adapters around synth/."""
