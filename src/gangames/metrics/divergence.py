"""Divergence traces (Fedus et al.'s question): does training decrease a divergence at every step?

The JS divergence of distributions with disjoint supports is log 2 whatever their distance, so it is
estimated between the distributions smoothed by a Gaussian of bandwidth h,
JS_h = JS(P * N(0, h^2 I), Q * N(0, h^2 I)), by Monte Carlo: half of each sample set builds the
densities, the other half (plus kernel noise) supplies the points. Where the data density is known
(a Gaussian mixture), its smoothed density is exact: the same mixture with variance sigma^2 + h^2.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from gangames.metrics.density import kde_log_density


def js_divergence(model: np.ndarray, real: np.ndarray, bandwidth: float, seed: int = 0,
                  data_log_density: Callable[[np.ndarray, float], np.ndarray] | None = None) -> float:
    """Estimate JS_h between the model and data samples (nats, in [0, log 2]).

    ``data_log_density(x, h)``, when given, is the exact log density of the data smoothed by h.
    """
    rng = np.random.default_rng(seed)
    model = np.asarray(model, dtype=np.float64).reshape(len(model), -1)
    real = np.asarray(real, dtype=np.float64).reshape(len(real), -1)
    half_m, half_r = len(model) // 2, len(real) // 2
    model_kde, model_points = model[:half_m], model[half_m:]
    real_kde, real_points = real[:half_r], real[half_r:]

    def log_p(x):
        return data_log_density(x, bandwidth) if data_log_density else kde_log_density(x, real_kde, bandwidth)

    def log_q(x):
        return kde_log_density(x, model_kde, bandwidth)

    from_p = real_points + bandwidth * rng.standard_normal(real_points.shape)
    from_q = model_points + bandwidth * rng.standard_normal(model_points.shape)
    lp_p, lq_p = log_p(from_p), log_q(from_p)
    lp_q, lq_q = log_p(from_q), log_q(from_q)
    # log(2p / (p + q)) = log 2 - log(1 + q/p), computed stably.
    term_p = math.log(2) - np.logaddexp(0, lq_p - lp_p)
    term_q = math.log(2) - np.logaddexp(0, lp_q - lq_q)
    value = 0.5 * term_p.mean() + 0.5 * term_q.mean()
    return float(min(max(value, 0.0), math.log(2)))


def decrease_fraction(values: Sequence[float], tolerance: float = 1e-4) -> float:
    """Share of consecutive pairs where the value fell by more than ``tolerance`` (NaN if < 2 values)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2:
        return float("nan")
    return float(np.mean(np.diff(values) < -tolerance))


def trace_summary(steps: Sequence[int], values: Sequence[float], tolerance: float = 1e-4) -> dict:
    """What a divergence did over training: how often it fell, and where it started and ended."""
    values = [float(v) for v in values]
    return {
        "points": len(values),
        "decreased_fraction": decrease_fraction(values, tolerance),
        "first": values[0] if values else float("nan"),
        "last": values[-1] if values else float("nan"),
        "min": min(values) if values else float("nan"),
        "first_step": int(steps[0]) if len(steps) else None,
        "last_step": int(steps[-1]) if len(steps) else None,
    }
