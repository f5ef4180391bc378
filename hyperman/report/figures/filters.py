"""Filter pictures: one conv1 and one conv2 filter across the sampled nets, regenerated from the samples."""

from __future__ import annotations

import math

import numpy as np
import torch

from ... import metrics, outputs
from ...sampling import regenerate
from ...targets import get_target
from ...hypernet_io import load_hypernetwork
from ..inputs import ReportConfig, ReportError
from .style import COLORS


def gauge_filters(cfg: ReportConfig) -> tuple[np.ndarray, np.ndarray, int, int]:
    """conv1 filter k and conv2 filter k (weights only) of up to cfg.filter_nets gauge-fixed samples."""
    _, config = load_hypernetwork(cfg.checkpoint)
    target = get_target(config.target)
    convs = [layer for layer in target.layers if layer.kind == "conv"]
    if len(convs) < 2:
        raise ReportError(f"target {target.name} has fewer than two conv layers; no filter pictures")
    for k, (name, layer) in enumerate((("conv1", convs[0]), ("conv2", convs[1]))):
        index = (cfg.conv1_filter, cfg.conv2_filter)[k]
        if not 0 <= index < layer.units:
            raise ReportError(f"--{name}-filter {index} is out of range (the layer has {layer.units} filters)")
    first, second = [], []
    taken = 0
    for _, theta in regenerate(cfg.samples, cfg.checkpoint, chunk=250, gauge=True):
        theta = theta[:cfg.filter_nets - taken]
        rows = target.rows(theta)
        first.append(rows[0][:, cfg.conv1_filter, :-1].double())
        second.append(rows[1][:, cfg.conv2_filter, :-1].double())
        taken += theta.shape[0]
        if taken >= cfg.filter_nets:
            break
    return (torch.cat(first).numpy(), torch.cat(second).numpy(), convs[0].kernel, convs[0].in_units)


def fig_filter_pca(plt, inputs: dict, filters):
    f1, f2, _, _ = filters
    acc = 100 * np.array([r["accuracy"] for r in inputs["tables"][outputs.MEMBER_ACCURACY]], dtype=float)
    color = acc[:len(f1)] if len(acc) >= len(f1) else None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    for ax, f, name, index in ((axes[0], f1, "conv1", inputs["cfg"].conv1_filter),
                               (axes[1], f2, "conv2", inputs["cfg"].conv2_filter)):
        proj, share = (t.numpy() for t in metrics.pca(torch.from_numpy(f)))
        style = {"c": color, "cmap": "viridis"} if color is not None else {"color": COLORS["hyper"]}
        sc = ax.scatter(proj[:, 0], proj[:, 1], s=6, alpha=0.7, **style)
        ax.set_xlabel(f"PC1 ({100 * share[0]:.1f} % of variance)")
        ax.set_ylabel(f"PC2 ({100 * share[1]:.1f} % of variance)")
        ax.set_title(f"{name} filter {index} ({f.shape[1]} weights) over {len(f)} sampled nets")
        ax.set_aspect("equal", adjustable="datalim")
        if color is not None:
            fig.colorbar(sc, ax=ax, label="test accuracy of the net (%)")
    fig.suptitle("PCA of one filter across sampled nets (gauge-fixed: each unit's weights and bias have RMS 1)",
                 fontsize=10)
    fig.tight_layout()
    return fig


def fig_filter_montage(plt, inputs: dict, filters):
    f1, _, kernel, in_units = filters
    n = min(25, len(f1))
    cols = int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    images = f1[:n].reshape(n, in_units, kernel, kernel)[:, 0]  # first input channel (the only one for MNIST)
    limit = float(np.abs(images).max()) or 1.0
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols + 1.2, 1.3 * rows + 0.6), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        if k < n:
            im = ax.imshow(images[k], cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
            ax.set_title(f"net {k}", fontsize=7, pad=2)
        else:
            ax.axis("off")
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="weight (gauge-fixed)")
    channel = " (input channel 0)" if in_units > 1 else ""
    fig.suptitle(f"conv1 filter {inputs['cfg'].conv1_filter}{channel}, {kernel}×{kernel}, in {n} sampled nets",
                 fontsize=10, y=0.96)
    return fig

