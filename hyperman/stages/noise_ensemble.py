"""Build the noise ensemble of one trained net (Zeng et al. 2025): Gaussian weight perturbations.

Member m is θ + ε_m, ε drawn per layer with σ_l = α · RMS(θ_l). α is chosen
from --alphas on the VALIDATION split of --data (never the test split) for the
lowest NLL of the mean-probability ensemble of --members perturbations; every
α scores the same noise draws.

Writes the folder OUT, all at once (a failure leaves it as it was):
OUT/noise_ensemble.pt (members θ (K, D), α, seed, the baseline's sha256;
hyperman.noise_ensemble.load_noise_ensemble reads it, and perturb(target, θ,
α, K, seed) regenerates it), OUT/noise_validation.csv (per α: ensemble NLL
and accuracy, mean member accuracy and NLL) and OUT/noise_summary.json."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import partial, settings
from ..config import NoiseConfig
from ..noise_ensemble import noise_ensemble


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--baseline", required=True, type=Path,
                        help="the trained net to perturb (baseline.pt of hyperman train-baseline)")
    parser.add_argument("--data", required=True, type=Path,
                        help="prepared dataset; α is chosen on its validation split")
    parser.add_argument("--out", required=True, type=Path, help="output folder (replaced as a whole)")
    settings.add_arguments(parser, NoiseConfig)
    settings.add_device_argument(parser)
    partial.add_argument(parser)


def run(args: argparse.Namespace) -> int:
    partial.allow(args.allow_partial)
    summary = noise_ensemble(args.baseline, args.data, args.out, settings.from_args(NoiseConfig, args), args.device,
                             log=lambda message: print(message, file=sys.stderr, flush=True))
    print(f"noise ensemble: α = {summary['alpha']}, validation ensemble NLL {summary['chosen']['ensemble_nll']:.4f}",
          file=sys.stderr)
    return 0
