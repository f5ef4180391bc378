"""Draw N networks from a trained hypernetwork: θ = G(z), z from the training latent distribution.

Writes OUT (a checkpoint of kind "samples": the latents, the seed and the
sha256 of the hypernetwork checkpoint; G in eval mode regenerates every θ
deterministically, so the weights themselves are not stored) and, next to it,
OUT with the suffix .json: the generation speed in nets/s (G(z) + gauge
fixing, in chunks of --chunk nets)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import checkpoint
from ..device import resolve_device
from ..files import check_out_file, write_json_atomic
from .. import partial, settings
from ..config import SampleConfig
from ..sampling import draw, timing_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, type=Path, help="hypernetwork checkpoint (hypernet.pt)")
    parser.add_argument("--out", required=True, type=Path, help="samples file to write (e.g. samples.pt)")
    settings.add_arguments(parser, SampleConfig)
    settings.add_device_argument(parser)
    partial.add_argument(parser)


def run(args: argparse.Namespace) -> int:
    partial.allow(args.allow_partial)
    check_out_file(args.out)
    check_out_file(timing_path(args.out))
    device = resolve_device(args.device)
    payload, report = draw(args.checkpoint, args.num_nets, args.seed, args.chunk, device,
                           log=lambda message: print(message, file=sys.stderr, flush=True))
    checkpoint.save(args.out, payload)
    write_json_atomic(timing_path(args.out), report)
    print(f"wrote {args.num_nets} latents to {args.out} ({report['nets_per_second']:.0f} nets/s)", file=sys.stderr)
    return 0
