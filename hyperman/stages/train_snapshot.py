"""Train a snapshot ensemble (Huang et al. 2017) at the compute of ONE net.

The same training as `train-baseline` (init, Adam, batch, augmentation,
epochs), but the learning rate follows a cosine that restarts
--snapshot-cycles times; the net at the end of every cycle is one member. So M
members cost exactly what one net trained for --epochs costs. --epochs must be
a multiple of --snapshot-cycles.

Writes OUT/snapshots.pt (members (M, D), the cumulative training seconds when
each was taken, their epochs; hyperman.baseline.load_snapshots reads it),
and, as train-baseline does, OUT/baseline.pt (the last net, resumable),
OUT/epochs.pt (every epoch's θ) and OUT/baseline_summary.json."""

from __future__ import annotations

import argparse
import sys

from . import train_baseline
from .. import settings
from ..baseline import train_baseline as train
from ..config import BaselineConfig
from ..errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    train_baseline.add_arguments(parser, snapshots=True)


def run(args: argparse.Namespace) -> int:
    if args.snapshot_cycles < 1:
        raise ConfigError(f"--snapshot-cycles must be at least 1 (the members of the ensemble), got "
                          f"{args.snapshot_cycles}")
    summary = train(settings.from_args(BaselineConfig, args), args.data, args.out, args.device, args.resume,
                    force=args.force)
    print(f"snapshot ensemble seed {args.seed}: {args.snapshot_cycles} members at epochs {summary['snapshot_epochs']} "
          f"in {summary['train_seconds']:.0f} s (last member val acc {summary['val_acc']:.4f})", file=sys.stderr)
    return 0
