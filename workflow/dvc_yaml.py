"""dvc.yaml from the stage table: one DVC stage per Stage, its `cmd` the real `hyperman ...` command line.

How a value reaches the command. A word of the command that is a params.yaml value verbatim (a `Param`,
workflow/stage_model.py) is written with DVC's templating, `${train.lr}` (a list item: `${noise.alphas[1]}`),
so `dvc repro` after an edit of params.yaml, and `dvc exp run -S train.lr=...`, run the new value: DVC
substitutes it from params.yaml when it reads dvc.yaml. Why per-key templating rather than dict unpacking
(`${train}` with `parsing.list`): unpacking writes every key of the section as `--key_name value`, which is
neither hyperman's flag spelling (`--key-name`) nor its boolean form (`--flag true`), and it would pass keys
the stage does not take (baseline.seeds); per-key templating shows exactly the flags the stage gets, in the
order Snakemake runs them, and DVC's own rendering of it is the Snakemake command word for word
(tests/test_workflow.py checks that through DVC's parser).

What templating cannot do, and what happens instead:
- a list's length and the set of stages and runs (sweep grid, baseline.seeds, seeds.replicates) are the
  pipeline's structure: change them in params.yaml and run `make dvc.yaml` (the drift test catches a stale
  file);
- a value the pipeline computes from a params key (a seeds replicate's seed is train.seed + r, a target
  mapping becomes its spec's text) cannot be a template. Such a stage keeps `python workflow/pipeline.py run
  NAME`, which rebuilds the command from the current params.yaml, and depends on the planner's files, so
  that no stage ever runs a stale value. The default study has none.
The `params:` list of each stage is explicit (DVC does not track templated values by itself), so a change of
any key a stage reads reruns it.
"""

from __future__ import annotations

import shlex
from typing import Any

from closure import ROOT
from stage_model import Param, Stage
from stage_table import all_stages

HEADER = """# Generated from workflow/stage_table.py by `make dvc.yaml` (workflow/dvc_yaml.py); do not edit by hand.
# tests/test_workflow.py fails when this file, the Snakemake rules and the stage table drift apart.
"""
PLANNER = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "workflow").glob("*.py"))  # what `pipeline.py run` runs


def command(stage: Stage) -> str:
    """The stage's `cmd`: the hyperman command with its params words templated, or the planner's `run`."""
    if stage.computed_params():
        return f"python workflow/pipeline.py run {stage.name}"
    return " ".join("${" + word.expr + "}" if isinstance(word, Param) else shlex.quote(word) for word in stage.argv)


def entry(stage: Stage) -> dict[str, Any]:
    """One stage of dvc.yaml: cmd, deps (inputs and code), params, outs, metrics and plots."""
    out: dict[str, Any] = {"cmd": command(stage)}
    planner = PLANNER if stage.computed_params() else []
    out["deps"] = [p.rstrip("/") for p in stage.input_files()] + stage.code + planner
    if stage.params:
        out["params"] = stage.params
    out["outs"] = [p.rstrip("/") for p in stage.outputs.values() if p not in stage.metrics + stage.plots]
    if stage.metrics:
        out["metrics"] = [{p: {"cache": False}} for p in stage.metrics]
    if stage.plots:
        out["plots"] = [{p: {"cache": False}} for p in stage.plots]
    return out


def dvc_yaml(config: dict) -> dict:
    """dvc.yaml's content for the validated params `config`."""
    return {"stages": {stage.name: entry(stage) for stage in all_stages(config)}}
