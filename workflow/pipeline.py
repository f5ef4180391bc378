"""The workflow's entry point: the stage table for Snakemake, and a small CLI (dvc.yaml, list, show, run).

Every stage is described once, in the stage table (workflow/stage_table.py): its command line (built from
params.yaml), inputs, outputs, params keys and the package files it runs (workflow/closure.py). From that:

- the Snakemake rules (workflow/rules/*.smk) take their inputs, outputs and shell command from `stage(...)`
  and `rule_outputs(kind)`;
- dvc.yaml is written by `python workflow/pipeline.py dvc-yaml > dvc.yaml` (workflow/dvc_yaml.py); its `cmd`s
  are the same `hyperman ...` commands, their params values templated from params.yaml;
- tests/test_workflow.py fails when dvc.yaml, the Snakemake plan and the table disagree.

Planning imports no torch: the config classes come from the torch-free config package, so every snakemake
call and `pipeline.py list` starts in about a second.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "workflow"))
# what the Snakefile, its rules and the tests use: the stage table, its code inputs and the runs' grids
from closure import stage_code  # noqa: E402, F401
from dvc_yaml import HEADER, dvc_yaml  # noqa: E402
from seeds_grid import seed_runs  # noqa: E402, F401
from stage_table import all_stages, kinds, plugin_kinds, stage  # noqa: E402, F401
from sweep_grid import run_overrides, sweep_runs  # noqa: E402, F401

from hyperman.config.workflow import HypermanError, load_params as _load  # noqa: E402

USAGE = "usage: pipeline.py dvc-yaml | run STAGE | show STAGE | list [PARAMS]"


def rule_outputs(kind: str) -> dict[str, str]:
    """A Snakemake rule's outputs, with its wildcards ({run}, {seed}, {dataset}); directories end with "/"."""
    return kinds()[kind].outputs()


def load_params(path: Path = ROOT / "params.yaml") -> dict:
    return _load(path)


def main(argv: list[str]) -> int:
    """The workflow's own CLI; a params file that is missing or invalid is one line and exit 2, as in hyperman."""
    try:
        return _main(argv)
    except HypermanError as error:
        print("pipeline.py: error: " + "; ".join(line.strip() for line in str(error).splitlines() if line.strip()),
              file=sys.stderr)
        return 2


def _list(path: Path) -> int:
    """Every stage in order, "NAME<TAB>COMMAND" (scripts/gpu_study.sh runs them without Snakemake)."""
    try:
        config = load_params(path)
    except ImportError as error:  # a bare GPU machine without jsonschema: plan anyway, say so
        print(f"pipeline.py: {path} not validated ({error})", file=sys.stderr)
        config = yaml.safe_load(path.read_text())
    for s in all_stages(config):
        print(f"{s.name}\t{s.shell()}")
    return 0


def _run(verb: str, name: str) -> int:
    """`show NAME` prints a stage's command; `run NAME` runs it, with the hyperman of this checkout."""
    by_name = {s.name: s for s in all_stages(load_params())}
    if name not in by_name:
        print(f"unknown stage {name!r}; stages: {', '.join(by_name)}", file=sys.stderr)
        return 2
    command = list(map(str, by_name[name].argv))
    if verb == "show":
        print(shlex.join(command))
        return 0
    print("+ " + shlex.join(command), file=sys.stderr, flush=True)
    from hyperman.cli import main as hyperman  # in this process: one Python start-up, this checkout's package

    assert command[0] == "hyperman", command
    return hyperman(command[1:])


def _main(argv: list[str]) -> int:
    if argv == ["dvc-yaml"]:
        sys.stdout.write(HEADER + yaml.safe_dump(dvc_yaml(load_params()), sort_keys=False, width=120))
        return 0
    if argv[:1] == ["list"] and len(argv) <= 2:
        return _list(Path(argv[1]) if len(argv) == 2 else ROOT / "params.yaml")
    if len(argv) == 2 and argv[0] in ("run", "show"):
        return _run(argv[0], argv[1])
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
