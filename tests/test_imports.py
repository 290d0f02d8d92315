"""The house rules on imports (data flows one way), read from the source
with ``ast``, so an import inside a function or under ``TYPE_CHECKING``
counts too:

* only ``xenplan/cli.py`` imports click; only ``xenplan/report/`` imports rich;
* imports point left along load → model → boot → checks → report: ``dt``
  imports nothing of model/boot/checks/report, ``model`` nothing of
  boot/checks/report, ``boot`` nothing of checks/report, ``checks``
  nothing of report; ``analysis.py`` may use dt, model, boot and checks,
  and nothing but ``cli.py`` (and ``__main__``) reaches for the CLI;
* no module imports itself back through others: the import graph of
  ``xenplan/`` has no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "xenplan"
MODULES = sorted(p.relative_to(PKG.parent).as_posix() for p in PKG.rglob("*.py"))

LAYERS = ("dt", "model", "boot", "checks", "report")
"""The flow, left to right: a layer may import only layers to its left (and itself)."""


def module_name(rel: str) -> str:
    parts = rel.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(dotted: str) -> bool:
    p = PKG.parent.joinpath(*dotted.split("."))
    return p.with_suffix(".py").is_file() or (p / "__init__.py").is_file()


def imports(rel: str) -> set[str]:
    """Every module ``rel`` imports, absolute and dotted (``from a import b``
    gives ``a.b`` when ``b`` is a module, else ``a``)."""
    tree = ast.parse((PKG.parent / rel).read_text(), filename=rel)
    me = module_name(rel)
    package = me if rel.endswith("__init__.py") else me.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.add(sub if base.startswith("xenplan") and _is_module(sub) else base)
    return out


def layer(dotted: str) -> str | None:
    parts = dotted.split(".")
    if parts[0] != "xenplan" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in LAYERS else None


def top(dotted: str) -> str:
    return dotted.split(".")[0]


def test_the_walk_sees_known_imports() -> None:
    assert "click" in {top(m) for m in imports("xenplan/cli.py")}
    assert {"xenplan.dt", "xenplan.model", "xenplan.boot", "xenplan.checks"} <= imports("xenplan/analysis.py")
    assert "rich.console" in imports("xenplan/report/text.py")
    assert len(MODULES) > 20


@pytest.mark.parametrize("rel", MODULES)
def test_only_cli_imports_click(rel: str) -> None:
    if rel == "xenplan/cli.py":
        return
    assert "click" not in {top(m) for m in imports(rel)}


RICH_OUTSIDE_REPORT: dict[str, str] = {}


@pytest.mark.parametrize("rel", [
    pytest.param(m, marks=pytest.mark.xfail(strict=True, reason=RICH_OUTSIDE_REPORT[m]))
    if m in RICH_OUTSIDE_REPORT else m for m in MODULES])
def test_only_report_imports_rich(rel: str) -> None:
    if rel.startswith("xenplan/report/"):
        return
    assert "rich" not in {top(m) for m in imports(rel)}


@pytest.mark.parametrize("rel", MODULES)
def test_imports_point_left(rel: str) -> None:
    me = module_name(rel)
    mine = layer(me)
    targets = {m for m in imports(rel) if top(m) == "xenplan"}
    if mine is not None:
        allowed = set(LAYERS[: LAYERS.index(mine) + 1])
        wrong = sorted(m for m in targets if layer(m) is not None and layer(m) not in allowed)
        assert not wrong, f"{rel} ({mine}) imports {wrong}"
        if mine != "report":
            assert not {m for m in targets if m in ("xenplan.analysis", "xenplan.cli")
                        or m.startswith("xenplan.plan")}, f"{rel} reaches right of its layer"
    if me == "xenplan.analysis":
        wrong = sorted(m for m in targets if layer(m) == "report" or m == "xenplan.cli")
        assert not wrong, f"analysis.py imports {wrong}"
    if me not in ("xenplan.cli", "xenplan.__main__"):
        assert "xenplan.cli" not in targets, f"{rel} imports the CLI"


def import_graph() -> dict[str, set[str]]:
    """Module -> the ``xenplan`` modules it imports (a package counts as its ``__init__``)."""
    names = {module_name(rel) for rel in MODULES}
    return {module_name(rel): {m for m in imports(rel) if m in names} for rel in MODULES}


def cycles(graph: dict[str, set[str]]) -> dict[frozenset[str], list[str]]:
    """Every strongly connected component with a cycle, and one shortest cycle through its first
    module, as a path ``a -> b -> ... -> a`` (Tarjan, then a breadth-first walk)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component: set[str] = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    out: dict[frozenset[str], list[str]] = {}
    for component in components:
        start = min(component)
        parent: dict[str, str] = {}
        queue = [start]
        while start not in parent:
            here = queue.pop(0)
            for w in sorted(graph[here] & component):
                if w not in parent:
                    parent[w] = here
                    queue.append(w)
        path = [start]
        while path[-1] != start or len(path) == 1:
            path.append(parent[path[-1]])
        out[frozenset(component)] = path[::-1]
    return out


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c", "a"}, "c": {"a"}, "d": {"a", "d"}, "e": set()}
    assert cycles(graph) == {frozenset("abc"): ["a", "b", "a"], frozenset("d"): ["d", "d"]}
    assert cycles({"a": {"b"}, "b": set()}) == {}


def test_no_import_cycle() -> None:
    found = cycles(import_graph())
    assert not found, "import cycle: " + "; ".join(" -> ".join(path) for path in found.values())
