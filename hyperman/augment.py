"""Random translations of training images (data augmentation).

Why: the nets a hypernetwork generates fit their mini-batches (train CE
≈ 0.03) but generalise worse than a conventionally trained net, and MNIST
digits are not centred to the pixel. Shifting each image by up to a few
pixels (zero padding, the background value of images in [0, 1]) is the
standard cure for small CNNs. The offsets come from the caller's seeded
generator, so a run stays deterministic and resumable.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate every image of x (..., C, H, W) by its own offset in [−max_shift, max_shift]² pixels.

    Offsets are drawn on the CPU from `generator` (one draw of 2·N integers
    per call whatever the device) and applied by gathering from a padded copy."""
    if max_shift <= 0:
        return x
    *lead, c, h, w = x.shape
    flat = x.reshape(-1, c, h, w)
    n = flat.shape[0]
    offsets = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator).to(x.device)
    padded = F.pad(flat, (max_shift, max_shift, max_shift, max_shift))
    rows = (offsets[0][:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # (n, 1, h, 1)
    cols = (offsets[1][:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # (n, 1, 1, w)
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    channel = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, channel, rows, cols].reshape(*lead, c, h, w)
