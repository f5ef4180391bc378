"""Evaluate sampled nets against baselines: members, ensembles, diversity, symmetry control, paths, OOD, FGSM.

Regenerates the nets of --samples with the hypernetwork --checkpoint (the
samples file records the checkpoint's sha256, and a mismatch is an error),
runs every net once over the test set of --data (batched, chunked) and
computes from those probabilities: per-net accuracy/NLL, mean-probability and
majority-vote ensembles of growing size (several random draws per size),
the single baseline (first --baselines file) and the deep ensemble (all of
them), prediction and weight diversity, the symmetry control (an "ensemble"
of random symmetry transforms of one net must gain exactly 0), accuracy along
latent and direct paths, OOD detection against --ood-data, and FGSM flip
rates of one net versus a vote of 100.

Writes, only when everything succeeded: OUT/metrics.json (nested; accuracies
as fractions), OUT/member_accuracy.csv, OUT/ensemble_curve.csv (for dvc
plots), OUT/paths.csv and OUT/adversarial.csv."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import settings
from ..evaluation import EvalConfig, evaluate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    settings.add_arguments(parser, EvalConfig)


def config_from_args(args: argparse.Namespace) -> EvalConfig:
    return settings.from_args(EvalConfig, args)


def run(args: argparse.Namespace) -> int:
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    evaluate(config_from_args(args), log)
    log(f"wrote {args.out / 'metrics.json'}")
    return 0
