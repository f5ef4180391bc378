"""The IDX file format (MNIST's): unsigned-byte arrays after a magic and big-endian int32 sizes.

A module of its own so that the data sources (which build IDX files) and the loader (which reads them) share
it without importing each other."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .datasets import DataError


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array in the IDX format (big-endian int32 sizes after a magic)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def read_idx_bytes(data: bytes) -> np.ndarray:
    """The array of IDX bytes (already verified by sha256, so the header is trusted)."""
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def read_idx(path: Path) -> np.ndarray:
    """The array of an IDX file; a file without the unsigned-byte magic is a DataError."""
    raw = Path(path).read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte IDX file (bad magic number)")
    return read_idx_bytes(raw)
