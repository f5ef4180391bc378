"""`hyperman export` (issue 22): every format reloads in a process that cannot import hyperman (plain torch,
safetensors, onnxruntime) and gives hyperman's predictions to 1e-5, on any batch size."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import hyperman
from hyperman.data import load_dataset
from hyperman.cli import main
from user_errors_common import _refused

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT / "data" / "mnist"
NETS, SEED = 4, 3
# torch.export and the ONNX exporter import torch._dynamo and onnxscript (about 10 s each on the busy 2-core machine)
pytestmark = pytest.mark.slow

# Runs in a fresh interpreter in which `import hyperman` fails: what a user without hyperman has.
RELOAD = '''
import json, sys
sys.modules["hyperman"] = None  # any import of hyperman now raises ImportError
import numpy as np, torch, onnxruntime
folder = sys.argv[1]
x = torch.from_numpy(np.load(folder + "/x.npy"))
out = {}
for batch in (x, x[:1]):  # the export's example batch had 2 images: any batch size must work
    probs, mi = torch.export.load(folder + "/ensemble.pt2").module()(batch)
    out.setdefault("pt", []).append((probs.detach().numpy(), mi.detach().numpy()))
    session = onnxruntime.InferenceSession(folder + "/ensemble.onnx")
    probs, mi = session.run(["probs", "mutual_information"], {"images": batch.numpy()})
    out.setdefault("onnx", []).append((probs, mi))
    import os; os.chdir(folder)
    exec(SAFETENSORS)  # the README's code: defines `meta` and `nets`
    member = torch.stack([net(batch).softmax(-1) for net in nets]).detach().double()
    out.setdefault("safetensors", []).append((member.mean(0).numpy(), member.numpy()))
for name, results in out.items():
    for i, (a, b) in enumerate(results):
        np.save(f"{folder}/{name}{i}_a.npy", a)
        np.save(f"{folder}/{name}{i}_b.npy", b)
print(json.dumps({"meta_nets": meta["num_nets"], "target": meta["target"]}))
'''


def readme_safetensors_block() -> str:
    section = (ROOT / "README.md").read_text().split("## Using the ensemble", 1)[1]
    return next(block for block in re.findall(r"```python\n(.*?)```", section, re.S) if "safe_open" in block)


@pytest.fixture(scope="module")
def exported(tiny_models, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("export")
    for fmt, name in [("pt", "ensemble.pt2"), ("onnx", "ensemble.onnx"), ("safetensors", "ensemble.safetensors")]:
        assert main(["export", "--checkpoint", str(tiny_models["g"]), "--num-nets", str(NETS),
                                  "--seed", str(SEED), "--format", fmt, "--out", str(folder / name)]) == 0
    x = torch.from_numpy(load_dataset(MNIST, limit_test=64).test_x)
    np.save(folder / "x.npy", x.numpy())
    script = f"SAFETENSORS = {readme_safetensors_block()!r}\n{RELOAD}"
    result = subprocess.run([sys.executable, "-c", script, str(folder)], capture_output=True, text=True, cwd=folder,
                            env={"PATH": "", "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    return {"folder": folder, "x": x, "printed": json.loads(result.stdout.strip().splitlines()[-1])}


@pytest.mark.parametrize("fmt", ["pt", "onnx", "safetensors"])
def test_every_format_reloads_without_hyperman_and_matches_predict(tiny_models, exported, fmt):
    prediction = hyperman.load(tiny_models["g"]).predict(exported["x"], NETS, SEED)
    folder = exported["folder"]
    for i, rows in enumerate((slice(None), slice(0, 1))):
        a, b = np.load(folder / f"{fmt}{i}_a.npy"), np.load(folder / f"{fmt}{i}_b.npy")
        assert np.abs(a - prediction.probs[rows].numpy()).max() < 1e-5
        if fmt == "safetensors":  # the README rebuilds the nets: compare every member
            assert np.abs(b - prediction.member_probs[:, rows].numpy()).max() < 1e-5
        else:
            assert np.abs(b - prediction.mutual_information[rows].numpy()).max() < 1e-5
    assert exported["printed"] == {"meta_nets": NETS, "target": "mnist_cnn"}
    # the nets differ (MI > 0 somewhere), so a wrong net order or seed would show
    assert float(prediction.mutual_information.max()) > 1e-3


def test_export_of_a_deep_ensemble_and_bad_requests(tiny_models, tmp_path, capsys):
    from safetensors import safe_open

    out = tmp_path / "pair.safetensors"
    assert main(["export", "--checkpoint", str(tiny_models["baselines"]), "--format", "safetensors",
                              "--out", str(out)]) == 0
    with safe_open(out, "pt") as handle:
        meta = {k: json.loads(v) for k, v in handle.metadata().items()}
        assert meta["kind"] == "deep-ensemble" and meta["num_nets"] == 2 and meta["input_shape"] == [1, 28, 28]
        b1 = hyperman.load(tiny_models["b1"]).nets()[0].state_dict()
        assert torch.equal(handle.get_tensor("net1.0.weight"), b1["0.weight"])
    _refused(capsys, ["export", "--checkpoint", str(tiny_models["b0"]), "--num-nets", "3", "--out",
                      str(tmp_path / "x.pt2")], "has 1 net")
    _refused(capsys, ["export", "--checkpoint", str(tiny_models["b0"]), "--out", str(tmp_path)], "is a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pair.safetensors"]
