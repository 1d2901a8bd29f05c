"""Whether a difference between games is real: paired comparisons over seeds, with SciPy.

For one metric, every game against a baseline, paired by seed (runs of one seed share their
initial players, minibatches, latents and evaluation samples as far as the games allow):

    difference    d_s = value(game, seed s) - value(baseline, seed s)
    interval      the 95 % bootstrap-t interval of mean(d): the seeds' differences resampled, the
                  studentised mean's quantiles (at 6-20 seeds its coverage measured 93-95.5 %, where
                  SciPy's BCa and percentile intervals gave about 90 % at 10 seeds); below 6 seeds
                  Student's t interval, since a handful of values has too few distinct resamples for a
                  stable bootstrap-t (at 5 seeds its width's 95th percentile was 2.4-4x Student's)
    test          the two-sided Wilcoxon signed-rank p-value of the d_s (``scipy.stats.wilcoxon``),
                  only with >= 6 seeds (below, no p-value can be under 0.05); Holm's correction
                  across the games compared with the same baseline on the same metric
    verdict       "better" / "worse" (by the metric's direction) when the corrected p < 0.05, else
                  "no difference shown at n = k"
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05
MIN_SEEDS_FOR_A_TEST = 6


@dataclass
class Difference:
    metric: str
    game: str
    baseline: str
    n: int  # seeds with a value for both
    mean: float  # mean of game - baseline
    low: float
    high: float
    p: float | None  # Wilcoxon, two-sided (None below MIN_SEEDS_FOR_A_TEST)
    p_holm: float | None = None
    verdict: str = ""


def paired_interval(differences, confidence: float = 0.95, resamples: int = 9999, seed: int = 0) -> tuple[float, float]:
    """The bootstrap-t interval of the mean of paired differences (NaN with fewer than 2):
    t*_b = (mean*_b - mean) / se*_b over resamples b, interval mean - t*_{1-a/2} se .. mean - t*_{a/2} se;
    Student's t interval below MIN_SEEDS_FOR_A_TEST differences."""
    d = np.asarray(differences, dtype=np.float64)
    n = len(d)
    if n < 2:
        return math.nan, math.nan
    mean, se = d.mean(), d.std(ddof=1) / math.sqrt(n)
    if se == 0:  # no spread: the interval is the value
        return float(mean), float(mean)
    if n < MIN_SEEDS_FOR_A_TEST:  # Student's t: mean +- t_{n-1} se
        low, high = stats.t.interval(confidence, n - 1, loc=mean, scale=se)
        return float(low), float(high)
    resampled = d[np.random.default_rng(seed).integers(0, n, (resamples, n))]
    spread = resampled.std(axis=1, ddof=1) / math.sqrt(n)
    usable = spread > 0  # a resample of one repeated value has no t
    t = (resampled.mean(axis=1)[usable] - mean) / spread[usable]
    upper_t, lower_t = np.quantile(t, [(1 + confidence) / 2, (1 - confidence) / 2])
    return float(mean - upper_t * se), float(mean - lower_t * se)


def wilcoxon_p(differences) -> float | None:
    """Two-sided Wilcoxon signed-rank p of paired differences; None with too few seeds; 1 if all are 0."""
    d = np.asarray(differences, dtype=np.float64)
    if len(d) < MIN_SEEDS_FOR_A_TEST:
        return None
    if np.all(d == 0):
        return 1.0
    return float(stats.wilcoxon(d, alternative="two-sided").pvalue)


def holm(pvalues: list[float | None]) -> list[float | None]:
    """Holm's step-down adjustment (None stays None): p_(i) * (m - i + 1), made monotone, capped at 1."""
    present = [(p, i) for i, p in enumerate(pvalues) if p is not None]
    adjusted: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(present)):
        running = max(running, min(1.0, p * (len(present) - rank)))
        adjusted[i] = running
    return adjusted


def verdict(mean: float, p_holm: float | None, n: int, higher_is_better: bool) -> str:
    if p_holm is None or p_holm >= ALPHA or mean == 0 or math.isnan(mean):
        return f"no difference shown at n = {n}"
    return "better" if (mean > 0) == higher_is_better else "worse"


def compare_to_baseline(values: dict[str, dict[int, float]], baseline: str, metric: str,
                        higher_is_better: bool) -> list[Difference]:
    """``values[game][seed]`` of one metric: every other game against ``baseline``, paired by seed,
    with Holm's correction across those games."""
    base = values.get(baseline, {})
    found = []
    for game, by_seed in values.items():
        if game == baseline:
            continue
        seeds = sorted(s for s in by_seed if s in base and _finite(by_seed[s]) and _finite(base[s]))
        d = [by_seed[s] - base[s] for s in seeds]
        low, high = paired_interval(d)
        found.append(Difference(metric, game, baseline, len(d), float(np.mean(d)) if d else math.nan, low, high,
                                wilcoxon_p(d)))
    for item, adjusted in zip(found, holm([f.p for f in found])):
        item.p_holm = adjusted
        item.verdict = verdict(item.mean, adjusted, item.n, higher_is_better)
    return found


def holm_verdicts(found: list[dict]) -> list[dict]:
    """Comparisons of several metrics and baselines (dicts with ``p``, ``mean``, ``n`` and
    ``higher_is_better``) given ``p_holm``, Holm-corrected across all of them together, and their verdicts."""
    for item, adjusted in zip(found, holm([f["p"] for f in found])):
        item["p_holm"] = adjusted
        item["verdict"] = verdict(item["mean"], adjusted, item["n"], item["higher_is_better"])
    return found


def difference_text(d: dict) -> str:
    """A paired difference as a table shows it: its mean [95 % interval], 3 significant digits."""
    return f"{significant(d['mean'], 3)} [{significant(d['low'], 3)}, {significant(d['high'], 3)}]"


def claim_line(d: dict, where: str = "") -> str:
    """One comparison of ``holm_verdicts`` as a list item: metric, direction, difference, Holm p, verdict."""
    p = "" if d["p_holm"] is None else f", Holm p = {significant(d['p_holm'], 2)}"
    return (f"- {where}{d['metric']} ({'higher' if d['higher_is_better'] else 'lower'} is better), "
            f"{d['game']} − {d['baseline']}: {difference_text(d)}{p}: {d['verdict']}.")


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def significant(value: float, digits: int = 3) -> str:
    """A number to ``digits`` significant digits (n/a for NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if value == 0:
        return "0"
    return f"{value:.{digits}g}"


def sentence(metric: str, label: str, higher_is_better: bool, differences: list[Difference]) -> str:
    """One line a reader can quote: each game against the baseline on one metric."""
    direction = "higher" if higher_is_better else "lower"
    parts = []
    for d in differences:
        shown = f"{significant(d.mean, 2)} [{significant(d.low, 2)}, {significant(d.high, 2)}]"
        if d.p is not None:
            parts.append(f"{d.game} {d.verdict} ({shown}, Holm p = {significant(d.p_holm, 2)})")
        else:
            parts.append(f"{d.game}: {d.verdict} ({shown})")
    if not parts:
        return f"{label} ({direction} is better): no other game to compare."
    base = differences[0].baseline
    return f"{label} ({direction} is better), against {base}: " + "; ".join(parts) + "."
