"""hyperman.datasets, the one list of dataset names: the schema's enums and the Snakemake wildcard are tied to
it; the offline sources and the IDX format. A new dataset, for real: tests/test_extending_dataset.py."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
import yaml

from hyperman import datasets
from hyperman.datasets import DatasetSpec, DataError
from hyperman.params import SCHEMA_PATH

ROOT = Path(__file__).resolve().parents[1]


def test_the_schemas_dataset_enums_are_the_registry():
    # The schema is a static file (Snakemake and jsonschema read it as it is), so this test is the tie.
    data = yaml.safe_load(SCHEMA_PATH.read_text())["properties"]["data"]["properties"]
    for key in ("dataset", "ood_dataset"):
        assert data[key]["enum"] == list(datasets.names()), f"{SCHEMA_PATH}: data.{key}'s enum"


def test_the_snakemake_wildcard_is_derived_from_the_registry():
    common = (ROOT / "workflow" / "rules" / "common.smk").read_text()
    assert "DATASET_PATTERN = dataset_wildcard()" in common and "dataset=DATASET_PATTERN" in common
    from hyperman.config.workflow import dataset_wildcard  # the workflow's door hands out the registry's own
    assert dataset_wildcard is datasets.wildcard_pattern
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
