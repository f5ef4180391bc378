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

from .common import optional_limit
from ..checkpoint import CheckpointError
from ..data import DataError
from ..noise_ensemble import NoiseConfig, noise_ensemble

D = NoiseConfig()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--baseline", required=True, type=Path,
                        help="the trained net to perturb (baseline.pt of hyperman train-baseline)")
    parser.add_argument("--data", required=True, type=Path,
                        help="prepared dataset; α is chosen on its validation split")
    parser.add_argument("--out", required=True, type=Path, help="output folder (replaced as a whole)")
    parser.add_argument("--members", type=int, default=D.members, help="perturbed nets K in the ensemble")
    parser.add_argument("--alphas", type=float, nargs="+", default=D.alphas, metavar="ALPHA",
                        help="candidate noise scales α (σ of each layer = α × RMS of its weights)")
    parser.add_argument("--seed", type=int, default=D.seed, help="seed of the noise (the same draws for every α)")
    parser.add_argument("--limit-val", type=optional_limit, default=None,
                        help="score α on the first N validation images only (0: all)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where to run the nets")


def run(args: argparse.Namespace) -> int:
    config = NoiseConfig(args.members, list(args.alphas), args.seed, args.limit_val)
    try:
        summary = noise_ensemble(args.baseline, args.data, args.out, config, args.device,
                                 log=lambda message: print(message, file=sys.stderr, flush=True))
    except (CheckpointError, DataError, ValueError, RuntimeError) as error:
        print(f"hyperman noise-ensemble: error: {error}", file=sys.stderr)
        return 1
    print(f"noise ensemble: α = {summary['alpha']}, validation ensemble NLL {summary['chosen']['ensemble_nll']:.4f}",
          file=sys.stderr)
    return 0
