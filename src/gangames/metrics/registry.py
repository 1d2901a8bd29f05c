"""Metrics registered by name; each says which data it applies to and which direction is better.

A metric maps one player's samples (n, *shape) and as many fresh real samples to named numbers.
Several players are evaluated one by one and reported per player, as a mean, and as the worst.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from gangames.config import EvalConfig
from gangames.data.images import ImageDataset, StackedDataset
from gangames.data.synthetic import GaussianMixture, Line
from gangames.errors import ConfigError
from gangames.metrics.density import kde_log_density
from gangames.metrics.divergence import js_divergence, trace_summary
from gangames.metrics.extractors import default_extractor, get_extractor
from gangames.metrics.images import (frechet_distance, inception_score, kernel_inception_distance, moments,
                                     precision_recall, stacked_modes)
from gangames.metrics.line import line_metrics
from gangames.metrics.mixture import mode_coverage, sample_log_likelihood
from gangames.metrics.transport import exact_wasserstein, sliced_wasserstein


@dataclass
class Context:
    samples: np.ndarray  # one player's generated samples, (n, *shape)
    reference: np.ndarray  # fresh real samples, (n, *shape)
    data: object
    settings: EvalConfig
    shared: dict = field(default_factory=dict)  # computed once per evaluation (reference features)
    labels: np.ndarray | None = None  # a conditional game's labels of the generated samples, (n,)


@dataclass(frozen=True)
class Metric:
    description: str
    applies: str  # "mixture", "line" or "vectors"
    better: dict[str, str]  # output key -> "higher" or "lower"
    compute: Callable[[Context], dict[str, float]]


def data_kinds(data, conditional: bool = False) -> set[str]:
    kinds = {getattr(data, "kind", "vectors")}
    if conditional:
        kinds.add("conditional")
    if isinstance(data, StackedDataset):
        kinds.add("stacked")
    if isinstance(data, GaussianMixture):
        kinds.add("mixture")
    if isinstance(data, Line):
        kinds.add("line")
    return kinds


def kde_bandwidth(ctx: Context) -> float:
    """The data's sigma where it has one; otherwise Scott's rule on the generated samples."""
    if ctx.settings.kde_bandwidth:
        return ctx.settings.kde_bandwidth
    sigma = getattr(ctx.data, "sigma", 0.0)
    if sigma > 0:
        return sigma
    n, d = len(ctx.samples), ctx.samples.reshape(len(ctx.samples), -1).shape[1]
    spread = float(np.mean(np.std(ctx.samples.reshape(n, d), axis=0)))
    return max(spread, 1e-6) * n ** (-1.0 / (d + 4))


def _exact(ctx: Context, p: int) -> float:
    k = ctx.settings.exact_max
    return exact_wasserstein(ctx.samples[:k], ctx.reference[:k], p=p)


def extractor_name(settings: EvalConfig, data) -> str:
    """The feature extractor of the image metrics: the configured one, or the data's default."""
    return settings.extractor or default_extractor(data.name)


def _extractor(ctx: Context):
    if "extractor" not in ctx.shared:
        ctx.shared["extractor"] = get_extractor(extractor_name(ctx.settings, ctx.data))
    return ctx.shared["extractor"]


