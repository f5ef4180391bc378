"""Figures and a Markdown report from the outputs of `evaluate`, `distill` and a λ sweep.

Reads --evaluate (metrics.json and the CSV tables of `hyperman evaluate`),
optionally --distill (distill_metrics.json), --checkpoint with --samples (to
regenerate θ for the filter pictures), and --sweep evaluate folders of a λ
sweep (λ and seed from the hypernetwork checkpoint their metrics.json names,
or from --sweep-labels). Writes OUT/report.md and one PNG per figure (plus an
SVG for line plots); figures whose optional inputs are missing are skipped
and listed as such in report.md. The folder is built beside OUT and renamed
into place: bad input exits with status 1 and leaves OUT as it was."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..checkpoint import CheckpointError
from ..report import ReportConfig, ReportError, build_report

D = ReportConfig(evaluate=Path(), out=Path())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--evaluate", required=True, type=Path, help="output folder of `hyperman evaluate`")
    parser.add_argument("--out", required=True, type=Path, help="report folder (report.md and the figures)")
    parser.add_argument("--distill", type=Path, default=None,
                        help="output folder of `hyperman distill` (its distill_metrics.json); omitted: no student")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="the evaluated hypernetwork (for the filter pictures; needs --samples)")
    parser.add_argument("--samples", type=Path, default=None,
                        help="the evaluated samples file (for the filter pictures; needs --checkpoint)")
    parser.add_argument("--sweep", type=Path, nargs="+", default=[], metavar="EVAL_DIR",
                        help="evaluate folders of the λ-sweep runs (λ figure)")
    parser.add_argument("--sweep-labels", nargs="+", default=None, metavar="LABEL",
                        help="'lambda=1000,seed=0' per --sweep folder, in the same order (lambda=inf: no diversity); "
                             "omitted: read from the hypernetwork checkpoint each run's metrics.json names")
    parser.add_argument("--filter-nets", type=int, default=D.filter_nets, help="sampled nets in the filter PCA")
    parser.add_argument("--conv1-filter", type=int, default=D.conv1_filter, help="conv1 filter to picture")
    parser.add_argument("--conv2-filter", type=int, default=D.conv2_filter, help="conv2 filter in the PCA")


def config_from_args(args: argparse.Namespace) -> ReportConfig:
    return ReportConfig(evaluate=args.evaluate, out=args.out, distill=args.distill, checkpoint=args.checkpoint,
                        samples=args.samples, sweep=list(args.sweep), sweep_labels=args.sweep_labels,
                        filter_nets=args.filter_nets, conv1_filter=args.conv1_filter, conv2_filter=args.conv2_filter)


def run(args: argparse.Namespace) -> int:
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    result = build_report(config_from_args(args), log)
    log(f"wrote {result['report']} with {len(result['figures'])} figure files"
        + (f"; skipped {', '.join(result['skipped'])}" if result["skipped"] else ""))
    return 0
