"""Shared fixtures: the real datasets, prepared once per machine into data/ (idempotent)."""

import contextlib
import fcntl
import os
import shutil
from pathlib import Path

import pytest

from hyperman.data import prepare

ROOT = Path(__file__).resolve().parents[1]
MNIST, FASHION = ROOT / "data" / "mnist", ROOT / "data" / "fashion-mnist"
# The paper's optimisation settings (configs/paper.yaml), which the end-to-end fixtures of evaluate, distill and
# report were written against; TrainConfig's defaults are the CPU default study's.
PAPER = dict(lam=1000.0, norm="batch", lr=3e-4, lr_decay=0.99998, augment_shift=0, diversity="weights")


@pytest.fixture(scope="session", autouse=True)
def real_data() -> dict[str, Path]:
    """Real MNIST and Fashion-MNIST, verified against the official sha256 (a second run is a no-op). Under
    pytest-xdist (make test) every worker asks for them: a file lock lets the first prepare them on a fresh
    clone while the others wait, then find them prepared."""
    quiet = lambda message: None  # noqa: E731
    MNIST.parent.mkdir(parents=True, exist_ok=True)
    with open(MNIST.parent / ".prepare.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        prepare("mnist", MNIST, log=quiet)
        prepare("fashion-mnist", FASHION, log=quiet)
    return {"mnist": MNIST, "fashion-mnist": FASHION}


@contextlib.contextmanager
def _built_once(tmp_path_factory, name: str):
    """(folder, whether to build it): a session fixture's folder that the first pytest-xdist worker to ask
    builds while the others wait on a file lock, then reuse (each worker would otherwise train its own copy of
    the same tiny models). Outside xdist it is the session's own temporary folder. A build that failed half-way
    is started again by the next worker to ask."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / f"shared-{name}"
    with open(f"{root}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (root / ".built").exists():
            yield root, False
            return
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir()
        yield root, True
        (root / ".built").touch()


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> dict[str, Path]:
    """A finished G (3 steps) with samples, a finished baseline (1 epoch) and their partial twins: trained once
    for tests/test_user_errors.py and tests/test_outputs_and_partial.py."""
    from hyperman.cli import main
    from user_errors_common import BASE, TRAIN, _partial_copy

    root = tmp_path_factory.mktemp("runs")
    assert main([*TRAIN, "--out", str(root / "g")]) == 0
    assert main(["sample", "--checkpoint", str(root / "g" / "hypernet.pt"), "--out", str(root / "samples.pt"),
                 "--num-nets", "4", "--device", "cpu"]) == 0
    assert main(["train-baseline", *BASE, "--out", str(root / "b0")]) == 0
    (root / "gp").mkdir()
    _partial_copy(root / "g" / "hypernet.pt", root / "gp" / "hypernet.pt", step=1)
    (root / "bp").mkdir()
    _partial_copy(root / "b0" / "baseline.pt", root / "bp" / "baseline.pt")
    shutil.copy(root / "b0" / "epochs.pt", root / "bp" / "epochs.pt")
    return {"root": root, "g": root / "g" / "hypernet.pt", "gp": root / "gp" / "hypernet.pt",
            "samples": root / "samples.pt", "b0": root / "b0" / "baseline.pt", "bp": root / "bp" / "baseline.pt"}


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> dict:
    """A tiny G (20 steps, 12 sampled nets) and two constant baselines whose every figure has a known answer:
    shared by tests/test_evaluate.py and tests/test_evaluate_models.py."""
    from evaluate_common import CONSTANT_LOGITS, _constant_net
    from hyperman import checkpoint, cli
    from hyperman.targets import get_target
    from hyperman.config import TrainConfig
    from hyperman.training import train

    with _built_once(tmp_path_factory, "run") as (root, build):
        baselines, samples = [root / f"baseline{k}.pt" for k in range(2)], root / "samples.pt"
        if build:
            config = TrainConfig(steps=20, nets_per_step=4, images_per_net=8, eval_every=10, eval_nets=4,
                                 limit_train=500, latent_dim=8, **PAPER)
            train(config, MNIST, root / "train", "cpu", log=lambda message: None)
            target = get_target("mnist_cnn")
            for k, path in enumerate(baselines):  # constant predictors: every baseline figure has a known answer
                checkpoint.save(path, {"kind": "target", "target": "mnist_cnn", "train_seconds": 1.0 + k,
                                       "theta": _constant_net(target, CONSTANT_LOGITS[k]), "config": {}})
            assert cli.main(["sample", "--checkpoint", str(root / "train" / "hypernet.pt"), "--num-nets", "12",
                             "--seed", "3", "--chunk", "5", "--out", str(samples), "--device", "cpu"]) == 0
    return {"root": root, "checkpoint": root / "train" / "hypernet.pt", "samples": samples, "baselines": baselines}


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """A tiny G that beats chance on MNIST, two baselines, a snapshot run and a partial G: the models that
    tests/test_api.py, test_predict.py and test_export.py load through hyperman.load."""
    from hyperman.cli import main
    from hyperman.config import TrainConfig
    from hyperman.training import train
    from user_errors_common import _partial_copy

    with _built_once(tmp_path_factory, "models") as (root, build):
        if build:
            config = TrainConfig(steps=60, nets_per_step=2, images_per_net=64, lr=1e-3, eval_every=60,
                                 eval_nets=2, checkpoint_every=60, limit_train=2000, latent_dim=8, augment_shift=0,
                                 diversity="weights")
            train(config, MNIST, root / "g", "cpu", log=lambda message: None)
            base = ["--data", str(MNIST), "--limit-train", "2000", "--batch-size", "100", "--device", "cpu"]
            for seed in (0, 1):
                assert main(["train-baseline", *base, "--epochs", "1", "--seed", str(seed),
                             "--out", str(root / "baselines" / f"seed{seed}")]) == 0
            assert main(["train-snapshot", *base, "--epochs", "2", "--snapshot-cycles", "2",
                         "--out", str(root / "baselines" / "snapshot")]) == 0
            (root / "gp").mkdir()
            _partial_copy(root / "g" / "hypernet.pt", root / "gp" / "hypernet.pt", step=1)
    return {"root": root, "g": root / "g" / "hypernet.pt", "gp": root / "gp" / "hypernet.pt",
            "baselines": root / "baselines", "b0": root / "baselines" / "seed0" / "baseline.pt",
            "b1": root / "baselines" / "seed1" / "baseline.pt", "snapshot": root / "baselines" / "snapshot"}


# The longest test files first (their times: tests/README.md): under make test's `--dist loadfile` each worker
# then starts on one of them, instead of one worker finishing the suite alone on a long file that sorts last
# (test_workflow_runs.py). The rest keeps its order; every worker sorts alike, as xdist requires.
LONGEST_FIRST = ("test_workflow_runs.py", "test_workflow.py", "test_faults.py",
                 "test_diversity.py", "test_report.py", "test_scripts.py", "test_distributed.py")


def pytest_collection_modifyitems(session, config, items) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
