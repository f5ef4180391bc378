"""Reading a user's inputs for prediction: an IDX file, a .npy array, one image or a folder of PNG/JPEG images.

Why one reader: `hyperman predict` and the Python API must feed the nets
exactly what they were trained on, or the predictions mean nothing. Training
sees float32 NCHW images in [0, 1] (hyperman.data.load_dataset divides the
bytes by 255, nothing else: no mean/std normalisation). So

- images are converted to the target's channels (greyscale "L" for a 1-channel
  target such as MNIST's, RGB for CIFAR's), resized to its H×W (bilinear) and
  divided by 255; MNIST digits are white on a black background, so dark-on-light
  scans need `invert=True` (1 − x);
- IDX files hold unsigned bytes (N, H, W) or (N, C, H, W) and are divided by 255
  (gzip-compressed ones, *.gz, are read too);
- a .npy array must already have the target's shape (N, C, H, W), or (N, H, W)
  for a 1-channel target: uint8 is divided by 255, floats must lie in [0, 1].

Anything else is an `InputError`: one line naming the file and what was expected.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from .data import read_idx_bytes
from .errors import HypermanError
from .targets import Target

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_MODES = {1: "L", 3: "RGB"}


class InputError(HypermanError):
    """Inputs that cannot be fed to the target: unreadable, empty, or of a shape that does not fit."""


def expected(target: Target) -> str:
    c, h, w = target.input_shape
    also = f" or (N, {h}, {w})" if c == 1 else ""
    return f"(N, {c}, {h}, {w}){also}"


def check_images(x: torch.Tensor | np.ndarray, target: Target, where: str = "the inputs") -> torch.Tensor:
    """x as a float32 tensor (N, C, H, W) of the target's input shape, values in [0, 1]; else InputError."""
    if isinstance(x, np.ndarray):
        x = _scaled(x, target, where)
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{where}: expected a tensor or array of images {expected(target)}, got {type(x).__name__}")
    if x.dim() == 3 and target.input_shape[0] == 1:
        x = x[:, None]
    if x.dim() != 4 or tuple(x.shape[1:]) != target.input_shape or x.shape[0] < 1:
        raise InputError(f"{where}: shape {tuple(x.shape)} does not fit target {target.name}; expected "
                         f"{expected(target)} with N >= 1")
    x = x.float()
    if not torch.isfinite(x).all() or x.min() < 0 or x.max() > 1:
        raise InputError(f"{where}: values must be finite and lie in [0, 1] (pixels / 255, as in training); "
                         f"got [{float(x.min()):g}, {float(x.max()):g}]")
    return x


def _scaled(array: np.ndarray, target: Target, where: str) -> torch.Tensor:
    """An array as float32: bytes divided by 255, floats kept (check_images checks their range)."""
    if array.dtype == np.uint8:
        return torch.from_numpy(array.astype(np.float32) / 255.0)
    if array.dtype.kind not in "fiu":
        raise InputError(f"{where}: array of dtype {array.dtype} is not images; expected uint8 (0-255) or floats in "
                         f"[0, 1] of shape {expected(target)}")
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def read_inputs(path: str | Path, target: Target, invert: bool = False) -> tuple[torch.Tensor, list[str]]:
    """(images (N, C, H, W) float32 in [0, 1], one name per image) from an IDX file, a .npy array, one
    PNG/JPEG image or a folder of them (sorted by file name; names are the file names, else the row index).
    `invert`: 255 − byte for images and uint8 arrays, 1 − x for float arrays."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InputError(f"--inputs {path} holds no PNG or JPEG images ({', '.join(IMAGE_SUFFIXES)})")
        x, names = torch.stack([_read_image(p, target, invert) for p in files]), [p.name for p in files]
    elif not path.is_file():
        raise InputError(f"--inputs {path} does not exist; give an IDX file, a .npy array, an image or a folder of "
                         "PNG/JPEG images")
    elif path.suffix.lower() in IMAGE_SUFFIXES:
        x, names = _read_image(path, target, invert)[None], [path.name]
    else:
        array = _read_npy(path) if path.suffix.lower() == ".npy" else _read_idx(path)
        x = check_images(255 - array if invert and array.dtype == np.uint8 else array, target, str(path))
        x = 1.0 - x if invert and array.dtype != np.uint8 else x
        names = [str(i) for i in range(x.shape[0])]
    return x, names


def _read_image(path: Path, target: Target, invert: bool = False) -> torch.Tensor:
    """One image file as (C, H, W) in [0, 1]: converted to the target's channels, resized to its H×W, and
    inverted (255 − byte, before scaling, so that it is exact) if asked."""
    from PIL import Image, UnidentifiedImageError

    channels, height, width = target.input_shape
    if channels not in _MODES:
        raise InputError(f"{path}: target {target.name} takes {channels}-channel inputs, which images cannot give; "
                         f"pass a .npy array of shape {expected(target)}")
    try:
        with Image.open(path) as image:
            image = image.convert(_MODES[channels])
            if image.size != (width, height):
                image = image.resize((width, height), Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise InputError(f"{path} is not a readable PNG/JPEG image ({error}); remove or replace it") from None
    pixels = 255 - pixels if invert else pixels
    array = pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)
    return torch.from_numpy(array.astype(np.float32) / 255.0)


def _read_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as error:
        raise InputError(f"{path} is not a readable .npy array ({str(error).splitlines()[0]}); save it with "
                         "numpy.save (no pickled objects)") from None


def _read_idx(path: Path) -> np.ndarray:
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
            raise ValueError("bad magic number")
        return read_idx_bytes(raw)
    except (OSError, ValueError, EOFError) as error:
        raise InputError(f"{path} is not an unsigned-byte IDX file ({error}); give an IDX file, a .npy array or a "
                         "folder of PNG/JPEG images") from None
