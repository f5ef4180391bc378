"""hyperman.device: the device and precision choices, and their refusals."""

from __future__ import annotations

import pytest
import torch

from hyperman import device
from hyperman.errors import ConfigError, HypermanError


def test_auto_takes_cuda_only_when_there_is_one():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert device.resolve_device("auto").type == expected and device.resolve_device("cpu").type == "cpu"
    with pytest.raises(ConfigError, match="unknown device 'tpu'"):
        device.resolve_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="refusing --device cuda needs a machine without CUDA")
def test_cuda_without_a_gpu_is_one_clear_error():
    with pytest.raises(HypermanError, match="no CUDA device is visible"):
        device.resolve_device("cuda")


def test_the_cpu_runs_fp32_and_bad_precisions_are_refused():
    cpu = torch.device("cpu")
    assert device.autocast_dtype("auto", cpu) is None and device.autocast_dtype("fp32", cpu) is None
    assert device.autocast_dtype("bf16", cpu) is torch.bfloat16
    with pytest.raises(ConfigError, match="unknown precision 'fp16'"):
        device.autocast_dtype("fp16", cpu)
    x = torch.ones(3)
    assert device.to_device(x, cpu) is x  # already there: no copy
