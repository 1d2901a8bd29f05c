"""Wasserstein distances between sample sets: exact (POT's network simplex) and sliced (sorting, torch)."""

from __future__ import annotations

import math

import numpy as np
import ot
import torch

EXACT_MAX = 4000  # exact transport costs O(n^2) memory and about n^2.5 time: 2k x 2k takes ~1 s


def exact_wasserstein(x: np.ndarray, y: np.ndarray, p: int = 2) -> float:
    """W_p between the empirical measures of x (n, d) and y (m, d), uniform weights, exact (p = 1 or 2)."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    if max(len(x), len(y)) > EXACT_MAX:
        raise ValueError(f"exact Wasserstein is limited to {EXACT_MAX} points per side; use sliced_wasserstein")
    cost = ot.dist(x, y, metric="euclidean" if p == 1 else "sqeuclidean")
    value = ot.emd2(np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y)), cost, numItermax=10_000_000)
    return float(value) if p == 1 else math.sqrt(max(float(value), 0.0))


def sliced_wasserstein(x, y, projections: int = 256, seed: int = 0) -> float:
    """Sliced W2: sqrt of the mean over random unit directions of the 1-D W2^2 of the projections.

    In 1-D every direction is +-1, so this is the exact W2. Sample counts must match (the 1-D
    transport is then a sort); torch tensors or arrays of shape (n, d).
    """
    x = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x, dtype=torch.float64).reshape(len(x), -1)
    y = torch.as_tensor(np.asarray(y) if not torch.is_tensor(y) else y, dtype=torch.float64).reshape(len(y), -1)
    if len(x) != len(y):
        raise ValueError(f"sliced Wasserstein needs equal sample counts, got {len(x)} and {len(y)}")
    dim = x.shape[1]
    if dim == 1:
        directions = torch.ones(1, 1, dtype=torch.float64)
    else:
        generator = torch.Generator().manual_seed(seed)
        directions = torch.randn(dim, projections, generator=generator, dtype=torch.float64)
        directions = directions / directions.norm(dim=0, keepdim=True)
    px = torch.sort(x @ directions, dim=0).values
    py = torch.sort(y @ directions, dim=0).values
    return float((px - py).pow(2).mean().sqrt())
