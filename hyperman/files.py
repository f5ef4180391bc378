"""Small file helpers shared by the stages: hashes and all-or-nothing writes.

Every output is written to a temporary sibling and renamed into place, so an
interrupted stage leaves either the previous complete file (or folder) or the
new complete one — never a half-written file that looks finished.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Callable

from . import out_folder, partial
from .errors import OutputError


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_out_folder(out: Path, flag: str = "--out") -> Path:
    """Refuse an output folder that is an existing file: the user's file is never replaced by a folder."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{flag} {out} is an existing file, not a folder; give a new or existing folder "
                          "(the file was left as it is)")
    return out


def check_out_file(path: Path, flag: str = "--out") -> Path:
    """Refuse an output file that is an existing folder (or lies under a file)."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{flag} {path} is a folder; give the path of a file to write (e.g. {path}/samples.pt)")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise OutputError(f"{flag} {path}: {parent} is a file, not a folder; choose another path")
    return path


def write_atomic(path: Path, write: Callable[[IO], None], binary: bool = False, fsync: bool = False) -> None:
    """Write `path` through a temporary sibling renamed over it: a crash at any point leaves the old file or the
    new one, never a torn file; on any error the temporary file goes again and `path` is untouched.

    `fsync`: the file and then its folder are synced to disk, so a checkpoint (the point a resume starts from)
    also survives a power loss, not only a killed process (hyperman.checkpoint.save)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if binary else "w") as handle:
            write(handle)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; this is an ordinary output file
        os.replace(tmp, path)
        if fsync:
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    write_atomic(path, lambda handle: handle.write(text))


def write_json_atomic(path: Path, data: dict, **dump_options) -> None:
    write_text_atomic(path, json.dumps(partial.stamp(data), indent=1, **dump_options) + "\n")


def replace_dir_atomically(out: Path, build: Callable[[Path], None], stage: str) -> None:
    """Call build(staging) on a temporary sibling folder, then swap it in for `out`.

    If build raises, `out` is left exactly as it was (absent or the old version).
    Only `stage`'s own earlier output is replaced (hyperman.out_folder.check_replaceable):
    a folder holding anything else is refused before build runs."""
    out = check_out_folder(out)
    out_folder.check_replaceable(out, stage)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the result is an ordinary folder
    try:
        build(staging)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.replace(out, old / "previous")
            os.replace(staging, out)
            shutil.rmtree(old)
        else:
            os.replace(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
