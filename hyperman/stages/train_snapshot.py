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

DEFAULT_CYCLES = 5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    train_baseline.add_arguments(parser)
    parser.add_argument("--snapshot-cycles", type=int, default=DEFAULT_CYCLES, metavar="M",
                        help="learning-rate cycles = ensemble members; --epochs must be a multiple of it")


def run(args: argparse.Namespace) -> int:
    if args.snapshot_cycles < 1:
        print(f"hyperman train-snapshot: error: --snapshot-cycles must be at least 1, got {args.snapshot_cycles}",
              file=sys.stderr)
        return 1
    config = train_baseline.config_from_args(args, snapshot_cycles=args.snapshot_cycles)
    summary = train_baseline.train_or_explain("train-snapshot", args, config)
    if summary is None:
        return 1
    print(f"snapshot ensemble seed {args.seed}: {args.snapshot_cycles} members at epochs {summary['snapshot_epochs']} "
          f"in {summary['train_seconds']:.0f} s (last member val acc {summary['val_acc']:.4f})", file=sys.stderr)
    return 0
