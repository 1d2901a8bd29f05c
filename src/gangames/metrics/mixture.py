"""Metrics for data with a known mixture density: mode coverage (PacGAN's protocol) and likelihoods.

All computations are in float64 on NumPy/SciPy arrays of samples, shape (n, d).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from gangames.errors import MetricError


def nearest_modes(samples: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of each sample's nearest mode centre and the distance to it."""
    distance, index = cKDTree(centres).query(np.asarray(samples, dtype=np.float64))
    return index, distance


def mode_coverage(samples: np.ndarray, centres: np.ndarray, sigma: float, pacgan_samples: int = 2500,
                  quality_sigmas: float = 3.0, min_share: float = 0.01) -> dict[str, float]:
    """Mode statistics of a mixture with known centres.

    Each sample goes to its nearest mode; it is *high quality* if within ``quality_sigmas`` standard
    deviations of it (in Euclidean distance: 3 sigma, as PacGAN's code). PacGAN's Table 1 statistics,
    on exactly the first ``pacgan_samples`` samples (PacGAN draws 2500; a one-sample rule counts more
    modes the more samples it is given, so the count is only defined with its sample size):
      modes          modes with at least one high-quality sample among them
      hq             their fraction of high-quality samples
      reverse_kl     KL(mode histogram of their high-quality samples || uniform), nats: 0 when spread
                     evenly, log K when all sit on one mode; log K (the worst a histogram can score)
                     when none is high quality
    and on all samples (papers.md §4(e)):
      modes_1pct     modes holding at least ``min_share`` of all samples as high-quality samples
    """
    samples = np.asarray(samples, dtype=np.float64).reshape(len(samples), -1)
    if len(samples) < pacgan_samples:
        raise MetricError(f"PacGAN's mode count takes {pacgan_samples} samples (eval.mode_samples), got "
                          f"{len(samples)}: raise eval.samples (or --num) or lower eval.mode_samples")
    k = len(centres)
    index, distance = nearest_modes(samples, centres)
    good = distance <= quality_sigmas * sigma
    first_index, first_good = index[:pacgan_samples], good[:pacgan_samples]
    counts = np.bincount(first_index[first_good], minlength=k)
    total = counts.sum()
    if total:
        share = counts / total
        nonzero = share > 0
        reverse_kl = float(np.sum(share[nonzero] * np.log(share[nonzero] * k)))
    else:
        reverse_kl = math.log(k)
    all_counts = np.bincount(index[good], minlength=k)
    return {
        "modes": int((counts > 0).sum()),
        "modes_1pct": int((all_counts >= min_share * len(samples)).sum()),
        "hq": float(first_good.mean()),
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
