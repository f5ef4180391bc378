"""manifest.json of a prepared dataset: checked field by field and sealed with its own sha256.

Why both: the manifest decides which training images are the validation
split, and the data files' hashes are in it. A manifest that is garbage,
empty, of the wrong shape or names an unknown dataset must be a one-line
error naming the file and how to restore it (not a KeyError deep in the
loader), and one altered validation index must not quietly move an image from
validation into training. `seal` stores the sha256 of the rest of the
manifest (canonical JSON) in `manifest_sha256`; `read` refuses a manifest
whose contents no longer match it, or that has none (prepared by an older
version: `hyperman prepare` again upgrades it in place).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

NAME = "manifest.json"
SEAL = "manifest_sha256"


def digest(manifest: dict[str, Any]) -> str:
    """sha256 of the manifest without its seal, as canonical JSON (key order and spacing do not matter)."""
    body = {k: v for k, v in manifest.items() if k != SEAL}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def seal(manifest: dict[str, Any]) -> dict[str, Any]:
    return {**manifest, SEAL: digest(manifest)}


def problem(manifest: Any, datasets: tuple[str, ...]) -> str | None:
    """Why `manifest` is no valid sealed manifest (None when it is one)."""
    if not isinstance(manifest, dict):
        return f"it holds a {type(manifest).__name__}, not an object"
    if manifest.get("dataset") not in datasets:
        return f"unknown dataset {manifest.get('dataset')!r} (known: {', '.join(datasets)})"
    hashes = manifest.get("sha256")
    if not isinstance(hashes, dict) or not hashes or not all(isinstance(v, str) for v in hashes.values()):
        return "no sha256 of the data files"
    sizes, split = manifest.get("sizes"), manifest.get("validation")
    if not isinstance(sizes, dict) or not all(isinstance(sizes.get(k), int) for k in ("train", "validation", "test")):
        return "no sizes of the train, validation and test splits"
    if not isinstance(split, dict) or not isinstance(split.get("indices"), list):
        return "no validation indices"
    indices, total = split["indices"], sizes["train"] + sizes["validation"]
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in indices):
        return "validation indices that are not integers"
    if len(indices) != sizes["validation"] or len(set(indices)) != len(indices):
        return f"{len(indices)} validation indices for a validation split of {sizes['validation']}"
    if indices and not (0 <= min(indices) and max(indices) < total):
        return f"validation indices outside the {total} training images"
    if SEAL not in manifest:
        return "no manifest_sha256 (prepared by an older version)"
    if manifest[SEAL] != digest(manifest):
        return "its contents do not match its manifest_sha256 (it was edited or damaged)"
    return None


def read(root: Path, datasets: tuple[str, ...], error: type[Exception]) -> dict[str, Any]:
    """The checked manifest of the prepared folder `root`; `error` (a DataError) names the file and the fix."""
    root = Path(root)
    path = root / NAME
    if not path.is_file():
        raise error(f"{root} has no {NAME}: run `hyperman prepare --dataset NAME --out {root}` first")
    manifest: Any = None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as reason:
        why = f"it is not JSON ({type(reason).__name__})"
    else:
        why = problem(manifest, datasets)
        if why is None:
            return manifest
    dataset = manifest.get("dataset") if isinstance(manifest, dict) and manifest.get("dataset") in datasets else "NAME"
    raise error(f"{path} is not a valid manifest: {why}. Prepare the dataset again with `hyperman prepare "
                f"--dataset {dataset} --out {root}`, or restore it with `dvc checkout {root}`")
