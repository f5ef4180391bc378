"""README, "Extending": "A new dataset", run for real and without network: a made-up IDX dataset registered in
hyperman.datasets is prepared from a folder, verified, loaded, checked against a target's input, and G trains on
it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from hyperman import cli, datasets
from hyperman.data import load_dataset, prepare
from hyperman.datasets import DatasetSpec, DataError
from hyperman.idx import idx_bytes
from hyperman.params import target_problems


def _toy_idx_folder(folder: Path, n_train: int = 240, n_test: int = 60) -> dict[str, str]:
    """Four IDX files of a made-up 28×28 digit set (the class decides the mean brightness), and their sha256."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = np.clip(rng.normal(20.0 * labels[:, None, None], 30.0, (n, 28, 28)), 0, 255).astype(np.uint8)
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(idx_bytes(images))
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in datasets.IDX_FILES}


def test_a_new_dataset_is_one_registry_entry(tmp_path, monkeypatch, capsys):
    """The README's worked example: register an IDX dataset, prepare it from a folder, train G on it."""
    source = tmp_path / "toy-official"
    digests = _toy_idx_folder(source)
    monkeypatch.setitem(datasets.REGISTRY, "toy-digits", DatasetSpec("toy-digits", "KMNIST", (1, 28, 28), digests))

    out = tmp_path / "data" / "toy-digits"
    manifest = prepare("toy-digits", out, source_dir=source, val_size=40, log=lambda message: None)
    assert manifest["dataset"] == "toy-digits" and manifest["sizes"] == {"train": 200, "validation": 40, "test": 60}
    assert (out / "KMNIST" / "raw" / "train-images-idx3-ubyte").is_file()
    data = load_dataset(out)
    assert data.name == "toy-digits" and data.image_shape == (1, 28, 28) and len(data.test_y) == 60
    # check-params holds the target's input against the registered image shape
    assert target_problems({"data": {"dataset": "toy-digits"}, "train": {"target": "mnist_cnn"}}) == []
    assert "has 1x28x28" in target_problems({"data": {"dataset": "toy-digits"}, "train": {"target": "cifar_cnn"}})[0]

    # a file that is not the registered one is refused, naming the file, and nothing is written
    (source / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(60, dtype=np.uint8)))
    with pytest.raises(DataError, match="sha256 mismatch for t10k-labels-idx1-ubyte"):
        prepare("toy-digits", tmp_path / "data" / "again", source_dir=source, log=lambda message: None)
    assert not (tmp_path / "data" / "again").exists()

    run = tmp_path / "run"
    assert cli.main(["train", "--data", str(out), "--steps", "2", "--nets-per-step", "2", "--images-per-net", "8",
                     "--eval-nets", "2", "--eval-every", "2", "--latent-dim", "8", "--device", "cpu",
                     "--out", str(run)]) == 0
    assert (run / "hypernet.pt").is_file() and (run / "train_summary.json").is_file()
