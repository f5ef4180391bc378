"""The seeds study's table from the evaluations of S replicates (`make seeds`).

Reads --evaluate folders, one per replicate, the default run first: each
evaluates its own hypernetwork (train.seed + r) against its own deep ensemble
(disjoint baseline seeds) on the same test images. Writes OUT/seeds.json and
OUT/seeds.md: every model's accuracy, NLL, ECE and OOD AUROC as mean ± sd
over seeds, and for each comparison (the hypernetwork ensemble minus the deep
ensemble and every other model present in all replicates) a t interval of
the per-seed differences and a combined interval covering seed and
test-image variation, with a Holm-corrected verdict (hyperman.seed_stats).
An evaluation that used a partial checkpoint (--allow-partial) passes its
warnings on into both files. Bad input exits with status 2 and leaves OUT
as it was."""

from __future__ import annotations

import argparse
import sys

from .. import settings
from ..seeds_report import SeedsReportConfig, build


def add_arguments(parser: argparse.ArgumentParser) -> None:
    settings.add_arguments(parser, SeedsReportConfig)


def run(args: argparse.Namespace) -> int:
    cfg = settings.from_args(SeedsReportConfig, args)
    summary = build(cfg)
    held = sum(row is not None and row["verdict"] == "holds" for by_metric in summary["comparisons"].values()
               for row in by_metric.values())
    print(f"wrote {cfg.out}/seeds.json and seeds.md: {summary['seeds']} replicates, {held} claims hold",
          file=sys.stderr)
    return 0
