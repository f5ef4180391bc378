"""Classify your own inputs with an ensemble, with its uncertainty, and abstain where it is too unsure.

Loads the model (--checkpoint: a hypernetwork, one net, or a baseline
ensemble: hyperman.load), reads --inputs (an IDX file, a .npy array, an image
or a folder of PNG/JPEG images, converted to the target's channels and size
and scaled to [0, 1] like the training data; MNIST's digits are white on
black, so pass --invert true for dark-on-light images) and writes --out: one
CSV row per input with the predicted class, its mean probability
(confidence), the predictive entropy and mutual information in nats, the
share of nets that vote for the class, and `abstain`. With --coverage c and
--data, the threshold on --uncertainty is the one that keeps a fraction c of
the dataset's validation split, and `abstain` is true above it; without
--coverage, `abstain` is left empty. OUT with suffix .json records the
checkpoint's sha256, the nets, the threshold and the validation figures.
Nothing is written unless everything succeeded."""

from __future__ import annotations

import argparse
import sys

from .. import partial, settings
from ..predict import PredictConfig, predict


def add_arguments(parser: argparse.ArgumentParser) -> None:
    settings.add_arguments(parser, PredictConfig)
    settings.add_device_argument(parser)
    partial.add_argument(parser)


def run(args: argparse.Namespace) -> int:
    partial.allow(args.allow_partial)
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    summary = predict(settings.from_args(PredictConfig, args), args.device, log)
    kept = "" if summary["abstained"] is None else (f"; abstained on {summary['abstained']} (threshold "
                                                   f"{summary['uncertainty']} > {summary['threshold']:.4g})")
    log(f"wrote {summary['count']} predictions to {args.out}{kept}")
    return 0
