"""Distribution shift generated on the fly from the test images (Ovadia et al. 2019, "Can you trust your
model's uncertainty?"): accuracy, NLL and ECE against the intensity of a shift.

Why: a calibrated ensemble should lose confidence as fast as it loses accuracy
when the inputs drift away from the training data; clean test metrics cannot
show that. Ovadia et al. rotate MNIST digits by 0°–180° in 15° steps and
translate them; we add Gaussian pixel noise of growing σ as a corruption family.
No new data: every shifted set is a deterministic function of the test images
and a seed, and every model sees the same shifted images (paired comparison).
Images stay in [0, 1], the range of the data (hyperman.data): rotation and
translation fill with 0, the background, and noisy pixels are clipped.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from hyperman import metrics

# family → intensities; the first intensity of every family is the clean test set
SHIFT_FAMILIES: dict[str, tuple[float, ...]] = {
    "rotation": tuple(float(d) for d in range(0, 181, 15)),  # degrees, counter-clockwise (Ovadia et al.)
    "translation": tuple(float(p) for p in range(0, 15, 2)),  # pixels to the right (Ovadia et al.: MNIST shifts)
    "gaussian_noise": (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6),  # σ of N(0, σ²) pixel noise on [0, 1] images
}
PIXEL_RANGE = (0.0, 1.0)  # where the images live (hyperman.data divides by 255)

# images (N, C, H, W) → probabilities (P, N, classes) of the P members of one model (P = 1: a single net)
Predict = Callable[[torch.Tensor], torch.Tensor]


def rotate(images: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotate (N, C, H, W) images counter-clockwise about their centre, bilinear, background 0 filled in.
    Multiples of 90° are exact (torchvision maps pixel centres onto pixel centres)."""
    # imported here: torchvision's import pulls in torch._dynamo (seconds on a CPU), and every stage and the
    # workflow's planning import this module without rotating anything
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.v2 import functional as TF

    return TF.rotate(images, float(degrees), interpolation=InterpolationMode.BILINEAR, fill=0.0)


def translate(images: torch.Tensor, pixels: float) -> torch.Tensor:
    """Shift (N, C, H, W) images right by a whole number of pixels; what comes in from the left is 0."""
    shift = int(pixels)
    if shift != pixels or shift < 0:
        raise ValueError(f"translation takes a whole, non-negative number of pixels, got {pixels}")
    width = images.shape[-1]
    return F.pad(images, (shift, 0))[..., :width]


def gaussian_noise(images: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    """Add N(0, σ²) noise to every pixel and clip to PIXEL_RANGE. The noise pattern depends only on the seed
    and the image shape, so the intensities of a family scale one pattern (common random numbers: the
    curve over σ is not jagged by fresh noise at every step)."""
    if sigma < 0:
        raise ValueError(f"noise sigma must be ≥ 0, got {sigma}")
    noise = torch.randn(images.shape, generator=torch.Generator().manual_seed(seed), dtype=images.dtype)
    return (images + sigma * noise.to(images.device)).clamp(*PIXEL_RANGE)


def shift_images(images: torch.Tensor, family: str, intensity: float, seed: int = 0) -> torch.Tensor:
    """The test images (N, C, H, W) under one shift of SHIFT_FAMILIES; deterministic given the seed."""
    if images.dim() != 4:
        raise ValueError(f"shift_images expects images (N, C, H, W), got shape {tuple(images.shape)}")
    if family == "rotation":
        return rotate(images, intensity)
    if family == "translation":
        return translate(images, intensity)
    if family == "gaussian_noise":
        return gaussian_noise(images, intensity, seed)
    raise ValueError(f"unknown shift family {family!r}; choose one of {sorted(SHIFT_FAMILIES)}")


def score_members(probs: torch.Tensor, labels: torch.Tensor, bins: int = metrics.ECE_BINS) -> dict[str, dict]:
    """Accuracy, NLL and ECE of P members (P, N, classes): their mean over members ("member") and those of
    the mean-probability ensemble ("ensemble"; equal to "member" when P = 1)."""
    if probs.dim() != 3 or probs.shape[1] != len(labels):
        raise ValueError(f"expected probabilities (P, N={len(labels)}, classes), got shape {tuple(probs.shape)}")
    probs, labels = probs.cpu(), labels.cpu()  # metrics work on the CPU; a model may answer on the GPU
    member = {"accuracy": float(metrics.accuracy(probs, labels).mean()),
              "nll": float(metrics.nll(probs, labels).mean()),
              "ece": sum(metrics.ece(p, labels, bins) for p in probs) / len(probs)}
    mean = probs.double().mean(0)
    ensemble = {"accuracy": float(metrics.accuracy(mean, labels)), "nll": float(metrics.nll(mean, labels)),
                "ece": metrics.ece(mean, labels, bins)}
    return {"member": member, "ensemble": ensemble}


def _curves(scores: list[dict]) -> dict:
    """Per-intensity score dicts → {kind: {metric: [value per intensity]}}, plus their means over intensities."""
    curves = {kind: {name: [s[kind][name] for s in scores] for name in scores[0][kind]} for kind in scores[0]}
    means = {kind: {name: sum(values) / len(values) for name, values in by_metric.items()}
             for kind, by_metric in curves.items()}
    return {"curves": curves, "means": means}


def shift_benchmark(models: dict[str, Predict], images: torch.Tensor, labels: torch.Tensor,
                    families: dict[str, tuple[float, ...]] = SHIFT_FAMILIES, seed: int = 0,
                    bins: int = metrics.ECE_BINS) -> dict:
    """Accuracy, NLL and ECE of every model under every shift, JSON-ready:

        {family: {"intensities": [...],
                  "models": {name: {"member"|"ensemble": {"accuracy"|"nll"|"ece": [per intensity]}}},
                  "mean": {name: {"member"|"ensemble": {metric: mean over the family's intensities}}}}}

    Each shifted set is made once and given to all models, so they are compared on the same images.
    The mean includes the clean intensity, as Ovadia et al.'s summaries over shift levels do."""
    if not models:
        raise ValueError("shift_benchmark needs at least one model")
    out = {}
    for family, intensities in families.items():
        scores = {name: [] for name in models}
        for intensity in intensities:
            shifted = shift_images(images, family, intensity, seed)
            for name, predict in models.items():
                scores[name].append(score_members(predict(shifted), labels, bins))
        summary = {name: _curves(per_intensity) for name, per_intensity in scores.items()}
        out[family] = {"intensities": list(intensities),
                       "models": {name: s["curves"] for name, s in summary.items()},
                       "mean": {name: s["means"] for name, s in summary.items()}}
    return out


def shift_rows(result: dict) -> list[list]:
    """shift_benchmark's result as table rows [family, intensity, model, kind, accuracy, nll, ece]; the
    mean over a family's intensities is the row with intensity "mean"."""
    rows = []
    for family, part in result.items():
        for name, kinds in part["models"].items():
            for kind, curve in kinds.items():
                rows += [[family, x, name, kind, curve["accuracy"][i], curve["nll"][i], curve["ece"][i]]
                         for i, x in enumerate(part["intensities"])]
                mean = part["mean"][name][kind]
                rows.append([family, "mean", name, kind, mean["accuracy"], mean["nll"], mean["ece"]])
    return rows
