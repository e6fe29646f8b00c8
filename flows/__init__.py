"""Prefect flows and the prefect-synth command line."""
