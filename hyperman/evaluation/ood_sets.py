"""The out-of-distribution sets every model is scored on: one registry (name → builder) that the evaluation,
metrics.json (`ood.sets.<name>`) and the report all read; a new set is one entry in OOD_SETS.

Why several sets: one real pair (MNIST ↔ Fashion-MNIST) scored by mutual information rewards whatever the
training pushed toward; a detector worth the name also flags inputs nothing in training resembled. The
synthetic sets are built deterministically from the evaluation seed (and the set's name), so every model
sees the same images and a rerun the same numbers. A set that equals a training probe family (`probe_family`)
is flagged "trained toward" for a hypernetwork trained with those probes: its diversity term saw such images.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable

import torch

OTHER = "other_dataset"  # the set the evaluation is given with --ood-data (its first `ood_images`)
BLUR_SIGMA = 2.0  # pixels: blurred noise has blobs of about the size of a pen stroke


@dataclass(frozen=True)
class Source:
    """What the builders draw from: the in-distribution test images and the --ood-data ones (CPU, [0, 1])."""

    test_x: torch.Tensor  # (T, C, H, W) in-distribution test images
    other_x: torch.Tensor | None  # (T_ood, C, H, W) the other dataset's test images, capped; None without it
    other_name: str | None


@dataclass(frozen=True)
class OodSet:
    """One OOD set: how it is built (source, number of images, generator) and what the report says of it."""

    title: str
    description: str
    build: Callable[[Source, int, torch.Generator], torch.Tensor | None]
    probe_family: str | None = None  # the training probe family (objective.draw_probes) that draws such images
    synthetic: bool = True  # built from a seed, `ood_synthetic_images` of them


def _other(source: Source, n: int, generator: torch.Generator) -> torch.Tensor | None:
    return source.other_x


def _uniform_noise(source: Source, n: int, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, *source.test_x.shape[1:], generator=generator)


def _blurred_noise(source: Source, n: int, generator: torch.Generator) -> torch.Tensor:
    """Uniform noise blurred with a Gaussian of BLUR_SIGMA pixels, each image stretched back to [0, 1]: smooth
    blobs, far from both digits and pixel noise."""
    from torchvision.transforms.functional import gaussian_blur  # here: torchvision's import costs seconds

    noise = gaussian_blur(_uniform_noise(source, n, generator), kernel_size=4 * int(BLUR_SIGMA) + 1,
                          sigma=BLUR_SIGMA)
    low = noise.amin((1, 2, 3), keepdim=True)
    return (noise - low) / (noise.amax((1, 2, 3), keepdim=True) - low).clamp_min(1e-12)


def _inverted(source: Source, n: int, generator: torch.Generator) -> torch.Tensor:
    """1 − x of the first n in-distribution test images: the same shapes, the contrast reversed."""
    return 1 - source.test_x[:n]


OOD_SETS: dict[str, OodSet] = {
    OTHER: OodSet("other dataset", "the other dataset's test set (MNIST ↔ Fashion-MNIST), its first "
                  "`ood_images` (0: all)", _other, synthetic=False),
    "uniform_noise": OodSet("uniform noise", "pixels drawn uniformly from [0, 1]", _uniform_noise,
                            probe_family="noise"),
    "blurred_noise": OodSet("blurred noise", f"uniform noise blurred by a Gaussian of σ = {BLUR_SIGMA:g} pixels, "
                            "stretched to [0, 1] per image", _blurred_noise),
    "inverted": OodSet("inverted test images", "1 − x of the first in-distribution test images", _inverted),
}


def set_seed(seed: int, name: str) -> int:
    """The generator seed of a synthetic set: the evaluation seed and the set's name, not its place in the
    registry (adding a set changes no other set's images)."""
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % 2 ** 63


def build_sets(source: Source, synthetic_images: int, seed: int) -> dict[str, torch.Tensor]:
    """{name: images (n, C, H, W) float32 in [0, 1]} of every registered set that can be built (the other
    dataset only when given)."""
    out = {}
    for name, entry in OOD_SETS.items():
        generator = torch.Generator().manual_seed(set_seed(seed, name))
        images = entry.build(source, synthetic_images, generator)
        if images is not None:
            out[name] = images.float().contiguous()
    return out


def trained_toward(name: str, probe_family: str | None, function_term: bool) -> bool:
    """Whether a hypernetwork trained with `probe_family` probes in its function-space term saw images of this
    set's kind in training (then its OOD score on the set is no test of generalisation)."""
    return function_term and probe_family is not None and OOD_SETS[name].probe_family == probe_family


def title(name: str, other_name: str | None = None) -> str:
    """The set's name in the report (the other dataset by its own name when known)."""
    if name == OTHER and other_name:
        return f"{other_name} test set"
    return OOD_SETS[name].title if name in OOD_SETS else name.replace("_", " ")
