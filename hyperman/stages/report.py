"""Figures and a Markdown report from the outputs of `evaluate`, `distill` and a λ sweep.

Reads --evaluate (metrics.json and the CSV tables of `hyperman evaluate`),
optionally --distill (distill_metrics.json), --checkpoint with --samples (to
regenerate θ for the filter pictures), and --sweep evaluate folders of a λ
sweep (λ and seed from the hypernetwork checkpoint their metrics.json names,
or from --sweep-labels). Writes OUT/report.md and one PNG per figure (plus an
SVG for line plots); figures whose optional inputs are missing are skipped
and listed as such in report.md. The folder is built beside OUT and renamed
into place: bad input exits with status 2 and leaves OUT as it was."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import partial, settings
from ..report import ReportConfig, build_report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    settings.add_arguments(parser, ReportConfig)
    partial.add_argument(parser)


def config_from_args(args: argparse.Namespace) -> ReportConfig:
    return settings.from_args(ReportConfig, args)


def run(args: argparse.Namespace) -> int:
    partial.allow(args.allow_partial)
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    result = build_report(config_from_args(args), log)
    log(f"wrote {result['report']} with {len(result['figures'])} figure files"
        + (f"; skipped {', '.join(result['skipped'])}" if result["skipped"] else ""))
    return 0
