"""Shared by tests/test_evaluate.py and tests/test_evaluate_models.py: constant baselines with known answers and
the tiny evaluate command line."""

from __future__ import annotations

import torch

from conftest import FASHION, MNIST

# the baselines' output biases: all other weights are 0, so they predict class 1 and class 7 on every image
CONSTANT_LOGITS = [torch.zeros(10).index_fill(0, torch.tensor([1]), 2.0),
                   torch.zeros(10).index_fill(0, torch.tensor([7]), 3.0)]


def _constant_net(target, logits: torch.Tensor) -> torch.Tensor:
    rows = [torch.zeros(1, layer.units, layer.row) for layer in target.layers]
    rows[-1][0, :, -1] = logits
    return target.from_rows(rows)[0]


def _evaluate_args(trained, out, *extra, ood=True):
    args = ["evaluate", "--checkpoint", str(trained["checkpoint"]), "--samples", str(trained["samples"]),
            "--baselines", *map(str, trained["baselines"]), "--data", str(MNIST), "--out", str(out),
            "--limit-test", "120", "--ensemble-sizes", "1", "2", "5", "1000", "--draws", "3", "--path-pairs", "2",
            "--path-points", "4", "--adversarial-images", "40", "--adversarial-eps", "0.1", "0.3",
            "--symmetry-copies", "6", "--bootstrap-resamples", "50", "--shift-images", "40", "--shift-nets", "3",
            "--alignment-nets", "3", "--control-nets", "2", "--control-images", "40", "--ood-images", "100",
            "--ood-synthetic-images", "60", "--ood-resamples", "100", "--device", "cpu", *extra]
    if ood:
        args += ["--ood-data", str(FASHION)]
    return args

