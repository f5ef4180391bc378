"""tests/README.md's table maps every module of hyperman/ to the test files that test it: none is left out and
every file it names exists (issue 21: the tests mirror the package)."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _table() -> dict[str, list[str]]:
    text = (ROOT / "tests" / "README.md").read_text()
    section = text.split("## Which tests test which module", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \| (.+) \|$", section, flags=re.M)
    return {module: re.findall(r"test_\w+\.py", tests) for module, tests in rows}


def test_every_module_with_logic_has_a_row_and_its_test_files_exist():
    table = _table()
    modules = [str(p.relative_to(ROOT / "hyperman")) for p in sorted((ROOT / "hyperman").rglob("*.py"))
               if p.name != "__main__.py" and (p.name != "__init__.py" or "def " in p.read_text())]
    missing = [m for m in modules if not any(fnmatch.fnmatch(m, pattern) for pattern in table)]
    assert not missing, f"modules with no row in tests/README.md's table: {missing}"
    stale = [pattern for pattern in table if not any(fnmatch.fnmatch(m, pattern) for m in modules)]
    assert not stale, f"rows of tests/README.md's table that name no module: {stale}"
    absent = sorted({name for names in table.values() for name in names if not (ROOT / "tests" / name).is_file()})
    assert not absent, f"test files named in tests/README.md that do not exist: {absent}"
    assert all(table.values()), "a row that names no test file"
