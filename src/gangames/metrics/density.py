"""Kernel density estimates with isotropic Gaussian kernels, in float64 and in chunks."""

from __future__ import annotations

import math

import numpy as np
import torch


def kde_log_density(points, sample, bandwidth: float, chunk: int = 2048) -> np.ndarray:
    """log (1/m) sum_j N(points_i; sample_j, bandwidth^2 I) for every point (n values)."""
    if bandwidth <= 0:
        raise ValueError(f"the KDE bandwidth must be > 0, got {bandwidth}")
    points = torch.as_tensor(np.asarray(points), dtype=torch.float64).reshape(len(points), -1)
    sample = torch.as_tensor(np.asarray(sample), dtype=torch.float64).reshape(len(sample), -1)
    dim = points.shape[1]
    log_norm = -0.5 * dim * math.log(2 * math.pi * bandwidth**2) - math.log(len(sample))
    out = []
    for block in points.split(chunk):
        sq = torch.cdist(block, sample).pow(2)
        out.append(torch.logsumexp(-sq / (2 * bandwidth**2), dim=1) + log_norm)
    return torch.cat(out).numpy()
