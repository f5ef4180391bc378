"""The one batched forward of many nets over many images: logits, probabilities, scores.

Every stage that asks "what do these P nets predict on these N images" (the
evaluation, training's validation, the baseline's accuracy, distillation's
teacher and its test figures) goes through `Forward`, so chunking, device
placement, the memory budget and mixed precision are decided in one place.

Forward methods: `grouped` (target.forward, all nets of a chunk in one
grouped convolution: the choice on a GPU), `loop` (target.forward, one
functional call per net) and `channels_last` (the same loop with NHWC
tensors, which oneDNN runs much faster: for mnist_cnn, 16 nets × 1,000 images
on one CPU thread, 7.7k image·nets/s against 2.3k for `loop` and 1.6k for
`grouped`). `auto` picks grouped on CUDA and channels_last on the CPU.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from . import metrics
from .device import autocast, synchronize, to_device
from .targets import Target, resolve_forward


def _activation_elements(target: Target) -> int:
    """Largest activation of one net on one image (the first convolution's output, before pooling)."""
    _, h, w = target.input_shape
    largest = 0
    for layer in target.layers:
        if layer.kind == "conv":
            largest = max(largest, layer.units * h * w)
            h, w = h // layer.pool, w // layer.pool
        else:
            largest = max(largest, layer.units)
    return largest


class Forward:
    """Logits/probabilities of many nets on many images, chunked to a memory budget.

    `precision` is the autocast setting of the target's forward (device.autocast):
    training validates in the precision it trains in; everything else uses fp32."""

    def __init__(self, target: Target, method: str = "auto", device: torch.device | str = "cpu",
                 memory_mb: int | None = None, precision: str = "fp32"):
        self.target, self.device, self.precision = target, torch.device(device), precision
        self.method = resolve_forward(method, self.device)
        memory_mb = memory_mb or (8192 if self.device.type == "cuda" else 512)
        # ~3 live copies of the largest activation (conv output, pooled, ReLU / gradient buffers)
        budget = memory_mb * 2**20 // 4 // 3
        per_pair = _activation_elements(target)
        self.images = max(1, min(256, budget // per_pair))  # 256 images per call was the fastest on the CPU
        if self.method == "grouped":
            self.nets = max(1, budget // (self.images * per_pair))
        else:  # one net at a time inside target.forward
            self.nets = 64

    def chunks(self, nets: int, images: int) -> Iterator[tuple[slice, slice]]:
        """(net slice, image slice) of every chunk, nets outer, in the order every caller sums them."""
        for p in range(0, nets, self.nets):
            for i in range(0, images, self.images):
                yield slice(p, p + self.nets), slice(i, i + self.images)

    def logits(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """One chunk, no splitting: θ (P, D), shared images x (N, C, H, W) → (P, N, classes)."""
        with autocast(self.precision, self.device):
            return self.target.forward(theta, x, self.method)

    @torch.no_grad()
    def probs(self, theta: torch.Tensor, x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """Softmax probabilities (P, N, classes) as float32 on the CPU, computed chunk by chunk."""
        P, N = theta.shape[0], x.shape[0]
        if out is None:  # pinned on CUDA: the device → host copies below run asynchronously
            out = torch.empty(P, N, self.target.num_classes, dtype=torch.float32,
                              pin_memory=self.device.type == "cuda")
        theta, x = to_device(theta, self.device), to_device(x, self.device)  # once, not per chunk
        for nets, images in self.chunks(P, N):
            chunk = self.logits(theta[nets], x[images])
            out[nets, images].copy_(chunk.float().softmax(-1), non_blocking=True)
        synchronize(self.device)  # the last asynchronous copies must land before anyone reads `out`
        return out

    @torch.no_grad()
    def mean_probs(self, theta: torch.Tensor, x: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        """Mean over the P nets of softmax(logits / T): (N, classes) float32 on the device.

        The ensemble's predictive distribution without keeping P copies of it
        (distillation's teacher over the whole training set)."""
        P, N = theta.shape[0], x.shape[0]
        theta, x = to_device(theta, self.device), to_device(x, self.device)
        total = torch.zeros(N, self.target.num_classes, dtype=torch.float32, device=self.device)
        for nets, images in self.chunks(P, N):
            total[images] += (self.logits(theta[nets], x[images]).float() / temperature).softmax(-1).sum(0)
        return total / P

    def scores(self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Accuracy and NLL (P,) of each net without keeping its probabilities."""
        acc, nll = torch.zeros(theta.shape[0], dtype=torch.float64), torch.zeros(theta.shape[0], dtype=torch.float64)
        y = y.cpu()
        for p in range(0, theta.shape[0], self.nets):
            probs = self.probs(theta[p:p + self.nets], x)
            acc[p:p + self.nets] = metrics.accuracy(probs, y)
            nll[p:p + self.nets] = metrics.nll(probs, y)
        return acc, nll
