"""The headline of a comparison: which game works, with numbers a reviewer accepts.

Per data set, one ranked table: every game's value of each metric (mean over seeds, 3 significant
digits) and, beside it, its paired difference to the baseline game with the 95 % interval and the
verdict (``gangames.statistics``); and one sentence per metric. A number is always one of two,
and says which:

    last    the run's last checkpoint (eval.json)
    best    the best of the evaluations logged during training (eval.every), per metric: an
            optimistic number, selected on the very samples it is measured on

Shared by the HTML report and the terminal (``gangames compare``); reads run folders only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from gangames.reporting.collect import Group, Run
from gangames.statistics import Difference, compare_to_baseline, sentence, significant

HIDDEN = ("kid_std", "is_std")  # spreads of a value, not metrics to rank by
# The order of a headline's columns (the first ranks the games; the terminal shows the first four):
# coverage and quality first, then distances, likelihoods, the rest in eval.json's order.
ORDER = ("modes", "hq", "w2", "stacked_modes", "class_accuracy", "fid", "kid", "solved", "angle", "w1", "sliced_w2",
         "modes_1pct", "reverse_kl", "stacked_kl", "log_likelihood", "kde_log_likelihood", "is", "precision", "recall")
WHICH = {"last": "last checkpoint (eval.json)",
         "best": "best of the evaluations logged during training (optimistic: selected on the same samples)"}


def _higher(key: str) -> bool:
    from gangames.metrics.registry import better_direction

    try:
        return better_direction(key) == "higher"
    except KeyError:
        return True


def run_values(run: Run, which: str) -> dict[str, float]:
    """A run's number for every metric: its last evaluation, or the best logged during training."""
    if which == "last":
        metrics = (run.eval or {}).get("metrics", {})
        return {k: float(v) for k, v in metrics.items() if "/" not in k and isinstance(v, (int, float))}
    best: dict[str, float] = {}
    for row in run.rows:
        for key, value in row.get("eval", {}).items():
            if "/" in key or not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            if key not in best or (value > best[key]) == _higher(key) and value != best[key]:
                best[key] = float(value)
    return best


@dataclass
class Headline:
    data: str
    which: str
    baseline: str
    metrics: list[str]
    labels: dict[str, str]
    ranked: list[Group]
    means: dict[str, dict[str, float]]  # group label -> metric -> mean over seeds
    seeds: dict[str, int]
    differences: dict[str, dict[str, Difference]] = field(default_factory=dict)  # metric -> game -> vs baseline
    sentences: list[str] = field(default_factory=list)

    def higher(self, metric: str) -> bool:
        return _higher(metric)


def headline(groups: list[Group], which: str = "last", baseline: str | None = None) -> Headline | None:
    """The headline of groups of one data set (None without evaluations). ``baseline``: a label or a
    game name (default: the first group)."""
    values = {g.label: {r.seed: run_values(r, which) for r in g.runs} for g in groups}
    found = list(dict.fromkeys(k for by_seed in values.values() for v in by_seed.values() for k in v if k not in HIDDEN))
    metrics = sorted(found, key=lambda k: (ORDER.index(k) if k in ORDER else len(ORDER), found.index(k)))
    if not metrics:
        return None
    labels = {k: v for g in groups for r in g.runs if r.eval for k, v in r.eval.get("definitions", {}).items()}
    base = next((g.label for g in groups if baseline in (g.label, g.runs[0].config.get("game", {}).get("name"))),
                groups[0].label)
    means = {label: {m: float(np.mean([v[m] for v in by_seed.values() if m in v])) if any(m in v for v in by_seed.values())
                     else math.nan for m in metrics} for label, by_seed in values.items()}
    def rank(g: Group) -> tuple:  # by the first metric, ties broken by the next ones; NaN last
        keys = []
        for m in metrics:
            value = means[g.label][m]
            keys += [math.isnan(value), 0.0 if math.isnan(value) else (-value if _higher(m) else value)]
        return tuple(keys)

    ranked = sorted(groups, key=rank)
    result = Headline(groups[0].data, which, base, metrics, labels, ranked, means,
                      {g.label: len(g.runs) for g in groups})
    for metric in metrics:
        per_game = {label: {s: v[metric] for s, v in by_seed.items() if metric in v} for label, by_seed in values.items()}
        found = compare_to_baseline(per_game, base, metric, _higher(metric))
        result.differences[metric] = {d.game: d for d in found}
        result.sentences.append(sentence(metric, labels.get(metric, metric), _higher(metric), found))
    return result


def cell(h: Headline, label: str, metric: str) -> tuple[str, str]:
    """(value, difference to the baseline with its interval and verdict) as a table shows them."""
    value = significant(h.means[label][metric])
    if label == h.baseline:
        return value, "baseline"
    d = h.differences[metric].get(label)
    if d is None or d.n == 0:
        return value, "–"
    mark = {"better": "better", "worse": "worse"}.get(d.verdict, "n.s.")
    return value, f"{significant(d.mean, 2)} [{significant(d.low, 2)}, {significant(d.high, 2)}] {mark}"
