"""`hyperman prepare` on the real datasets: counts, labels, hashes, atomicity, torchvision layout."""

import ast
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torchvision

from hyperman import cli
from hyperman.data import (OFFICIAL_SHA256, DataError, HashMismatch, load_dataset, prepare, read_idx, sha256_file,
                           validation_indices)

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT / "data" / "mnist"

MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.parametrize("dataset, folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_prepared_data_is_the_official_data(real_data, dataset, folder):
    root = real_data[dataset]
    raw = root / folder / "raw"
    for name, digest in OFFICIAL_SHA256[dataset].items():
        assert sha256_file(raw / name) == digest
    train_x, test_x = read_idx(raw / "train-images-idx3-ubyte"), read_idx(raw / "t10k-images-idx3-ubyte")
    assert train_x.shape == (60000, 28, 28) and test_x.shape == (10000, 28, 28) and train_x.dtype == np.uint8
    train_counts = np.bincount(read_idx(raw / "train-labels-idx1-ubyte"), minlength=10)
    test_counts = np.bincount(read_idx(raw / "t10k-labels-idx1-ubyte"), minlength=10)
    if dataset == "mnist":
        assert test_counts.tolist() == MNIST_TEST_COUNTS
        assert train_counts.sum() == 60000
    else:
        assert train_counts.tolist() == [6000] * 10 and test_counts.tolist() == [1000] * 10
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["sha256"] == OFFICIAL_SHA256[dataset]
    assert manifest["sizes"] == {"train": 55000, "validation": 5000, "test": 10000}
    assert len(set(manifest["validation"]["indices"])) == 5000


def test_torchvision_reads_the_layout(real_data):
    mnist = torchvision.datasets.MNIST(str(real_data["mnist"]), train=False, download=False)
    fashion = torchvision.datasets.FashionMNIST(str(real_data["fashion-mnist"]), train=True, download=False)
    assert len(mnist) == 10000 and len(fashion) == 60000
    assert int(mnist.targets[0]) == int(read_idx(real_data["mnist"] / "MNIST/raw/t10k-labels-idx1-ubyte")[0])


def test_split_is_recomputed_from_its_seed_and_partitions_the_training_set(real_data):
    """The validation indices are the first 5,000 of numpy's seed-0 permutation of 60,000 (recomputed here, not
    re-read), and load_dataset's training and validation images are disjoint and together are the training set."""
    root = real_data["mnist"]
    expected = np.sort(np.random.default_rng(0).permutation(60000)[:5000])
    assert expected[:5].tolist() == [9, 24, 49, 60, 65] and int(expected.sum()) == 149360895  # pinned: no silent change
    assert validation_indices(60000, 5000, 0) == expected.tolist()
    assert json.loads((root / "manifest.json").read_text())["validation"]["indices"] == expected.tolist()
    data = load_dataset(root)
    raw_x = read_idx(root / "MNIST" / "raw" / "train-images-idx3-ubyte")
    raw_y = read_idx(root / "MNIST" / "raw" / "train-labels-idx1-ubyte").astype(np.int64)
    is_val = np.zeros(60000, dtype=bool)
    is_val[expected] = True
    assert np.array_equal(data.val_y, raw_y[is_val]) and np.array_equal(data.train_y, raw_y[~is_val])
    assert np.array_equal(data.val_x[:, 0], raw_x[is_val] / np.float32(255))
    assert np.array_equal(data.train_x[:, 0], raw_x[~is_val] / np.float32(255))
    assert data.train_x.dtype == np.float32 and data.train_x.shape[1:] == (1, 28, 28)
    # disjoint as images too (MNIST's training set holds no exact duplicate image, so none may be shared)
    train_images = {image.tobytes() for image in data.train_x}
    assert not any(image.tobytes() in train_images for image in data.val_x)


def test_second_run_is_a_no_op(real_data, tmp_path):
    out = tmp_path / "mnist"
    shutil.copytree(real_data["mnist"], out)
    before = (out / "manifest.json").stat().st_mtime_ns
    prepare("mnist", out, log=lambda m: None)
    assert (out / "manifest.json").stat().st_mtime_ns == before


def test_a_corrupted_file_is_rejected_and_nothing_is_written(real_data, tmp_path, capsys):
    source = tmp_path / "source"
    shutil.copytree(real_data["mnist"] / "MNIST" / "raw", source)
    path = source / "t10k-labels-idx1-ubyte"
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    out = tmp_path / "out"
    with pytest.raises(DataError) as error:
        prepare("mnist", out, source_dir=source, log=lambda m: None)
    message = str(error.value)
    assert "t10k-labels-idx1-ubyte" in message and OFFICIAL_SHA256["mnist"]["t10k-labels-idx1-ubyte"] in message
    assert f"folder {source}" in message  # names the sources it tried
    assert not out.exists() and not list(tmp_path.glob(".out*"))
    # the CLI: non-zero exit, the hash message, still nothing written
    assert cli.main(["prepare", "--dataset", "mnist", "--from", str(source), "--out", str(out)]) == 2
    assert "sha256 mismatch" in capsys.readouterr().err and not out.exists()


def test_from_folder_accepts_gzipped_files(real_data, tmp_path):
    import gzip

    source = tmp_path / "gz"
    source.mkdir()
    for name in OFFICIAL_SHA256["fashion-mnist"]:
        raw = (real_data["fashion-mnist"] / "FashionMNIST" / "raw" / name).read_bytes()
        (source / f"{name}.gz").write_bytes(gzip.compress(raw, compresslevel=1))
    manifest = prepare("fashion-mnist", tmp_path / "out", source_dir=source, log=lambda m: None)
    assert manifest["source"] == f"folder {source}"


def _write_cifar(folder, n_per_batch=20, seed=0):
    """Tiny synthetic CIFAR-10 in the official python format (pickled dicts, bytes keys)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
                 b"labels": rng.integers(0, 10, n_per_batch).tolist(), b"batch_label": name.encode()}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"airplane"] * 10}))


def test_cifar10_from_a_folder_in_the_official_format(tmp_path):
    _write_cifar(tmp_path / "src" / "cifar-10-batches-py")
    manifest = prepare("cifar10", tmp_path / "out", source_dir=tmp_path / "src", val_size=10, log=lambda m: None)
    assert manifest["sizes"] == {"train": 90, "validation": 10, "test": 20}
    data = load_dataset(tmp_path / "out")
    assert data.train_x.shape == (90, 3, 32, 32) and data.test_x.shape == (20, 3, 32, 32)


def test_cifar10_without_a_source_says_how_to_get_it(tmp_path, capsys):
    assert cli.main(["prepare", "--dataset", "cifar10", "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "--from" in err and "--download" in err and not (tmp_path / "c").exists()


def test_cifar10_pickle_that_runs_code_is_refused(tmp_path):
    folder = tmp_path / "src"
    _write_cifar(folder)
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": shutil.rmtree}))
    with pytest.raises(Exception, match="refusing to load"):
        prepare("cifar10", tmp_path / "out", source_dir=folder, val_size=10, log=lambda m: None)
    assert not (tmp_path / "out").exists()


def _corrupt_copy(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the prepared MNIST with one byte of the training images flipped."""
    copy = tmp_path / "mnist"
    shutil.copytree(MNIST, copy)
    victim = copy / "MNIST" / "raw" / "train-images-idx3-ubyte"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    return copy, victim


def test_a_flipped_byte_in_prepared_data_is_refused_on_load(tmp_path):
    copy, victim = _corrupt_copy(tmp_path)
    with pytest.raises(HashMismatch) as error:
        load_dataset(copy)
    message = str(error.value)
    assert str(victim) in message and "hyperman prepare" in message and "dvc checkout" in message
    load_dataset(MNIST)  # the intact original still loads


@pytest.mark.parametrize("stage", [["train", "--steps", "2"], ["train-baseline", "--epochs", "1"]])
def test_stages_that_load_data_refuse_a_corrupt_file(tmp_path, capsys, stage):
    copy, victim = _corrupt_copy(tmp_path)
    out = tmp_path / "out"
    code = cli.main([*stage, "--data", str(copy), "--out", str(out), "--device", "cpu"])
    assert code == 2
    assert "is corrupt" in capsys.readouterr().err
    assert not (out / "hypernet.pt").exists() and not (out / "baseline.pt").exists()


def test_only_load_dataset_reads_prepared_files():
    """Every stage reads data through load_dataset (which verifies), never the raw files themselves. The one
    exception is hyperman/user_images.py: `hyperman predict --inputs` reads the user's own IDX file, which is no
    prepared dataset and has no manifest to verify against. (hyperman/idx.py is the format, which data.py calls.)"""
    readers = []
    for path in (ROOT / "hyperman").rglob("*.py"):
        if path.name in ("data.py", "user_images.py", "idx.py"):  # idx.py: the IDX format itself
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                    "read_idx", "load_cifar_batch", "read_idx_bytes"):
                readers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not readers, f"raw data read outside hyperman/data.py: {readers}"
