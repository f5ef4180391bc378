"""Train a hypernetwork G(z) → θ for accuracy and symmetry-aware diversity: loss = λ·CE − Ĥ.

Writes OUT/hypernet.pt (atomic checkpoint: G, optimizer, step, RNG state,
config), OUT/train_log.jsonl (one JSON line per step; validation figures
every --eval-every steps) and OUT/train_summary.json. --resume continues a
stopped run exactly; a fresh start into a folder holding a run is refused
unless --force, which moves that run to OUT.previous-<UTC time>. The defaults are the CPU default study (the same as
params.yaml); configs/paper.yaml holds the paper's settings (use a GPU).

Data-parallel: `torchrun --nproc-per-node N -m hyperman train ...` splits the
nets of every step over N processes (--nets-per-step must divide by N) and
gives the same weights as one process; rank 0 writes the outputs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import out_folder, settings
from ..config import TrainConfig
from ..training import train


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, type=Path, help="prepared dataset folder (hyperman prepare)")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    settings.add_arguments(parser, TrainConfig)
    out_folder.add_arguments(parser, "hypernet.pt")


def run(args: argparse.Namespace) -> int:
    summary = train(settings.from_args(TrainConfig, args), args.data, args.out, resume=args.resume,
                    force=args.force)
    print(f"trained {summary['steps']} steps in {summary['train_seconds']:.0f} s "
          f"({summary['seconds_per_step']:.3f} s/step)", file=sys.stderr)
    return 0
