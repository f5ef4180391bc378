"""Distil the hypernetwork's ensemble into one network of the target's size.

The student (one target net) learns the teacher's mean predictive distribution
at temperature T, mixed with the hard labels:
loss = (1 − A)·T²·KL(teacher ‖ student) + A·CE. The teacher is M nets sampled
once (--teacher fixed) or M new nets for every batch (--teacher fresh, the
"infinite ensemble").

Writes OUT/student.pt (atomic "target" checkpoint: θ, optimizer, epoch, RNG
state, config; loadable like a baseline net) and OUT/distill_metrics.json
(student and teacher accuracy, NLL, ECE, and OOD AUROC of predictive entropy
with --ood-data). --resume continues a stopped run exactly. Bad input exits
with status 1 and writes nothing."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import optional_limit
from ..checkpoint import CheckpointError
from ..data import DataError
from ..distillation import TEACHERS, DistillConfig, DistillError, distill

D = DistillConfig()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, type=Path, help="trained hypernetwork (hyperman train)")
    parser.add_argument("--data", required=True, type=Path, help="prepared dataset folder (hyperman prepare)")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--teacher", default=D.teacher, choices=TEACHERS,
                        help="fixed: M nets sampled once; fresh: M new nets for every batch")
    parser.add_argument("--teacher-nets", type=int, default=D.teacher_nets, help="nets M in the teacher ensemble")
    parser.add_argument("--epochs", type=int, default=D.epochs, help="passes over the training images")
    parser.add_argument("--batch-size", type=int, default=D.batch_size, help="images per step")
    parser.add_argument("--lr", type=float, default=D.lr, help="Adam learning rate (cosine decay to 0)")
    parser.add_argument("--temperature", type=float, default=D.temperature, help="softmax temperature T")
    parser.add_argument("--hard-label-weight", type=float, default=D.hard_label_weight,
                        help="weight A of the hard-label CE: (1-A)·KD + A·CE")
    parser.add_argument("--seed", type=int, default=D.seed, help="random seed")
    parser.add_argument("--student-init", default=D.student_init, choices=["member", "random"],
                        help="start from one sampled member G(z) or from PyTorch's default init")
    parser.add_argument("--limit-train", type=optional_limit, default=None, help="use only the first N training images (0: all)")
    parser.add_argument("--limit-test", type=optional_limit, default=None, help="evaluate on the first N test images only (0: all)")
    parser.add_argument("--ood-data", type=Path, default=None,
                        help="prepared out-of-distribution dataset for the entropy AUROC (e.g. data/fashion-mnist)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where to run")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/student.pt if it exists")


def config_from_args(args: argparse.Namespace) -> DistillConfig:
    return DistillConfig(**{name: getattr(args, name) for name in DistillConfig.__dataclass_fields__})


def run(args: argparse.Namespace) -> int:
    metrics = distill(config_from_args(args), args.checkpoint, args.data, args.out, args.device, args.resume,
                      args.ood_data, args.limit_test)
    student, teacher = metrics["distilled"], metrics["teacher"]
    print(f"student accuracy {student['accuracy']:.4f} (teacher of {teacher['nets']} {teacher['mode']} nets "
          f"{teacher['accuracy']:.4f}) in {student['train_seconds']:.0f} s", file=sys.stderr)
    return 0
