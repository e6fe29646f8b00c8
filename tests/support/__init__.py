"""Plain helpers shared by several test modules (data builders, configs, checks). Test modules import
from here, never from one another; shared fixtures live in the conftest.py files."""
