"""The project's packages import one another one way: no cycle, remote code alone, the README's layout order.

Imports are read with ``ast`` from every module of every package (function-level imports included),
so nothing is imported here.
"""

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES: tuple[str, ...] = ("modeling_msmix", "data_processing", "trainer", "hub_cards", "demo", "benchmarks")


def imported_packages(path: Path, package: str) -> set[str]:
    """The project packages that the module at ``path`` (inside ``package``) imports, absolutely or relatively."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.add(package if node.level else (node.module or "").split(".")[0])
    return found & set(PACKAGES)


def package_imports() -> dict[tuple[str, str], list[str]]:
    """``(importer, imported) -> [modules of importer that import imported]`` over every module of the packages."""
    edges: dict[tuple[str, str], list[str]] = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            for target in imported_packages(path, package) - {package}:
                edges.setdefault((package, target), []).append(str(path.relative_to(REPO)))
    return edges


def find_cycle(edges) -> list[str] | None:
    """One cycle of the package graph as ``[a, b, ..., a]``, or ``None``."""
    graph = {package: sorted(target for source, target in edges if source == package) for package in PACKAGES}
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for target in graph[node]:
            if state.get(target) == "open":  # on the current path: the way back to it closes a cycle
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target, path + [target])):
                return cycle
        state[node] = "done"
        return None

    for package in PACKAGES:
        if package not in state and (cycle := visit(package, [package])):
            return cycle
    return None


def readme_layer_order() -> list[str]:
    """The packages in the order of the README's layout table."""
    section = (REPO / "README.md").read_text(encoding="utf-8").split("## Layout", 1)[1].split("\n## ", 1)[0]
    folder_cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return [name for cell in folder_cells for name in re.findall(r"`(\w+)/`", cell) if name in PACKAGES]


def test_the_import_reader_sees_absolute_relative_and_function_level_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import numpy\nfrom trainer.metrics import x\nfrom . import sibling\n\n"
                      "def f():\n    import hub_cards.push\n")
    assert imported_packages(module, "demo") == {"trainer", "hub_cards", "demo"}


def test_the_cycle_finder_names_a_cycle():
    assert find_cycle({("trainer", "hub_cards"): [], ("hub_cards", "data_processing"): []}) is None
    cycle = find_cycle({("trainer", "hub_cards"): [], ("hub_cards", "trainer"): [], ("demo", "trainer"): []})
    assert cycle in (["trainer", "hub_cards", "trainer"], ["hub_cards", "trainer", "hub_cards"])


def test_the_packages_import_each_other_without_a_cycle():
    edges = package_imports()
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle " + " -> ".join(cycle) + ": " + "; ".join(
        f"{a} -> {b} in {edges[a, b]}" for a, b in zip(cycle, cycle[1:]))


def test_modeling_msmix_imports_no_other_package_of_the_project():
    # It is shipped as Hub remote code: torch, transformers and its own files only.
    edges = package_imports()
    assert {target: modules for (source, target), modules in edges.items() if source == "modeling_msmix"} == {}


def test_each_package_imports_only_those_above_it_in_the_readme_layout():
    order = readme_layer_order()
    assert sorted(order) == sorted(PACKAGES), order
    upward = {(a, b): modules for (a, b), modules in package_imports().items() if order.index(b) > order.index(a)}
    assert upward == {}, f"imports of a package listed lower in the README's layout table: {upward}"
