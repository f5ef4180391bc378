"""Train one target network conventionally (PyTorch default init, Adam, one-cycle schedule).

K runs with seeds 0..K-1 give the single-net baseline (seed 0) and the deep
ensemble. Writes OUT/baseline.pt (the shared "target" checkpoint: flat θ,
optimizer, schedule and RNG state, train_seconds) after every epoch, and
OUT/baseline_summary.json, and OUT/epochs.pt: every epoch's weights (E, D)
and the cumulative training seconds at the end of each epoch, for ensembles
of k members after e epochs against their training time (equal compute;
hyperman.baseline.load_epochs reads it). --resume continues from the last
finished epoch."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import optional_limit, pixels
from ..baseline import BaselineConfig, train_baseline
from ..checkpoint import CheckpointError
from ..data import DataError

D = BaselineConfig()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, type=Path, help="prepared dataset folder")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--target", default=D.target, choices=["mnist_cnn", "cifar_cnn"], help="target network")
    parser.add_argument("--epochs", type=int, default=D.epochs, help="passes over the training split")
    parser.add_argument("--batch-size", type=int, default=D.batch_size, help="images per step")
    parser.add_argument("--lr", type=float, default=D.lr, help="peak learning rate of the schedule")
    parser.add_argument("--seed", type=int, default=D.seed, help="seed of init and data order")
    parser.add_argument("--augment-shift", type=pixels, default=D.augment_shift, metavar="PIXELS",
                        help="translate every training image by a random offset of up to PIXELS (0: off)")
    parser.add_argument("--limit-train", type=optional_limit, default=None, help="use only the first N training images (0: all)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where to train")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/baseline.pt if it exists")


def config_from_args(args: argparse.Namespace, snapshot_cycles: int = 0) -> BaselineConfig:
    return BaselineConfig(args.target, args.epochs, args.batch_size, args.lr, args.seed, args.limit_train,
                          args.augment_shift, snapshot_cycles)


def train_or_explain(stage: str, args: argparse.Namespace, config: BaselineConfig) -> dict | None:
    """Train; on bad input print one clear line (no traceback) and return None."""
    try:
        return train_baseline(config, args.data, args.out, args.device, args.resume)
    except (CheckpointError, DataError, ValueError, RuntimeError) as error:
        print(f"hyperman {stage}: error: {error}", file=sys.stderr)
        return None


def run(args: argparse.Namespace) -> int:
    summary = train_or_explain("train-baseline", args, config_from_args(args))
    if summary is None:
        return 1
    print(f"baseline seed {args.seed}: val acc {summary['val_acc']:.4f} in {summary['train_seconds']:.0f} s",
          file=sys.stderr)
    return 0
