"""The import structure (issue 21): no import cycle among hyperman/'s modules, and workflow/ reaches the package
only through its front doors. Read from the source with ast, so nothing is imported and the test is fast."""

from __future__ import annotations

import ast
import re
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "hyperman"
# What workflow/*.py may import of the package: the CLI, the torch-free config module and the baseline registry.
WORKFLOW_DOORS = ("hyperman.cli", "hyperman.config", "hyperman.baseline_registry")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (getattr(test, "id", None) == "TYPE_CHECKING"
                                         or getattr(test, "attr", None) == "TYPE_CHECKING")


def _import_nodes(tree: ast.Module, lazy: bool) -> list[ast.Import | ast.ImportFrom]:
    """Top-level imports (module body, try/if blocks at module level), or every import when `lazy`; never those
    under `if TYPE_CHECKING:`, which do not run."""
    found, todo = [], list(tree.body)
    while todo:
        node = todo.pop()
        if _is_type_checking(node):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif lazy or not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))
    return found


def imported_names(path: Path, package_of: str, lazy: bool = False) -> set[str]:
    """Every dotted name an import in `path` can bind: `from a import b` yields both a and a.b."""
    names = set()
    for node in _import_nodes(ast.parse(path.read_text()), lazy):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
            continue
        if node.level:
            base = package_of.split(".")[: len(package_of.split(".")) - node.level + 1]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        names.add(module)
        names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def import_graph(lazy: bool = False) -> dict[str, set[str]]:
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package_of = name if path.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = {m for m in imported_names(path, package_of, lazy) if m in modules and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_reads_relative_and_absolute_imports():
    graph = import_graph()
    assert "hyperman.datasets" in graph["hyperman.data"]  # from .datasets import ...
    assert "hyperman.metrics" in graph["hyperman.evaluation.context"]  # from .. import metrics
    assert "hyperman.evaluation.context" not in graph["hyperman.evaluation.equal_compute"]  # under TYPE_CHECKING


def test_no_import_cycle_among_top_level_imports():
    assert cycles(import_graph()) == [], "modules of hyperman/ that import each other (move the shared part down)"


def test_no_cycle_held_together_by_a_lazy_import():
    # A function-level import that closes a cycle hides it from the import system, not from the reader.
    assert cycles(import_graph(lazy=True)) == [], "a cycle closed by an import inside a function"


def test_workflow_imports_hyperman_only_through_its_front_doors():
    wrong = []
    for path in sorted((ROOT / "workflow").glob("*.py")):
        for name in imported_names(path, "", lazy=True):
            if (name == "hyperman" or name.startswith("hyperman.")) and not any(
                    name == door or name.startswith(door + ".") for door in WORKFLOW_DOORS):
                wrong.append(f"{path.relative_to(ROOT)}: {name}")
    # the Snakefile and the rules are not Python files `ast` reads whole: their import lines are
    for path in [ROOT / "Snakefile", *sorted((ROOT / "workflow" / "rules").glob("*.smk"))]:
        for name in re.findall(r"^\s*(?:from|import)\s+(hyperman[\w.]*)", path.read_text(), flags=re.M):
            if not any(name == door or name.startswith(door + ".") for door in WORKFLOW_DOORS):
                wrong.append(f"{path.relative_to(ROOT)}: {name}")
    # `from hyperman import cli` binds the names hyperman and hyperman.cli: only the door itself counts
    wrong = [w for w in wrong if not w.endswith(": hyperman")]
    assert not wrong, f"workflow/ imports hyperman beyond {', '.join(WORKFLOW_DOORS)}: {wrong}"
