"""hyperman.datasets, the one list of dataset names: the schema's enums and the Snakemake wildcard are tied to
it, and a new dataset is one registry entry (README, "Extending": "A new dataset", run here for real)."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from hyperman import cli, datasets
from hyperman.data import load_dataset, prepare
from hyperman.datasets import DatasetSpec, DataError
from hyperman.idx import idx_bytes
from hyperman.params import SCHEMA_PATH, target_problems

ROOT = Path(__file__).resolve().parents[1]


def test_the_schemas_dataset_enums_are_the_registry():
    # The schema is a static file (Snakemake and jsonschema read it as it is), so this test is the tie.
    data = yaml.safe_load(SCHEMA_PATH.read_text())["properties"]["data"]["properties"]
    for key in ("dataset", "ood_dataset"):
        assert data[key]["enum"] == list(datasets.names()), f"{SCHEMA_PATH}: data.{key}'s enum"


def test_the_snakemake_wildcard_is_derived_from_the_registry():
    common = (ROOT / "workflow" / "rules" / "common.smk").read_text()
    assert "DATASET_PATTERN = wildcard_pattern()" in common and "dataset=DATASET_PATTERN" in common
    assert not re.search(r"dataset=\"[a-z]", common), "a hand-written list of dataset names in common.smk"
    pattern = datasets.wildcard_pattern()
    for name in datasets.names():
        assert re.fullmatch(pattern, name)
    for other in ("mnistx", "fashion", "cifar10/x", "mnist|cifar10", ""):
        assert not re.fullmatch(pattern, other), other


def test_the_module_constants_are_read_from_the_registry():
    assert datasets.DATASETS == ("mnist", "fashion-mnist", "cifar10")
    assert datasets.IMAGE_SHAPES["cifar10"] == (3, 32, 32) and datasets.TORCHVISION_FOLDER["fashion-mnist"] == "FashionMNIST"
    assert set(datasets.OFFICIAL_SHA256) == {"mnist", "fashion-mnist"}
    with pytest.raises(DataError, match="unknown dataset 'kmnist'; choose one of mnist, fashion-mnist, cifar10"):
        datasets.get("kmnist")


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


def test_the_offline_sources_rebuild_idx_files(tmp_path, monkeypatch):
    from hyperman.data_sources import csv_to_idx, read_folder
    from hyperman.idx import read_idx_bytes

    csv = b"label,p1\n" + b"\n".join(b"%d," % k + b",".join([b"%d" % k] * 784) for k in (7, 3)) + b"\n"
    images, labels = csv_to_idx(csv)
    assert read_idx_bytes(labels).tolist() == [7, 3] and read_idx_bytes(images).shape == (2, 28, 28)
    assert int(read_idx_bytes(images)[1, 5, 5]) == 3
    folder = tmp_path / "official" / "KMNIST" / "raw"  # a registered dataset's torchvision layout, gzipped
    folder.mkdir(parents=True)
    for name in datasets.IDX_FILES:
        (folder / f"{name}.gz").write_bytes(gzip.compress(labels))
    with pytest.raises(DataError, match="has no train-images-idx3-ubyte"):
        read_folder(tmp_path / "official")  # KMNIST is not registered (yet)
    monkeypatch.setitem(datasets.REGISTRY, "toy", DatasetSpec("toy", "KMNIST", (1, 28, 28), {"x": "y"}))
    assert read_folder(tmp_path / "official")["t10k-labels-idx1-ubyte"] == labels
