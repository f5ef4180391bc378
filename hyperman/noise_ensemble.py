"""The noise ensemble: Gaussian perturbations of ONE trained net (Zeng et al. 2025).

Zeng et al. ("Generative modeling of weights: generalization or
memorization?") found that several published weight generators do not beat
this baseline, so a weight generator must be compared with it. Member m is
θ + ε_m with ε drawn per layer from N(0, σ_l²), σ_l = α · RMS(θ_l): the
noise is relative to each layer's own weight scale (conv1 and the output
layer differ by an order of magnitude), with one α for all layers. α is
chosen on the VALIDATION split, from a small grid, for the lowest NLL of the
mean-probability ensemble; the test split is never looked at. Every α is
scored with the same noise draws (common random numbers), so the comparison
between α values is not blurred by sampling noise. The members are regenerated
exactly from (θ, α, members, seed) by `perturb` (noise drawn on the CPU).
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from pathlib import Path

import torch

from . import checkpoint, compute, metrics, out_folder
from . import settings
from .config import NoiseConfig
from .baseline import load_target_net
from .data import load_dataset
from .device import resolve_device
from .forward import Forward
from .files import check_out_folder, replace_dir_atomically, sha256_file, write_json_atomic, write_text_atomic
from .targets import Target

MEMBERS = "noise_ensemble.pt"
TABLE = "noise_validation.csv"
SUMMARY = "noise_summary.json"


def check_config(config: NoiseConfig) -> None:
    """Refuse what cannot be scored, before anything is read or written: the bounds declared on NoiseConfig's
    fields (hyperman.settings.check), naming the flag."""
    settings.check(config)


def layer_rms(target: Target, theta: torch.Tensor) -> torch.Tensor:
    """RMS of each layer's weights and biases (layers,) of one net θ (D,)."""
    return torch.stack([theta[a:b].double().pow(2).mean().sqrt() for a, b in target.offsets()])


def perturb(target: Target, theta: torch.Tensor, alpha: float, members: int, seed: int) -> torch.Tensor:
    """`members` perturbed copies (members, D) of θ (D,): layer l gets N(0, (α · RMS(θ_l))²) noise.

    The noise is drawn on the CPU from a generator seeded with `seed`, so the
    same arguments give the same members on any device, and every α scales
    the same draws."""
    noise = torch.randn(members, target.num_params, generator=torch.Generator().manual_seed(seed))
    sigma = torch.cat([torch.full((b - a,), alpha * float(rms)) for (a, b), rms in
                       zip(target.offsets(), layer_rms(target, theta.cpu()))])
    return theta.detach().cpu().float() + noise * sigma


def score_alphas(forward: Forward, theta: torch.Tensor, config: NoiseConfig, x: torch.Tensor,
                 y: torch.Tensor) -> list[dict]:
    """One row per α: ensemble NLL/accuracy and mean member accuracy/NLL of the perturbed nets on (x, y)."""
    rows = []
    for alpha in config.alphas:
        probs = forward.probs(perturb(forward.target, theta, alpha, config.members, config.seed), x)
        mean = probs.double().mean(0)
        rows.append({"alpha": alpha, "ensemble_nll": float(metrics.nll(mean, y)),
                     "ensemble_accuracy": float(metrics.accuracy(mean, y)),
                     "member_accuracy_mean": float(metrics.accuracy(probs, y).mean()),
                     "member_nll_mean": float(metrics.nll(probs, y).mean())})
    return rows


def _table(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows([{k: f"{v:.6g}" for k, v in row.items()} for row in rows])
    return buffer.getvalue()


def noise_ensemble(baseline: Path, data_dir: Path, out: Path, config: NoiseConfig, device_name: str = "auto",
                   log=print) -> dict:
    """Choose α on the validation split and write the folder OUT atomically; returns the summary.

    OUT/noise_ensemble.pt ("noise-ensemble" checkpoint: members θ (K, D), α,
    seed, the baseline's path and sha256), OUT/noise_validation.csv (one row
    per α) and OUT/noise_summary.json (the choice, the table, the single net's
    own validation scores for reference)."""
    check_config(config)
    check_out_folder(out)  # before any work: the user's file (or another run's folder) is never replaced
    out_folder.check_replaceable(Path(out), "noise-ensemble")
    device = resolve_device(device_name)
    target, theta, _ = load_target_net(baseline)
    data = load_dataset(data_dir)
    if tuple(data.image_shape) != target.input_shape:
        raise ValueError(f"{baseline} is a {target.name} net for {target.input_shape} images, {data_dir} holds "
                         f"{data.image_shape}")
    x, y = torch.from_numpy(data.val_x[:config.limit_val]), torch.from_numpy(data.val_y[:config.limit_val])
    forward = Forward(target, "auto", device)
    rows = score_alphas(forward, theta, config, x, y)
    best = min(rows, key=lambda row: row["ensemble_nll"])
    single = forward.probs(theta[None], x)[0]
    summary = {"baseline": str(baseline), "baseline_sha256": sha256_file(baseline), "config": asdict(config),
               "alpha": best["alpha"], "validation_images": len(y), "chosen": best, "validation": rows,
               "single_net": {"nll": float(metrics.nll(single, y)), "accuracy": float(metrics.accuracy(single, y))},
               "layer_rms": layer_rms(target, theta).tolist(),
               "compute": {"train_flops": 0, "image_net_passes": 0, "note": "no training beyond the single net's",
                           "validation_flops": (len(config.alphas) * config.members + 1) * len(y)
                           * compute.target_forward_flops(target)}}
    members = perturb(target, theta, best["alpha"], config.members, config.seed)
    log(f"noise ensemble: α = {best['alpha']} (validation ensemble NLL {best['ensemble_nll']:.4f}, single net "
        f"{summary['single_net']['nll']:.4f}), {config.members} members")

    def build(staging: Path) -> None:
        checkpoint.save(staging / MEMBERS, {"kind": "noise-ensemble", "target": target.name, "thetas": members,
                                            "alpha": best["alpha"], "seed": config.seed,
                                            "baseline": str(baseline), "baseline_sha256": summary["baseline_sha256"]})
        write_text_atomic(staging / TABLE, _table(rows))
        write_json_atomic(staging / SUMMARY, summary)

    # two runs on one OUT: the last complete one wins, never a mix
    replace_dir_atomically(Path(out), build, "noise-ensemble")
    return summary


def load_noise_ensemble(path: Path) -> tuple[torch.Tensor, float]:
    """The members (K, D) and α of a noise ensemble (OUT/noise_ensemble.pt or the folder OUT)."""
    path = Path(path)
    path = path / MEMBERS if path.is_dir() else path
    payload = checkpoint.load(path, kind="noise-ensemble")
    return payload["thetas"], float(payload["alpha"])
