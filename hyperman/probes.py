"""Probe inputs of the function-space entropy: one registry of families, each data-like or an outlier.

Why probes at all: the function-space term rewards nets that predict differently on inputs the data does not
pin down. Two kinds help in different ways (Steger et al. 2024; HE-CKA, NeurIPS 2024):

- data-like probes (`probe_family`: mixup of two training images, or training images shifted by 6 pixels) sit
  between and around the training digits, where disagreement still costs some accuracy;
- outlier probes (`outlier_families`) are label-destroying: heavily distorted training images (erased,
  affine, elastic, flipped) and procedural patterns (lines, grids, smooth low-frequency waves). No label is
  right on them, so repelling the nets' predictions there buys uncertainty without fighting the CE.

No family may draw images like an OOD evaluation set (hyperman/evaluation/ood_sets.py: the other dataset,
uniform noise, blurred noise, inverted test images): a detector scored on what it was trained to flag measures
no generalisation. That is why the old `noise` family (uniform noise = the `uniform_noise` set) is gone and
`smooth` is a sum of a few waves of at most SMOOTH_CYCLES cycles per image, far smoother than blurred noise.
tests/test_probes.py checks the two registries apart.

Every draw takes its random numbers from the caller's seeded CPU generator (exact resume) and builds the
images on the training images' device with a few batched tensor operations (cheap next to the nets' forward).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from .augment import random_shift
from .config import choices

DATA, OUTLIER = "data", "outlier"
AUGMENT_PROBE_SHIFT = 6  # pixels: beyond the ≤ 2-pixel shifts of training augmentation, so "off the data"
ERASE_SIDE = 0.5  # erased: a square of this share of the side, inside the central digit area
AFFINE_DEGREES = 30.0  # affine: rotation and shear, each uniform in ±this
AFFINE_SCALE = (0.4, 1.6)  # affine: each axis scaled independently
ELASTIC_SIGMA, ELASTIC_ALPHA = 2.0, 8.0  # elastic: smoothing (px) and size (px) of the displacement field
LINE_WIDTH = (1.0, 3.0)  # lines: stroke width in pixels
GRID_PERIOD = (4.0, 10.0)  # grid: pixels between stripes
SMOOTH_CYCLES = 1.5  # smooth: highest spatial frequency, cycles per image (blurred noise has ~6)

Draw = Callable[[torch.Tensor, int, torch.Generator], torch.Tensor]


@dataclass(frozen=True)
class ProbeFamily:
    kind: str  # DATA or OUTLIER
    description: str
    draw: Draw  # (training images (N, C, H, W) in [0, 1], count, CPU generator) -> (count, C, H, W) in [0, 1]


def _pick(train_x: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    return train_x[torch.randint(len(train_x), (count,), generator=generator).to(train_x.device)]


def _uniform(shape, generator: torch.Generator, low: float, high: float, like: torch.Tensor) -> torch.Tensor:
    return (low + (high - low) * torch.rand(shape, generator=generator)).to(like)


def _mixup(train_x: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    index = torch.randint(len(train_x), (2, count), generator=generator).to(train_x.device)
    a = torch.rand(count, 1, 1, 1, generator=generator).to(train_x)
    return a * train_x[index[0]] + (1 - a) * train_x[index[1]]


def _augment(train_x: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    index = torch.randint(len(train_x), (count,), generator=generator).to(train_x.device)
    return random_shift(train_x[index], AUGMENT_PROBE_SHIFT, generator)


def _grid(count: int, h: int, w: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel coordinates (count, h, w) each, centred on the image, in pixels."""
    ys = torch.arange(h, device=like.device, dtype=like.dtype) - (h - 1) / 2
    xs = torch.arange(w, device=like.device, dtype=like.dtype) - (w - 1) / 2
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    return y.expand(count, h, w), x.expand(count, h, w)


