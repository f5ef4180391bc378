"""Export N nets of a model so that they run without hyperman: plain torch, safetensors or ONNX.

--format pt writes a torch.export program of the ensemble: with plain torch,
`torch.export.load(OUT).module()(x)` returns (mean probabilities (N, classes),
mutual information (N,)) for images x (N, C, H, W) float32 in [0, 1] (pixels /
255; MNIST digits white on black). --format onnx writes the same ensemble as
one ONNX graph (input `images`, outputs `probs` and `mutual_information`; run
it with onnxruntime). --format safetensors writes every net's weights as the
state dict of an nn.Sequential under `net<i>.`, with the layers (kind, in,
out, kernel, pool, relu) and the input shape as JSON in the file's metadata,
enough to rebuild the nets with torch.nn (README: "Using the ensemble").
Every format records the checkpoint's sha256, the number of nets and the
seed. The file is written to a temporary sibling and renamed into place."""

from __future__ import annotations

import argparse
import sys

from .. import partial, settings
from ..export import ExportConfig, export


def add_arguments(parser: argparse.ArgumentParser) -> None:
    settings.add_arguments(parser, ExportConfig)
    parser.add_argument("--device", default="cpu", choices=["cpu"],
                        help="exports are built on the CPU (the files run anywhere)")
    partial.add_argument(parser)


def run(args: argparse.Namespace) -> int:
    partial.allow(args.allow_partial)
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    meta = export(settings.from_args(ExportConfig, args), log)
    log(f"wrote {meta['num_nets']} nets to {args.out} ({args.format})")
    return 0
