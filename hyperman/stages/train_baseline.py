"""Train one target network conventionally (PyTorch default init, Adam, one-cycle schedule).

K runs with seeds 0..K-1 give the single-net baseline (seed 0) and the deep
ensemble. Writes OUT/baseline.pt (the shared "target" checkpoint: flat θ,
optimizer, schedule and RNG state, train_seconds) after every epoch, and
OUT/baseline_summary.json, and OUT/epochs.pt: every epoch's weights (E, D)
and the cumulative training seconds at the end of each epoch, for ensembles
of k members after e epochs against their training time (equal compute;
hyperman.baseline.load_epochs reads it). --resume continues from the last
finished epoch; --force starts afresh over an earlier run, moved to
OUT.previous-<UTC time>."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import out_folder, settings
from ..baseline import train_baseline
from ..config import BaselineConfig


def add_arguments(parser: argparse.ArgumentParser, snapshots: bool = False) -> None:
    parser.add_argument("--data", required=True, type=Path, help="prepared dataset folder")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    settings.add_arguments(parser, BaselineConfig, exclude=() if snapshots else ("snapshot_cycles",))
    settings.add_device_argument(parser)
    out_folder.add_arguments(parser, "baseline.pt")


def run(args: argparse.Namespace) -> int:
    summary = train_baseline(settings.from_args(BaselineConfig, args), args.data, args.out, args.device, args.resume,
                             force=args.force)
    print(f"baseline seed {args.seed}: val acc {summary['val_acc']:.4f} in {summary['train_seconds']:.0f} s",
          file=sys.stderr)
    return 0
