"""Validate a params file against workflow/schemas/params.schema.yaml (exit 1 with the key path on error)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..params import ParamsError, load


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", type=Path, default=Path("params.yaml"), help="params file to check")


def run(args: argparse.Namespace) -> int:
    try:
        load(args.path)
    except (ParamsError, OSError) as error:
        print(f"hyperman check-params: {args.path}: {error}", file=sys.stderr)
        return 1
    print(f"{args.path}: ok")
    return 0