def _erased(train_x: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """Training images with a square of ERASE_SIDE of the side set to 0, placed inside the central 20/28 of
    the image where the digit's ink is: most of the strokes that tell the class are gone."""
    images = _pick(train_x, count, generator).clone()
    *_, h, w = images.shape
    side, margin = round(ERASE_SIDE * h), round(4 * h / 28)
    top = torch.randint(margin, max(h - margin - side, margin) + 1, (count,), generator=generator).to(images.device)
    left = torch.randint(margin, max(w - margin - side, margin) + 1, (count,), generator=generator).to(images.device)
    rows = torch.arange(h, device=images.device)[None, :, None]
    cols = torch.arange(w, device=images.device)[None, None, :]
    box = ((rows >= top[:, None, None]) & (rows < top[:, None, None] + side)
           & (cols >= left[:, None, None]) & (cols < left[:, None, None] + side))
    return images.masked_fill(box[:, None], 0.0)


def _affine(train_x: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """Training images rotated and sheared by up to ±AFFINE_DEGREES and each axis scaled by AFFINE_SCALE."""
    images = _pick(train_x, count, generator)
    angle = _uniform(count, generator, -AFFINE_DEGREES, AFFINE_DEGREES, images) * math.pi / 180
    shear = _uniform(count, generator, -AFFINE_DEGREES, AFFINE_DEGREES, images) * math.pi / 180
    scale = _uniform((2, count), generator, *AFFINE_SCALE, images)
    cos, sin, tan = angle.cos(), angle.sin(), shear.tan()
    # sampling grid: output coordinates → input coordinates (inverse map of rotate · shear · scale)
    matrix = torch.stack([torch.stack([cos / scale[0], (cos * tan - sin) / scale[0]], -1),
                          torch.stack([sin / scale[1], (sin * tan + cos) / scale[1]], -1)], -2)
    theta = torch.cat([matrix, torch.zeros(count, 2, 1, dtype=images.dtype, device=images.device)], -1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, align_corners=False, padding_mode="zeros").clamp(0, 1)


def _elastic(train_x: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """Training images warped by a random displacement field (uniform noise smoothed by ELASTIC_SIGMA pixels,
    scaled to a typical ELASTIC_ALPHA pixels): a much stronger, shorter-range warp than augmentation's
    (Simard et al. use σ = 4), which tears the strokes apart."""
    images = _pick(train_x, count, generator)
    *_, h, w = images.shape
    field = _uniform((count, 2, h, w), generator, -1.0, 1.0, images)
    # torchvision here, not at the top: importing it pulls in torchvision.models and torch._dynamo (~2 s of CPU
    # in every process that imports hyperman.probes: every stage that trains, evaluates or reports)
    from torchvision.transforms.functional import gaussian_blur

    field = gaussian_blur(field, kernel_size=4 * int(ELASTIC_SIGMA) + 1, sigma=ELASTIC_SIGMA)
    field = field / field.abs().mean((1, 2, 3), keepdim=True).clamp_min(1e-12) * ELASTIC_ALPHA / 2
    y, x = _grid(count, h, w, images)
    grid = torch.stack([(x + field[:, 0]) / (w / 2), (y + field[:, 1]) / (h / 2)], -1)
    return F.grid_sample(images, grid, align_corners=False, padding_mode="zeros").clamp(0, 1)


def _flipped(train_x: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """Training images mirrored left-right, top-bottom or both (each a third): mirrored digits are no digits
    (and a 6 turned over reads as a 9)."""
    images = _pick(train_x, count, generator)
    how = torch.randint(3, (count,), generator=generator).to(images.device)[:, None, None, None]
    return torch.where(how == 0, images.flip(-1), torch.where(how == 1, images.flip(-2), images.flip(-2, -1)))


def _lines(train_x: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """One to four straight strokes of LINE_WIDTH pixels between random points: pen-like, but no digit."""
    c, h, w = train_x.shape[1:]
    ends = _uniform((count, 4, 2, 2), generator, -0.45, 0.45, train_x) * torch.tensor([h, w]).to(train_x)
    width = _uniform((count, 4, 1, 1), generator, *LINE_WIDTH, train_x)
    used = torch.arange(4, device=train_x.device)[None, :] < torch.randint(1, 5, (count, 1), generator=generator
                                                                           ).to(train_x.device)
    y, x = _grid(count, h, w, train_x)
    point = torch.stack([y, x], -1)[:, None]  # (count, 1, h, w, 2)
    a, b = ends[:, :, 0][:, :, None, None], ends[:, :, 1][:, :, None, None]  # (count, 4, 1, 1, 2)
    t = (((point - a) * (b - a)).sum(-1) / ((b - a) ** 2).sum(-1).clamp_min(1e-6)).clamp(0, 1)
    dist = (point - (a + t[..., None] * (b - a))).norm(dim=-1)  # (count, 4, h, w)
    ink = (width / 2 + 0.5 - dist).clamp(0, 1) * used[:, :, None, None]
    return ink.amax(1)[:, None].expand(count, c, h, w).contiguous()


def _stripes(count: int, h: int, w: int, generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    y, x = _grid(count, h, w, like)
    angle = _uniform((count, 1, 1), generator, 0.0, math.pi, like)
    period = _uniform((count, 1, 1), generator, *GRID_PERIOD, like)
    phase = _uniform((count, 1, 1), generator, 0.0, 1.0, like)
    along = (x * angle.cos() + y * angle.sin()) / period + phase
    return (along - along.floor() < 0.35).to(like.dtype)


def _grid_pattern(train_x: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """Sharp stripes of a random period (GRID_PERIOD pixels) and orientation; half of them crossed by a second
    set (a grid)."""
    c, h, w = train_x.shape[1:]
    first, second = _stripes(count, h, w, generator, train_x), _stripes(count, h, w, generator, train_x)
    crossed = (torch.rand(count, 1, 1, generator=generator) < 0.5).to(train_x.device)
    return torch.where(crossed, torch.maximum(first, second), first)[:, None].expand(count, c, h, w).contiguous()


def _smooth(train_x: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """A sum of three plane waves of at most SMOOTH_CYCLES cycles per image, stretched to [0, 1] per image:
    large soft gradients, unlike the pen-sized blobs of blurred noise."""
    c, h, w = train_x.shape[1:]
    y, x = _grid(count, h, w, train_x)
    total = torch.zeros(count, h, w, dtype=train_x.dtype, device=train_x.device)
    for _ in range(3):
        freq = _uniform((2, count, 1, 1), generator, -SMOOTH_CYCLES, SMOOTH_CYCLES, train_x)
        phase = _uniform((count, 1, 1), generator, 0.0, 2 * math.pi, train_x)
        total = total + torch.cos(2 * math.pi * (freq[0] * y / h + freq[1] * x / w) + phase)
    low, high = total.amin((1, 2), keepdim=True), total.amax((1, 2), keepdim=True)
    return ((total - low) / (high - low).clamp_min(1e-6))[:, None].expand(count, c, h, w).contiguous()


PROBE_FAMILIES: dict[str, ProbeFamily] = {
    "mixup": ProbeFamily(DATA, "a·x1 + (1 − a)·x2 of two training images, a ~ U(0, 1)", _mixup),
    "augment": ProbeFamily(DATA, f"training images shifted by up to {AUGMENT_PROBE_SHIFT} pixels", _augment),
    "erased": ProbeFamily(OUTLIER, f"training images with a square of {ERASE_SIDE:g} of the side erased from the "
                          "digit area", _erased),
    "affine": ProbeFamily(OUTLIER, f"training images rotated and sheared by up to ±{AFFINE_DEGREES:g}°, each axis "
                          f"scaled by {AFFINE_SCALE[0]:g}–{AFFINE_SCALE[1]:g}", _affine),
    "elastic": ProbeFamily(OUTLIER, f"training images under a strong elastic warp (σ = {ELASTIC_SIGMA:g} px, "
                           f"mean displacement {ELASTIC_ALPHA / 2:g} px)", _elastic),
    "flipped": ProbeFamily(OUTLIER, "training images mirrored left-right, top-bottom or both", _flipped),
    "lines": ProbeFamily(OUTLIER, "one to four straight strokes between random points", _lines),
    "grid": ProbeFamily(OUTLIER, "sharp stripes or grids of random period and orientation", _grid_pattern),
    "smooth": ProbeFamily(OUTLIER, f"a sum of three plane waves of at most {SMOOTH_CYCLES:g} cycles per image",
                          _smooth),
}
DATA_FAMILIES = tuple(name for name, f in PROBE_FAMILIES.items() if f.kind == DATA)
OUTLIER_FAMILIES = tuple(name for name, f in PROBE_FAMILIES.items() if f.kind == OUTLIER)
if (DATA_FAMILIES, OUTLIER_FAMILIES) != (choices.PROBE_FAMILIES, choices.OUTLIER_FAMILIES):  # the settings' lists
    raise ImportError("hyperman.probes' families differ from hyperman.config.choices' PROBE_FAMILIES and "
                      "OUTLIER_FAMILIES; name a new family in both")


def draw(family: str, train_x: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """`count` probes (count, C, H, W) of one family, on train_x's device."""
    if family not in PROBE_FAMILIES:
        raise ValueError(f"unknown probe family {family!r}; use one of {', '.join(PROBE_FAMILIES)}")
    return PROBE_FAMILIES[family].draw(train_x, count, generator)


def draw_mixed(families: list[str], train_x: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """`count` probes shared out over `families` in their order (the first ones get one more when it does not
    divide), drawn family after family from the generator."""
    shares = [count // len(families) + (k < count % len(families)) for k in range(len(families))]
    return torch.cat([draw(f, train_x, n, generator) for f, n in zip(families, shares) if n])


def used(config: dict) -> dict:
    """What a run's function-space term was trained on, from its stored config (older ones have no outlier
    keys): the training summary and the report show it."""
    function_term = "function" in choices.diversity_terms(config.get("diversity", True))
    outliers = int(config.get("outlier_probes", 0)) if function_term else 0
    data = function_term and float(config.get("function_weight", 0.0)) > 0
    families = ([config.get("probe_family", "mixup")] if data else []) + (
        list(config.get("outlier_families", [])) if outliers else [])
    return {"families": families,
            "data": {"family": config.get("probe_family", "mixup"), "probes": int(config.get("probes", 0)),
                     "weight": float(config.get("function_weight", 0.0))} if data else None,
            "outlier": {"families": list(config.get("outlier_families", [])), "probes": outliers,
                        "weight": float(config.get("outlier_weight", 0.0))} if outliers else None,
            "warmup_steps": int(config.get("repulsion_warmup", 0)) if function_term else 0,
            "estimator": config.get("function_estimator", "kl") if function_term else None}
