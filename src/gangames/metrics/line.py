"""How far a generated line is from the data line of Fedus et al.'s experiment."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import wasserstein_distance


def fit_line(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the first principal direction of the samples (their line, for an affine generator)."""
    samples = np.asarray(samples, dtype=np.float64)
    mean = samples.mean(0)
    _, _, vt = np.linalg.svd(samples - mean, full_matrices=False)
    return mean, vt[0]


def line_metrics(samples: np.ndarray, origin: np.ndarray, direction: np.ndarray, reference: np.ndarray,
                 max_angle: float = 1.0, max_offset: float = 0.05) -> dict[str, float]:
    """angle   degrees between the fitted and the true direction (sign-free)
    offset     distance from the samples' mean to the data line
    line_w1    W1 between the samples and the data projected on the data line (spread and position)
    solved     1 if angle < max_angle degrees and offset < max_offset, else 0
    """
    mean, fitted = fit_line(samples)
    cosine = min(1.0, abs(float(fitted @ direction)))
    angle = math.degrees(math.acos(cosine))
    gap = mean - origin
    offset = float(np.linalg.norm(gap - (gap @ direction) * direction))
    along = (np.asarray(samples, dtype=np.float64) - origin) @ direction
    along_ref = (np.asarray(reference, dtype=np.float64) - origin) @ direction
    w1 = float(wasserstein_distance(along, along_ref))  # exact in 1-D (sorting)
    return {"angle": angle, "offset": offset, "line_w1": w1,
            "solved": float(angle < max_angle and offset < max_offset)}
