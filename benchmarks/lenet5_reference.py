"""Calibrate the ruler: a deep ensemble of `lenet5` trained with hyperman's baseline recipe, scored on the
MNIST test set beside the figures uncertainty-baselines publishes (baselines/mnist/README.md).

    python benchmarks/lenet5_reference.py --out results/lenet5_reference.json          # 10 members × 10 epochs
    python benchmarks/lenet5_reference.py --out /tmp/smoke.json --members 2 --epochs 1 --limit-train 300

Members (seeds 0 … M − 1) are trained one after another by hyperman.baseline.train_baseline, our recipe
unchanged (Adam, one-cycle, batch 128, random shifts of up to 2 pixels, 55,000 training images), into
OUT's sibling folder <out stem>_members/seed<k>; a rerun with the same settings reuses finished members.
The test set is read once, at the end. Intervals are 95 % percentile bootstraps over test images
(hyperman.stats.bootstrap_scores); ECE has 15 equal-width bins (hyperman.metrics), and the ensemble's
10-bin ECE is given too because uncertainty-baselines' `calibration` uses 10.

What the published numbers were trained with (baselines/mnist/deterministic.py): their LeNet-5 (a 120-filter
third convolution where ours has dense 120: see lenet5 in hyperman.target_spec.REGISTRY), Adam at a constant 1e-3, batch 256,
5,000 steps on 50,000 images (25 epochs), no augmentation, single runs without intervals.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from dataclasses import asdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hyperman import metrics, stats  # noqa: E402
from hyperman.baseline import load_target_net, train_baseline  # noqa: E402
from hyperman.config import BaselineConfig  # noqa: E402
from hyperman.data import load_dataset  # noqa: E402
from hyperman.device import resolve_device  # noqa: E402
from hyperman.errors import EXIT_CODE, HypermanError  # noqa: E402
from hyperman.files import check_out_file, write_json_atomic  # noqa: E402
from hyperman.forward import Forward  # noqa: E402
from hyperman.settings import add_device_argument  # noqa: E402

PUBLISHED = {"source": "google/uncertainty-baselines baselines/mnist/README.md (LeNet5, MNIST)",
             "single": {"accuracy": 0.991, "nll": 0.037}, "ensemble": {"accuracy": 0.994, "nll": 0.016, "ece": 0.005},
             "ensemble_members": 10}
SCORES = ("accuracy", "nll", "ece")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write the results to")
    parser.add_argument("--members", type=int, default=10, help="ensemble members (seeds 0 … M − 1)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per member (one-cycle schedule each)")
    parser.add_argument("--limit-train", type=int, default=None, help="first N training images only (smoke runs)")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "mnist", help="prepared MNIST folder")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--resamples", type=int, default=stats.RESAMPLES, help="bootstrap resamples")
    add_device_argument(parser)
    args = parser.parse_args(argv)
    for name in ("members", "epochs", "threads", "resamples"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    return args


def train_members(args: argparse.Namespace) -> list[Path]:
    """Train (or reuse) every member; the checkpoint paths, seed order."""
    folder = args.out.parent / f"{args.out.stem}_members"
    paths = []
    for seed in range(args.members):
        config = BaselineConfig(target="lenet5", epochs=args.epochs, seed=seed, limit_train=args.limit_train)
        train_baseline(config, args.data, folder / f"seed{seed}", args.device, resume=True)
        paths.append(folder / f"seed{seed}" / "baseline.pt")
    return paths


def evaluate(paths: list[Path], args: argparse.Namespace) -> dict:
    """Single nets (mean ± sd over members, member 0 with intervals) and the mean-probability ensemble."""
    device = resolve_device(args.device)
    nets = [load_target_net(path, device) for path in paths]
    target, thetas = nets[0][0], torch.stack([theta for _, theta, _ in nets])
    data = load_dataset(args.data)
    x, y = torch.from_numpy(data.test_x), torch.from_numpy(data.test_y).long()
    probs = Forward(target, "auto", device).probs(thetas, x)  # (M, N, C) float32 on the CPU
    per_member = {"accuracy": metrics.accuracy(probs, y), "nll": metrics.nll(probs, y),
                  "ece": torch.tensor([metrics.ece(p, y) for p in probs], dtype=torch.float64)}
    ensemble = probs.double().mean(0)
    seconds = [payload["train_seconds"] for _, _, payload in nets]
    config = {k: v for k, v in nets[0][2]["config"].items() if k != "seed"}
    return {"target": target.name, "num_params": target.num_params, "baseline_config": config,
            "members": len(paths), "test_images": len(y),
            "single": {"mean": {k: float(v.mean()) for k, v in per_member.items()},
                       "sd": {k: float(v.std()) if len(v) > 1 else 0.0 for k, v in per_member.items()},
                       "per_member": {k: v.tolist() for k, v in per_member.items()},
                       "member0": stats.bootstrap_scores(probs[0], y, args.resamples)},
            "ensemble": {**stats.bootstrap_scores(ensemble, y, args.resamples),
                         "ece_10_bins": metrics.ece(ensemble, y, bins=10)},
            "published": PUBLISHED, "train_seconds": seconds, "train_seconds_total": sum(seconds),
            "machine": {"cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                        "threads": torch.get_num_threads(), "device": str(device), "torch": torch.__version__},
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])}


def _cell(name: str, score: dict) -> str:
    """'99.12 [99.00, 99.25]' (accuracy in %) or '0.0301 [0.0270, 0.0335]'."""
    scale, digits = (100, 2) if name == "accuracy" else (1, 4)
    low, estimate, high = (f"{scale * score[k]:.{digits}f}" for k in ("low", "estimate", "high"))
    return f"{estimate} [{low}, {high}]"


def table(result: dict) -> str:
    """Markdown table: ours (with 95 % intervals) beside the published figures."""
    single, published, m = result["single"], result["published"], result["members"]
    rows = ["| metric | single net: mean ± sd over members | single net: member 0 [95 %] | published single "
            f"| {m}-member ensemble [95 %] | published 10-member ensemble |", "|---|---|---|---|---|---|"]
    for name in SCORES:
        scale, digits = (100, 2) if name == "accuracy" else (1, 4)
        mean = f"{scale * single['mean'][name]:.{digits}f} ± {scale * single['sd'][name]:.{digits}f}"
        shown = [f"{scale * published[part][name]:.{1 if name == 'accuracy' else 3}f}" if name in published[part]
                 else "–" for part in ("single", "ensemble")]
        rows.append(f"| {name}{' (%)' if name == 'accuracy' else ''} | {mean} | {_cell(name, single['member0'][name])} | "
                    f"{shown[0]} | {_cell(name, result['ensemble'][name])} | {shown[1]} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    torch.set_num_threads(args.threads)
    try:
        check_out_file(args.out)
        result = evaluate(train_members(args), args)
    except HypermanError as error:
        print(f"lenet5_reference: error: {error}", file=sys.stderr)
        return EXIT_CODE
    write_json_atomic(args.out, result)
    print(table(result))
    print(f"\n{result['members']} members × {args.epochs} epochs, {result['train_seconds_total'] / 60:.1f} min of "
          f"training on {result['machine']['device']} ({result['machine']['threads']} thread(s)); "
          f"ensemble ECE with 10 bins {result['ensemble']['ece_10_bins']:.4f}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
