"""hyperman.hypernet_io: what a stage that only loads a hypernetwork needs, without the training loop."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hyperman.config import TrainConfig
from hyperman.hypernet_io import build_model, upgrade

ROOT = Path(__file__).resolve().parents[1]


def test_loading_a_checkpoint_does_not_import_the_training_loop():
    """sample, evaluate, distill, predict and export load G through hyperman.hypernet_io: a change to the
    loop, the objective or the run state must not touch them (nor re-run their DVC stages)."""
    code = ("import json, sys, hyperman.hypernet_io, hyperman.sampling, hyperman.api; "
            "print(json.dumps(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    loaded = set(json.loads(result.stdout))
    assert "hyperman.hypernet_io" in loaded
    assert not loaded & {"hyperman.training", "hyperman.objective", "hyperman.run_state",
                         "hyperman.train_validation", "hyperman.distributed"}


def test_an_old_stored_config_is_upgraded():
    old = {"batch_norm": True, "diversity": False, "latent_dim": 4}
    assert upgrade(old) == {"norm": "batch", "diversity": "none", "latent_dim": 4}
    assert "batch_norm" in old  # the stored dict is left as it was
    assert upgrade({"diversity": True})["diversity"] == "weights"


def test_build_model_follows_the_config():
    model = build_model(TrainConfig(latent_dim=5, norm="none"))
    assert model.latent_dim == 5 and model.target.name == "mnist_cnn"
