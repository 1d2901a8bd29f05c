"""Metrics for data with a known mixture density: mode coverage (as PacGAN codes it) and likelihoods.

All computations are in float64 on NumPy/SciPy arrays of samples, shape (n, d).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


def nearest_modes(samples: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of each sample's nearest mode centre and the distance to it."""
    distance, index = cKDTree(centres).query(np.asarray(samples, dtype=np.float64))
    return index, distance


def mode_coverage(samples: np.ndarray, centres: np.ndarray, sigma: float, quality_sigmas: float = 3.0,
                  min_share: float = 0.01) -> dict[str, float]:
    """PacGAN's mode statistics.

    Each sample goes to its nearest mode; it is *high quality* if within ``quality_sigmas`` standard
    deviations of it (in Euclidean distance: 3 sigma, as PacGAN's code).
      modes          modes with at least one high-quality sample
      modes_1pct     modes holding at least ``min_share`` of all samples as high-quality samples
      hq             fraction of high-quality samples
      reverse_kl     KL(model mode histogram || uniform) over the high-quality samples (nats;
                     log K when all sit on one mode, 0 when spread evenly; NaN without any)
    """
    samples = np.asarray(samples, dtype=np.float64).reshape(len(samples), -1)
    k = len(centres)
    index, distance = nearest_modes(samples, centres)
    good = distance <= quality_sigmas * sigma
    counts = np.bincount(index[good], minlength=k)
    total = counts.sum()
    if total:
        share = counts / total
        nonzero = share > 0
        reverse_kl = float(np.sum(share[nonzero] * np.log(share[nonzero] * k)))
    else:
        reverse_kl = float("nan")
    return {
        "modes": int((counts > 0).sum()),
        "modes_1pct": int((counts >= min_share * len(samples)).sum()),
        "hq": float(good.mean()),
        "reverse_kl": reverse_kl,
    }


def mode_histogram(samples: np.ndarray, centres: np.ndarray, sigma: float, quality_sigmas: float = 3.0) -> np.ndarray:
    """Number of high-quality samples at each mode; the last entry counts the low-quality ones."""
    index, distance = nearest_modes(samples, centres)
    good = distance <= quality_sigmas * sigma
    return np.append(np.bincount(index[good], minlength=len(centres)), int((~good).sum()))



def sample_log_likelihood(samples: np.ndarray, log_density) -> float:
    """Mean log p_data(G(z)) over the samples (the Bid Picture statistic; rewards precision only:
    a generator collapsed on one mode scores as well as one covering all of them)."""
    return float(np.mean(log_density(samples)))
