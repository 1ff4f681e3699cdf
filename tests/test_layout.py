"""The layout rules of DESIGN §1, checked on the source: no import circles, arrows point one way
(the SDK never imports the server or the receiver, except the lazy `budai serve`), no module over
500 lines.

Every import counts, including those under `TYPE_CHECKING` and inside functions: a circle that only
type checkers see is still a circle a reader has to untangle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("budai_async", "budai_server", "receiver")
MAX_LINES = 500
# The one allowed arrow from the SDK into the server: `budai serve` imports it on call.
ALLOWED_CROSSINGS = {("budai_async.cli.main", "budai_server.cli")}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def imported_names(path: Path, module: str, known: set[str]) -> Iterator[str]:
    """Every first-party module `path` imports (a `from pkg import name` counts `pkg.name` if a module)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                stem = ".".join([*base, node.module] if node.module else base)
            else:
                stem = node.module or ""
            targets = [f"{stem}.{alias.name}" for alias in node.names if f"{stem}.{alias.name}" in known]
            targets = targets or [stem]
        else:
            continue
        for target in targets:
            if target.split(".")[0] in PACKAGES and target in known:
                yield target


def import_graph() -> dict[str, set[str]]:
    modules = source_modules()
    known = set(modules)
    return {name: set(imported_names(path, name, known)) - {name} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of `graph`, as the list of modules along it, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_checker_finds_a_circle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_circles() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_the_sdk_never_imports_the_server_or_the_receiver() -> None:
    crossings = {
        (source, target)
        for source, targets in import_graph().items()
        if source.startswith("budai_async")
        for target in targets
        if not target.startswith("budai_async")
    }
    assert crossings <= ALLOWED_CROSSINGS


@pytest.mark.parametrize("module", sorted(source_modules()))
def test_module_is_at_most_500_lines(module: str) -> None:
    lines = source_modules()[module].read_text().count("\n")
    assert lines <= MAX_LINES, f"{module} has {lines} lines; split it by concern"
