"""CIFAR-10 stays reachable: a tiny synthetic `cifar-10-batches-py` folder in the official pickle format goes
through prepare --from → train (a small RGB spec) → sample → train-baseline → evaluate, unchanged."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from hyperman.cli import main
from hyperman.data import load_dataset

PER_BATCH = 12  # images per training batch file (5 files)
TEST = 24  # test images (evaluate's adaptive ECE needs at least its 15 bins)
RGB = "conv8k3p2-conv8k3p2-fc16@3x32x32"  # a small RGB spec: the chain, not the net, is under test


def _batch(path: Path, rng: np.random.Generator, count: int, name: str) -> None:
    """One batch file as the official one is: a pickled dict with bytes keys, data (count, 3072) uint8 in
    channel-major order (1024 red, 1024 green, 1024 blue), labels a list of ints."""
    data = rng.integers(0, 256, (count, 3 * 32 * 32), dtype=np.uint8)
    labels = [int(label) for label in rng.integers(0, 10, count)]
    payload = {b"batch_label": name.encode(), b"labels": labels, b"data": data,
               b"filenames": [f"{name}_{i}.png".encode() for i in range(count)]}
    path.write_bytes(pickle.dumps(payload, protocol=2))


@pytest.fixture
def cifar_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "download" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(1, 6):
        _batch(folder / f"data_batch_{i}", rng, PER_BATCH, f"training batch {i} of 5")
    _batch(folder / "test_batch", rng, TEST, "testing batch 1 of 1")
    meta = {b"num_cases_per_batch": PER_BATCH, b"num_vis": 3072,
            b"label_names": [n.encode() for n in ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                                                  "horse", "ship", "truck")]}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return folder


def test_a_cifar_folder_runs_the_chain_unchanged(cifar_folder: Path, tmp_path: Path):
    data = tmp_path / "data" / "cifar10"
    # --from the folder's parent works as well as the folder itself (the official archive unpacks into it)
    assert main(["prepare", "--dataset", "cifar10", "--from", str(cifar_folder.parent), "--out", str(data),
                 "--val-size", "10"]) == 0
    manifest = json.loads((data / "manifest.json").read_text())
    assert manifest["sizes"] == {"train": 5 * PER_BATCH - 10, "validation": 10, "test": TEST}
    dataset = load_dataset(data)
    assert dataset.image_shape == (3, 32, 32) and len(dataset.test_y) == TEST
    pixels = np.concatenate([pickle.loads((cifar_folder / f"data_batch_{i}").read_bytes(), encoding="bytes")[b"data"]
                             for i in range(1, 6)]).reshape(-1, 3, 32, 32)
    held_out = set(manifest["validation"]["indices"])
    first = next(i for i in range(len(pixels)) if i not in held_out)
    np.testing.assert_allclose(dataset.train_x[0], pixels[first] / 255.0, rtol=0, atol=1e-6)  # channel-major, as read
    run = tmp_path / "run"
    cpu = ["--device", "cpu"]
    assert main(["train", "--data", str(data), "--out", str(run / "g"), "--target", RGB, "--steps", "2",
                 "--nets-per-step", "2", "--images-per-net", "4", "--latent-dim", "8", "--eval-every", "2",
                 "--eval-nets", "2", "--probes", "2", *cpu]) == 0
    assert main(["sample", "--checkpoint", str(run / "g" / "hypernet.pt"), "--out", str(run / "samples.pt"),
                 "--num-nets", "4", *cpu]) == 0
    for seed in (0, 1):
        assert main(["train-baseline", "--data", str(data), "--out", str(run / f"b{seed}"), "--target", RGB,
                     "--epochs", "1", "--batch-size", "25", "--seed", str(seed), *cpu]) == 0
    assert main(["evaluate", "--checkpoint", str(run / "g" / "hypernet.pt"), "--samples", str(run / "samples.pt"),
                 "--baselines", str(run / "b0" / "baseline.pt"), str(run / "b1" / "baseline.pt"),
                 "--data", str(data), "--out", str(run / "evaluate"), "--ensemble-sizes", "1", "2", "--draws", "1",
                 "--path-pairs", "1", "--path-points", "2", "--adversarial-images", "4", "--adversarial-eps", "0.1",
                 "--symmetry-copies", "2", "--bootstrap-resamples", "20", "--shift-images", "4", "--shift-nets", "2",
                 "--alignment-nets", "2", "--control-nets", "2", "--control-images", "4",
                 "--ood-synthetic-images", "8", "--ood-resamples", "20", *cpu]) == 0
    metrics = json.loads((run / "evaluate" / "metrics.json").read_text())
    assert metrics["inputs"]["dataset"] == "cifar10" and metrics["inputs"]["target"] == RGB
    assert 0 <= metrics["models"]["hypernet_ensemble"]["accuracy"] <= 1
