"""Distil the hypernetwork's ensemble into one network of the target's size.

The student (one target net) learns the teacher's mean predictive distribution
at temperature T, mixed with the hard labels:
loss = (1 − A)·T²·KL(teacher ‖ student) + A·CE. The teacher is M nets sampled
once (--teacher fixed) or M new nets for every batch (--teacher fresh, the
"infinite ensemble").

Writes OUT/student.pt (atomic "target" checkpoint: θ, optimizer, epoch, RNG
state, config; loadable like a baseline net) and OUT/distill_metrics.json
(student and teacher accuracy, NLL, ECE, and OOD AUROC of predictive entropy
with --ood-data). --resume continues a stopped run exactly; --force starts afresh over an
earlier run, moved to OUT.previous-<UTC time>. Bad input exits
with status 2 and writes nothing."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import out_folder, partial, settings
from ..config import DistillConfig
from ..distillation import distill


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, type=Path, help="trained hypernetwork (hyperman train)")
    parser.add_argument("--data", required=True, type=Path, help="prepared dataset folder (hyperman prepare)")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    settings.add_arguments(parser, DistillConfig)
    parser.add_argument("--limit-test", type=settings.optional_count, default=None,
                        help="evaluate on the first N test images only (0: all)")
    parser.add_argument("--ood-data", type=Path, default=None,
                        help="prepared out-of-distribution dataset for the entropy AUROC (e.g. data/fashion-mnist)")
    settings.add_device_argument(parser)
    out_folder.add_arguments(parser, "student.pt")
    partial.add_argument(parser)


def config_from_args(args: argparse.Namespace) -> DistillConfig:
    return settings.from_args(DistillConfig, args)


def run(args: argparse.Namespace) -> int:
    partial.allow(args.allow_partial)
    metrics = distill(config_from_args(args), args.checkpoint, args.data, args.out, args.device, args.resume,
                      args.ood_data, args.limit_test, force=args.force)
    student, teacher = metrics["distilled"], metrics["teacher"]
    print(f"student accuracy {student['accuracy']:.4f} (teacher of {teacher['nets']} {teacher['mode']} nets "
          f"{teacher['accuracy']:.4f}) in {student['train_seconds']:.0f} s", file=sys.stderr)
    return 0
