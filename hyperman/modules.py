"""Plain `torch.nn.Module`s of a target and of an ensemble: what user code and the exports hold.

Why a second description of the target: everything inside hyperman runs the
nets functionally from one flat θ (hyperman.targets), which needs hyperman's
code. A user, an ONNX runtime or a TorchScript-free `torch.export` program
wants ordinary layers. `target_net` builds them from the Target's own `Layer`s
(SAME-padded Conv2d, max-pool, ReLU, Linear) and copies θ into them, so the
module computes exactly `Target.forward` (tests/test_api.py checks both to
1e-5). Their state-dict names (`0.weight`, `3.bias`, ...) are those of an
`nn.Sequential`; `layer_spec` is the JSON that lets code without hyperman
rebuild the same Sequential (the safetensors export stores it).
"""

from __future__ import annotations

import torch
from torch import nn

from .targets import Layer, Target

# the smallest normal float32: log() of a probability clamped to it is finite, and p·log p is then 0 at p = 0
TINY = 1.1754943508222875e-38


def layer_spec(target: Target) -> list[dict]:
    """The target's layers as plain values (kind, in/out units, kernel, pool, relu), enough to rebuild the
    Sequential of `target_net` without hyperman."""
    last = len(target.layers) - 1
    return [{"kind": layer.kind, "in": layer.in_units, "out": layer.units, "kernel": layer.kernel,
             "pool": layer.pool, "relu": i < last} for i, layer in enumerate(target.layers)]


def _layers(spec: list[dict]) -> list[nn.Module]:
    """nn layers in the order Target.forward applies them: conv/linear, max-pool, ReLU (flatten before the
    first linear layer of a conv net)."""
    out: list[nn.Module] = []
    flat = False
    for item in spec:
        if item["kind"] == "conv":
            out.append(nn.Conv2d(item["in"], item["out"], item["kernel"], padding=item["kernel"] // 2))
        else:
            if not flat:
                out.append(nn.Flatten())
                flat = True
            out.append(nn.Linear(item["in"], item["out"]))
        if item["relu"] and item["pool"] > 1:
            out.append(nn.MaxPool2d(item["pool"]))
        if item["relu"]:
            out.append(nn.ReLU())
    return out


def target_net(target: Target, theta: torch.Tensor) -> nn.Sequential:
    """One net θ (D,) of `target` as an nn.Sequential in eval mode, its weights copied from θ.

    θ is unit-major (hyperman.targets): each layer is a (units, fan_in + 1)
    matrix whose last column is the bias, and a convolution's fan-in is
    (in_units, kernel, kernel) in Conv2d's own order."""
    if theta.shape != (target.num_params,):
        raise ValueError(f"θ of {target.name} has shape ({target.num_params},), got {tuple(theta.shape)}")
    net = nn.Sequential(*_layers(layer_spec(target)))
    weighted = [m for m in net if isinstance(m, (nn.Conv2d, nn.Linear))]
    rows = target.rows(theta.detach().float().cpu()[None])
    with torch.no_grad():
        for module, layer, row in zip(weighted, target.layers, rows):
            row = row[0]
            module.weight.copy_(_weight(layer, row[:, :-1]))
            module.bias.copy_(row[:, -1])
    return net.eval()


def _weight(layer: Layer, weight: torch.Tensor) -> torch.Tensor:
    if layer.kind == "conv":
        return weight.reshape(layer.units, layer.in_units, layer.kernel, layer.kernel)
    return weight


class Ensemble(nn.Module):
    """The mean-probability ensemble of M nets: images (N, C, H, W) → (mean probabilities (N, classes),
    mutual information (N,) in nats).

    MI = H(mean_m p_m) − mean_m H(p_m) (hyperman.metrics.mutual_information), in
    float32 with log clamped at the smallest normal float so that 0·log 0 = 0
    without xlogy (which ONNX lacks). Plain tensor ops only: torch.export and
    torch.onnx.export take it as it is."""

    def __init__(self, nets: list[nn.Module]):
        super().__init__()
        if not nets:
            raise ValueError("an ensemble needs at least one net")
        self.nets = nn.ModuleList(nets)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        probs = torch.stack([net(x).softmax(-1) for net in self.nets])
        mean = probs.mean(0)
        total = -(mean * mean.clamp_min(TINY).log()).sum(-1)
        aleatoric = -(probs * probs.clamp_min(TINY).log()).sum(-1).mean(0)
        return mean, total - aleatoric
