"""The layers only point down: synth/ (the library) ← tasks/ (the steps, the run config) ← flows/
(Prefect) and synth_airflow/ (Airflow), side by side. Walks every import statement of the project's modules, at module level or inside a
function, and fails on an import against the grain or on any cycle."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("synth", "tasks", "flows", "synth_airflow")
ORCHESTRATORS = ("prefect", "airflow")
# what each layer must never import (at any depth of the file)
FORBIDDEN = {
    "synth": {"tasks", "flows", "synth_airflow", *ORCHESTRATORS, "mlflow", "great_expectations"},
    "tasks": {"flows", "synth_airflow", *ORCHESTRATORS},
    "flows": {"synth_airflow", "airflow"},          # Prefect's layer
    "synth_airflow": {"flows", "prefect"},           # Airflow's layer, beside it: the two never meet
}


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    return modules


MODULES = _modules()


def _imported(name: str, path: Path) -> set[str]:
    """Every module name an import statement of the file names (absolute, as written or resolved)."""
    names = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            # `from package import submodule` needs the submodule; any other name, the module it is in
            names.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                         for alias in node.names)
    return names


def _project_module(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_never_imports_the_layers_above_it_or_an_orchestrator(layer):
    wrong = {f"{name} imports {imported}" for name, path in MODULES.items() if name.split(".")[0] == layer
             for imported in _imported(name, path) if imported.split(".")[0] in FORBIDDEN[layer]}
    assert not wrong, sorted(wrong)


def test_no_import_cycles():
    graph = {name: {_project_module(i) for i in _imported(name, path)} - {None, name}
             for name, path in MODULES.items()}
    cycles, done = [], set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            cycles.append(trail[trail.index(name):] + [name])
            return
        if name in done:
            return
        for dep in sorted(graph[name]):
            visit(dep, trail + [name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
    assert not cycles, [" -> ".join(c) for c in cycles]


def test_the_walk_sees_imports_inside_functions_and_relative_ones(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text("from . import tabular, not_a_module\nfrom .report import build_report\n\n"
                    "def f():\n    from prefect import flow\n    import flows.cli\n")
    assert _imported("synth.fidelity.mod", path) == {"synth.fidelity.tabular", "synth.fidelity",
                                                     "synth.fidelity.report", "prefect", "flows.cli"}
