"""Validate a params file against hyperman/params.schema.yaml (exit 2 with the key path on error)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..params import load


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", type=Path, default=Path("params.yaml"), help="params file to check")


def run(args: argparse.Namespace) -> int:
    load(args.path)
    print(f"{args.path}: ok")
    return 0
