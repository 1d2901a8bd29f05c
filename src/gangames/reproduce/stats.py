"""Small statistics for result tables: mean +- std over seeds, and paired tests."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import wilcoxon


def mean_std(values) -> tuple[float, float]:
    """Mean and population standard deviation (ddof = 0), ignoring NaN."""
    values = np.asarray([v for v in values if v is not None], dtype=np.float64)
    values = values[~np.isnan(values)]
    if not len(values):
        return math.nan, math.nan
    return float(values.mean()), float(values.std(ddof=0))


def fmt(values, digits: int = 3) -> str:
    mean, std = mean_std(values)
    return "n/a" if math.isnan(mean) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def paired_wilcoxon(treated, control, alternative: str = "greater") -> float:
    """One-sided Wilcoxon signed-rank p-value that ``treated`` exceeds ``control`` (paired by seed).

    NaN when fewer than 2 pairs or when every difference is zero.
    """
    pairs = [(a, b) for a, b in zip(treated, control) if a is not None and b is not None
             and not (math.isnan(a) or math.isnan(b))]
    if len(pairs) < 2:
        return math.nan
    diff = np.array([a - b for a, b in pairs])
    if np.all(diff == 0):
        return math.nan
    return float(wilcoxon(diff, alternative=alternative).pvalue)
