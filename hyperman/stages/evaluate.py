"""Evaluate sampled nets against baselines: every model on the same test images, with intervals.

Regenerates the nets of --samples with the hypernetwork --checkpoint (the
samples file records the checkpoint's sha256, and a mismatch is an error)
and runs every net of every model once over the test (and OOD) set: the
sampled nets, the baselines (--baselines; the first is the single net, all of
them the deep ensemble), every per-epoch checkpoint of the baselines
(epochs.pt beside each baseline.pt: the deep ensemble at equal compute), the
noise ensemble (--noise) and the snapshot ensemble (--snapshots). From those
probabilities: accuracy, NLL, ECE, adaptive ECE, Brier and OOD detection of
every model (models.csv), paired-bootstrap intervals and McNemar tests of the
hypernetwork ensemble against each (comparisons.csv), the equal-compute grid
(equal_compute.csv), ensembles of growing size, diversity, the controls (the
gauge check of the symmetry code, weight matching, random directions), the
paths (the two baselines also after weight matching), FGSM flip rates and the
distribution-shift benchmark (shift.csv).

Writes, only when everything succeeded: OUT/metrics.json (nested; accuracies
as fractions) and the CSV tables hyperman.outputs names; every part's seconds
go to the log and to metrics.json timing.parts_seconds."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import baseline_registry, partial, settings
from ..config import EvalConfig
from ..evaluation import evaluate


def _plugins() -> list[baseline_registry.Baseline]:
    """The registered baselines evaluate loads whose flag is not one of EvalConfig's own (the plug-ins)."""
    return [entry for entry in baseline_registry.loaded() if entry.evaluate_flag not in EvalConfig.__dataclass_fields__]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    settings.add_arguments(parser, EvalConfig)
    for entry in _plugins():  # one flag per plug-in baseline, from its registry entry
        parser.add_argument("--" + entry.evaluate_flag.replace("_", "-"), dest=f"plugin_{entry.name}", type=Path,
                            metavar="PATH", help=f"{entry.files[0] if entry.files else 'the output'} of "
                            f"`hyperman {entry.command}` ({entry.label}); omitted: no {entry.label}")
    partial.add_argument(parser)


def config_from_args(args: argparse.Namespace) -> EvalConfig:
    plugins = {entry.name: getattr(args, f"plugin_{entry.name}") for entry in _plugins()
               if getattr(args, f"plugin_{entry.name}", None) is not None}
    return settings.from_args(EvalConfig, args, plugins=plugins)


def run(args: argparse.Namespace) -> int:
    partial.allow(args.allow_partial)
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    evaluate(config_from_args(args), log)
    log(f"wrote {args.out / 'metrics.json'}")
    return 0
