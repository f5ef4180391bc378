"""The seeds study's replicates (params.yaml `seeds`): which runs it names, and the seeds each one trains with.

Replicate 0 is the default study's run itself ("main", results/main, results/baselines/seed<s> for s in
baseline.seeds): nothing is retrained for it. Replicate r ≥ 1 is the run "seeds/rep<r>" (results/seeds/rep<r>):
G trained with train.seed + r, sampled and evaluated like the main run, against a deep ensemble of the baselines
with seeds baseline.seeds + r × seeds.baseline_seed_stride (disjoint from every other replicate's; a baseline's
folder is named by its seed, results/baselines/seed<s>, so the same rule trains it). No distillation, snapshot
or noise ensemble per replicate: the study measures the headline comparison only.
"""

from __future__ import annotations

import re
from typing import Any

from hyperman.config.workflow import ParamsError, seeds_problems

PREFIX = "seeds/rep"
REPORT_DIR = "results/seeds/report"
_NAME = re.compile(r"seeds/rep([0-9]+)")


def replicate(run: str) -> int | None:
    """'seeds/rep2' → 2; 'main' → 0; any other run (a sweep run) → None."""
    if run == "main":
        return 0
    match = _NAME.fullmatch(run)
    return int(match.group(1)) if match else None


def seed_runs(config: dict) -> list[str]:
    """The runs the seeds study adds to the default one: 'seeds/rep1' … 'seeds/rep<S−1>'; empty when
    `seeds.enabled` is false (the default study: `make seeds` turns it on). Refuses a stride that would give two
    replicates the same baseline seed."""
    section = config.get("seeds") or {}
    if not section.get("enabled", False):
        return []
    problems = seeds_problems(config)
    if problems:
        raise ParamsError("invalid parameters:\n  " + "\n  ".join(problems))
    return replicate_runs(config)[1:]


def replicate_runs(config: dict) -> list[str]:
    """Every replicate in order, the default run first: what the seeds report reads (whether or not the study
    is enabled: asking for the seeds report asks for its replicates)."""
    replicates = int((config.get("seeds") or {}).get("replicates", 0))
    return ["main", *[f"{PREFIX}{r}" for r in range(1, replicates)]] if replicates else []


def train_overrides(run: str, train: dict) -> dict[str, Any]:
    """What replicate `run` changes in `train`: only the seed (train.seed + r)."""
    r = replicate(run)
    if r is None:
        raise ValueError(f"{run!r} is no replicate of the seeds study")
    return {"seed": int(train.get("seed", 0)) + r} if r else {}


def baseline_seeds(config: dict, run: str) -> list[int]:
    """The deep ensemble's seeds of a replicate (baseline.seeds for the main run and every sweep run)."""
    seeds = list(config["baseline"]["seeds"])
    r = replicate(run) or 0
    return [s + r * int(config["seeds"]["baseline_seed_stride"]) for s in seeds] if r else seeds
