"""Each model kind's run-config section, found by the kind's name in the library's registry.

    synth.models.KINDS["dgan"]  →  tasks/kinds/dgan.py: SECTION = DganModelConfig

A kind's module defines its `ModelSection` subclass (the `model` section of the YAML file and the UI
form, with the kind's fields and descriptions) and names it `SECTION`. `ModelConfig`, the run config's
`model` field, is the union of every kind's section, told apart by `kind`. Adding a kind is its library
package, its entry in KINDS, and its module here; no other file changes.
"""
from __future__ import annotations

import importlib
from typing import Annotated, Union

from pydantic import Field

from synth.models import KINDS
from tasks.kinds.base import ModelSection


def _section(name: str) -> type[ModelSection]:
    try:
        module = importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.{name}":
            raise
        raise ImportError(f"model kind {name!r} (synth.models.KINDS) has no run-config section: "
                          f"add tasks/kinds/{name}.py defining SECTION") from None
    section = getattr(module, "SECTION", None)
    if not (isinstance(section, type) and issubclass(section, ModelSection)):
        raise ImportError(f"tasks/kinds/{name}.py: SECTION must be a ModelSection subclass")
    if section.model_fields["kind"].default != name:
        raise ImportError(f"tasks/kinds/{name}.py: SECTION's kind defaults to "
                          f"{section.model_fields['kind'].default!r}, not {name!r}")
    return section


SECTIONS: dict[str, type[ModelSection]] = {name: _section(name) for name in KINDS}

# the run config's `model`: one of the sections, chosen by `kind`
ModelConfig = Annotated[Union[tuple(SECTIONS.values())], Field(discriminator="kind")]
