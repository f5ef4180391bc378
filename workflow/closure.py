"""Which package files a stage runs: the import closure of its `hyperman` modules, computed from the source.

Why computed: a hand-written list drifts from the imports (it once missed augment.py, so editing the augmentation
reran nothing). Both Snakemake (a rule's `code` input) and DVC (a stage's `deps`) take a stage's code inputs from
here; tests/test_workflow.py checks them against the modules Python really loads. The analysis reads the files
with `ast` and imports nothing, so planning stays light.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "hyperman"


def module_file(module: str) -> Path | None:
    """hyperman.x.y → hyperman/x/y.py or hyperman/x/y/__init__.py (None when it is not ours)."""
    if module != PACKAGE and not module.startswith(PACKAGE + "."):
        return None
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported(node: ast.AST, package: str) -> list[str]:
    """The modules one import statement names; `from . import x` may name a module x, so it counts too."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    parts = package.split(".")
    base = ".".join(parts[: len(parts) - node.level + 1]) if node.level else ""
    module = ".".join(p for p in (base, node.module or "") if p)
    return [module, *(f"{module}.{alias.name}" for alias in node.names)]


@functools.cache
def imports(path: Path) -> frozenset[str]:
    """Every hyperman module `path` imports, at the top or inside a function (lazy imports count too); each
    file is read once per process (every stage kind's closure shares most of them)."""
    package = ".".join(path.relative_to(ROOT).parent.parts)  # what `from . import` is relative to
    tree = ast.parse(path.read_text(), str(path))
    found = {name for node in ast.walk(tree) for name in _imported(node, package)}
    return frozenset(m for m in found if module_file(m) is not None)


def parents(module: str) -> list[str]:
    """Importing hyperman.a.b runs hyperman/__init__.py and hyperman/a/__init__.py first."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


@functools.cache
def code_closure(module: str) -> tuple[str, ...]:
    """The package files (repo-relative, sorted) that importing `module` runs."""
    seen, todo = set(), [module, *parents(module)]
    while todo:
        name = todo.pop()
        if name in seen or module_file(name) is None:
            continue
        seen.add(name)
        todo += [*imports(module_file(name)), *parents(name)]
    return tuple(sorted(str(module_file(m).relative_to(ROOT)) for m in seen))


def module_code(module: str) -> list[str]:
    """The code inputs of a stage whose module is `module`: `hyperman`'s entry point and the module's closure."""
    return sorted(set(code_closure(f"{PACKAGE}.cli")) | set(code_closure(module)))


def stage_code(kind: str) -> list[str]:
    """The code inputs of a built-in stage kind (its module is hyperman/stages/<kind>.py)."""
    return module_code(f"{PACKAGE}.stages.{kind}")
