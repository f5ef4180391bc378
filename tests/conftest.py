"""Shared fixtures: the real datasets, prepared once per machine into data/ (idempotent)."""

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
    """Real MNIST and Fashion-MNIST, verified against the official sha256 (a second run is a no-op)."""
    quiet = lambda message: None  # noqa: E731
    prepare("mnist", MNIST, log=quiet)
    prepare("fashion-mnist", FASHION, log=quiet)
    return {"mnist": MNIST, "fashion-mnist": FASHION}