def _features(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """Features of the generated samples and of the reference (computed once, cached on disk)."""
    extractor = _extractor(ctx)
    if "reference_features" not in ctx.shared:
        ctx.shared["reference_features"] = reference_features(ctx, extractor)
    return extractor.features(ctx.samples), ctx.shared["reference_features"]


def reference_features(ctx: Context, extractor) -> np.ndarray:
    from gangames.io import save_npy
    from gangames.training.compiled import cache_dir

    key = f"{ctx.data.name}-{getattr(ctx.data, 'split', 'train')}-{len(getattr(ctx.data, 'images', []))}-" \
          f"{extractor.name.replace('/', '_').replace(':', '_')}-{len(ctx.reference)}-{ctx.settings.seed}"
    path = cache_dir() / "stats" / f"{key}.npy"
    if path.exists():
        cached = np.load(path)
        if len(cached) == len(ctx.reference):
            return cached
    features = extractor.features(ctx.reference)
    save_npy(path, features.astype(np.float64))
    return features


def _fid(ctx: Context) -> dict[str, float]:
    fake, real = _features(ctx)
    return {"fid": frechet_distance(*moments(real), *moments(fake))}


def _kid(ctx: Context) -> dict[str, float]:
    fake, real = _features(ctx)
    mean, std = kernel_inception_distance(real, fake, ctx.settings.kid_subsets, ctx.settings.kid_subset_size,
                                          ctx.settings.seed)
    return {"kid": mean, "kid_std": std}


def _precision_recall(ctx: Context) -> dict[str, float]:
    fake, real = _features(ctx)
    n = ctx.settings.pr_samples
    precision, recall = precision_recall(real[:n], fake[:n], ctx.settings.pr_k)
    return {"precision": precision, "recall": recall}


def _inception_score(ctx: Context) -> dict[str, float]:
    logits = _extractor(ctx).logits_per_channel(ctx.samples)
    # Several channels (Stacked data): p(y|x) is the product of the channels' softmaxes.
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    joint = probs[:, 0]
    for c in range(1, probs.shape[1]):
        joint = (joint[:, :, None] * probs[:, c][:, None, :]).reshape(len(joint), -1)
    mean, std = inception_score(joint, ctx.settings.is_splits)
    return {"is": mean, "is_std": std}


def _stacked(ctx: Context) -> dict[str, float]:
    labels = _extractor(ctx).logits_per_channel(ctx.samples).argmax(-1)
    return stacked_modes(labels)


def _class_accuracy(ctx: Context) -> dict[str, float]:
    """The share of conditional samples that are of the class they were asked for: by the shipped
    classifier for images (Stacked: all three channels right), by the mode a sample lands at
    (within 3 sigma) for a mixture."""
    if isinstance(ctx.data, GaussianMixture):
        from gangames.metrics.mixture import nearest_modes

        index, distance = nearest_modes(ctx.samples.reshape(len(ctx.samples), -1), ctx.data.centres)
        right = (index == ctx.labels) & (distance <= 3 * ctx.data.sigma)
        return {"class_accuracy": float(right.mean())}
    per_channel = _extractor(ctx).logits_per_channel(ctx.samples).argmax(-1)  # (n, channels)
    predicted = per_channel[:, 0] if per_channel.shape[1] == 1 else \
        (per_channel * (10 ** np.arange(per_channel.shape[1])[::-1])).sum(-1)  # Stacked: 100 c1 + 10 c2 + c3
    return {"class_accuracy": float((predicted == ctx.labels).mean())}


def _js(ctx: Context) -> dict[str, float]:
    exact = ctx.data.log_density if isinstance(ctx.data, GaussianMixture) else None
    return {"js": js_divergence(ctx.samples, ctx.reference, ctx.settings.js_bandwidth, ctx.settings.seed, exact)}


METRICS: dict[str, Metric] = {
    "modes": Metric(
        "PacGAN's Table 1 on the first eval.mode_samples (2500) samples: modes (>= 1 sample within 3 sigma), hq "
        "fraction, reverse_kl of the mode histogram to uniform (log K without any hq sample); and modes_1pct "
        "(modes with >= 1% of all samples)",
        "mixture", {"modes": "higher", "modes_1pct": "higher", "hq": "higher", "reverse_kl": "lower"},
        lambda c: mode_coverage(c.samples, c.data.centres, c.data.sigma, c.settings.mode_samples)),
    "log_likelihood": Metric(
        "mean log p_data(G(z)) under the true mixture, float64 (Bid Picture; rewards precision, not coverage)",
        "mixture", {"log_likelihood": "higher"},
        lambda c: {"log_likelihood": sample_log_likelihood(c.samples, c.data.log_density)}),
    "kde_log_likelihood": Metric(
        "mean log-density of fresh real samples under a Gaussian KDE of the generated ones (penalises dropped modes)",
        "vectors", {"kde_log_likelihood": "higher"},
        lambda c: {"kde_log_likelihood": float(np.mean(kde_log_density(c.reference, c.samples, kde_bandwidth(c))))}),
    "w1": Metric("exact W1 to fresh real samples (POT network simplex, up to eval.exact_max points)",
                 "vectors", {"w1": "lower"}, lambda c: {"w1": _exact(c, 1)}),
    "w2": Metric("exact W2 to fresh real samples (POT network simplex, up to eval.exact_max points)",
                 "vectors", {"w2": "lower"}, lambda c: {"w2": _exact(c, 2)}),
    "sliced_w2": Metric("sliced W2 to fresh real samples (eval.projections random directions, sorting)",
                        "vectors", {"sliced_w2": "lower"},
                        lambda c: {"sliced_w2": sliced_wasserstein(c.samples, c.reference, c.settings.projections,
                                                                   c.settings.seed)}),
    "js": Metric("JS divergence between model and data, both smoothed by N(0, h^2 I), h = eval.js_bandwidth (0.1)",
                 "vectors", {"js": "lower"}, _js),
    "fid": Metric("Fréchet distance of extractor features to fresh real images (float64, eigh form)",
                  "images", {"fid": "lower"}, _fid),
    "kid": Metric("kernel inception distance: unbiased MMD^2, cubic polynomial kernel, mean/std over subsets",
                  "images", {"kid": "lower", "kid_std": "lower"}, _kid),
    "precision_recall": Metric("k-NN manifold precision and recall in feature space (Kynkaanniemi et al., k = eval.pr_k, first eval.pr_samples)",
                               "images", {"precision": "higher", "recall": "higher"}, _precision_recall),
    "inception_score": Metric("classifier Inception Score exp E KL(p(y|x) || p(y)) with the extractor's classes",
                              "images", {"is": "higher", "is_std": "lower"}, _inception_score),
    "stacked_modes": Metric("Stacked Fashion-MNIST: modes covered of 1000 and KL(mode histogram || uniform)",
                            "stacked", {"stacked_modes": "higher", "stacked_kl": "lower"}, _stacked),
    "class_accuracy": Metric("conditional games: share of samples of the class asked for (the shipped classifier; "
                             "a mixture: the mode they land at, within 3 sigma)", "conditional",
                             {"class_accuracy": "higher"}, _class_accuracy),
    "line": Metric("line-d: angle (degrees) and offset to the data line, W1 along it, solved (angle < 1, offset < 0.05)",
                   "line", {"angle": "lower", "offset": "lower", "line_w1": "lower", "solved": "higher"},
                   lambda c: line_metrics(c.samples, c.data.origin, c.data.direction, c.reference)),
}

DEFAULTS = {
    "stacked": ["stacked_modes", "fid", "kid", "precision_recall"],
    "images": ["fid", "kid", "precision_recall", "inception_score"],
    "mixture": ["modes", "log_likelihood", "kde_log_likelihood", "w2", "js"],
    "line": ["line", "w2", "js"],
    "vectors": ["w1", "w2", "sliced_w2", "kde_log_likelihood"],
}

# Divergences whose trace over training is summarised (how often they fell).
DIVERGENCES = ("js", "w1", "w2", "sliced_w2")


def default_metrics(data, conditional: bool = False) -> list[str]:
    kinds = data_kinds(data)
    for kind in ("stacked", "images", "mixture", "line", "vectors"):
        if kind in kinds:
            return list(DEFAULTS[kind]) + (["class_accuracy"] if conditional else [])
    return []


def check_metrics(names: list[str], data, preset: str, conditional: bool = False) -> list[str]:
    """The metrics to compute: the given names (checked against the data), or the data's defaults."""
    kinds = data_kinds(data, conditional)
    for name in names:
        if name not in METRICS:
            raise ConfigError(f"unknown metric {name!r}; choose one of: {', '.join(sorted(METRICS))}")
        needs = METRICS[name].applies
        if needs not in kinds:
            what = {"mixture": "a Gaussian mixture with known modes", "line": "the line-d data",
                    "vectors": "vector-valued data", "images": "image data",
                    "stacked": "Stacked Fashion-MNIST", "conditional": "a class-conditional game (game.conditional)"}[needs]
            raise ConfigError(f"metric {name!r} needs {what}; data preset {preset!r} is not"
                              + (" (or the game is not conditional)" if needs == "conditional" else ""))
    return list(names) or default_metrics(data, conditional)


def evaluate_player(ctx: Context, names: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in names:
        out.update(METRICS[name].compute(ctx))
    return out


def better_direction(key: str) -> str:
    for metric in METRICS.values():
        if key in metric.better:
            return metric.better[key]
    raise KeyError(key)


def combine_players(per_player: list[dict[str, float]]) -> dict:
    """One player: its numbers. Several: ``key`` (mean), ``key/worst`` and ``key/players``.

    A player whose value is NaN is not left out: the mean and the worst are then NaN too (shown as
    n/a), so a failed player can never make the others look better."""
    if len(per_player) == 1:
        return dict(per_player[0])
    out: dict = {}
    for key in per_player[0]:
        values = np.array([p[key] for p in per_player], dtype=np.float64)
        out[f"{key}/players"] = [float(v) for v in values]
        worst = values.min() if better_direction(key) == "higher" else values.max()
        out[key] = float(values.mean())
        out[f"{key}/worst"] = math.nan if np.isnan(values).any() else float(worst)
    return out


def metric_label(key: str, settings: EvalConfig) -> str:
    """A key as a table header says it, with the rule that defines it where one number would mislead."""
    labels = {"modes": f"modes (≥ 1 of {settings.mode_samples})", "hq": f"hq (of {settings.mode_samples})",
              "reverse_kl": f"reverse KL (of {settings.mode_samples})", "modes_1pct": "modes (≥ 1 %)"}
    return labels.get(key, key)


def evaluate(samples, reference, data, names: list[str], settings: EvalConfig, labels=None) -> dict:
    """Evaluate samples of shape (P, n, *shape) against fresh real ``reference`` samples (n, *shape);
    ``labels`` (P, n): a conditional game's labels of the samples."""
    shared: dict = {}
    per_player = [evaluate_player(Context(s, reference, data, settings, shared, None if labels is None else labels[p]),
                                  names) for p, s in enumerate(samples)]
    return combine_players(per_player)


def divergence_traces(rows: list[dict], tolerance: float) -> dict:
    """Summaries of every divergence logged during training (the ``eval`` rows of metrics.jsonl)."""
    evals = [(r["step"], r["eval"]) for r in rows if "eval" in r]
    out = {}
    for key in DIVERGENCES:
        points = [(s, e[key]) for s, e in evals if key in e]
        if points:
            steps, values = zip(*points)
            out[key] = trace_summary(steps, values, tolerance)
    return out
