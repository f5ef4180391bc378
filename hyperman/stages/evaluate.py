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

from .common import optional_limit
from ..checkpoint import CheckpointError
from ..data import DataError
from ..evaluation import DEFAULT_EPS, DEFAULT_SIZES, EvalConfig, EvaluationError, evaluate
from ..targets import FORWARD_METHODS

D = EvalConfig(checkpoint=Path(), samples=Path(), baselines=[], data=Path(), out=Path())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, type=Path, help="hypernetwork checkpoint (hypernet.pt)")
    parser.add_argument("--samples", required=True, type=Path, help="samples file written by `hyperman sample`")
    parser.add_argument("--baselines", required=True, type=Path, nargs="+", metavar="CKPT",
                        help="baseline target checkpoints (hyperman train-baseline); the first is the single net, "
                             "all of them the deep ensemble")
    parser.add_argument("--data", required=True, type=Path, help="prepared in-distribution dataset (its test split)")
    parser.add_argument("--ood-data", type=Path, default=None,
                        help="prepared out-of-distribution dataset (its test split); omitted: no OOD evaluation")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--train-summary", type=Path, default=None,
                        help="the hypernetwork's train_summary.json (omitted: the one next to --checkpoint)")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES),
                        help="ensemble sizes (clipped to the number of sampled nets)")
    parser.add_argument("--draws", type=int, default=D.draws, help="random member draws per ensemble size")
    parser.add_argument("--path-pairs", type=int, default=D.path_pairs, help="random (z1, z2) pairs for the paths")
    parser.add_argument("--path-points", type=int, default=D.path_points, help="points along each path")
    parser.add_argument("--path-images", type=optional_limit, default=None,
                        help="evaluate paths on the first N test images (0 or omitted: all)")
    parser.add_argument("--adversarial-eps", type=float, nargs="+", default=list(DEFAULT_EPS),
                        help="FGSM step sizes (images are in [0, 1])")
    parser.add_argument("--adversarial-images", type=int, default=D.adversarial_images,
                        help="attack the first N test images (those each model classifies correctly count)")
    parser.add_argument("--symmetry-copies", type=int, default=D.symmetry_copies,
                        help="random symmetry transforms of one net in the symmetry control")
    parser.add_argument("--seed", type=int, default=D.seed, help="seed of ensemble draws, path pairs and symmetries")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where to evaluate")
    parser.add_argument("--limit-test", type=optional_limit, default=None,
                        help="use only the first N test images of --data and --ood-data (0 or omitted: all)")
    parser.add_argument("--forward", default=D.forward, choices=list(FORWARD_METHODS),
                        help="batched forward: auto = grouped on CUDA, channels_last (a per-net NHWC loop) on CPU")
    parser.add_argument("--chunk", type=int, default=D.chunk, help="nets generated per forward pass of G")
    parser.add_argument("--memory-mb", type=int, default=None,
                        help="activation memory budget that sets the net/image chunk sizes "
                             "(default: 512 on CPU, 8192 on CUDA)")


def config_from_args(args: argparse.Namespace) -> EvalConfig:
    return EvalConfig(checkpoint=args.checkpoint, samples=args.samples, baselines=list(args.baselines),
                      data=args.data, out=args.out, ood_data=args.ood_data, train_summary=args.train_summary,
                      sizes=list(args.sizes), draws=args.draws, path_pairs=args.path_pairs,
                      path_points=args.path_points, path_images=args.path_images,
                      adversarial_eps=list(args.adversarial_eps), adversarial_images=args.adversarial_images,
                      symmetry_copies=args.symmetry_copies, seed=args.seed, device=args.device,
                      limit_test=args.limit_test, forward=args.forward, chunk=args.chunk, memory_mb=args.memory_mb)


def run(args: argparse.Namespace) -> int:
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    evaluate(config_from_args(args), log)
    log(f"wrote {args.out / 'metrics.json'}")
    return 0
