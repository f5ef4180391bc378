"""Shared fixtures: the real datasets, prepared once per machine into data/ (idempotent)."""

from pathlib import Path

import pytest

from hyperman.data import prepare

ROOT = Path(__file__).resolve().parents[1]
MNIST, FASHION = ROOT / "data" / "mnist", ROOT / "data" / "fashion-mnist"


@pytest.fixture(scope="session", autouse=True)
def real_data() -> dict[str, Path]:
    """Real MNIST and Fashion-MNIST, verified against the official sha256 (a second run is a no-op)."""
    quiet = lambda message: None  # noqa: E731
    prepare("mnist", MNIST, log=quiet)
    prepare("fashion-mnist", FASHION, log=quiet)
    return {"mnist": MNIST, "fashion-mnist": FASHION}
