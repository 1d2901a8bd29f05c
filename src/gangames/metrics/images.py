"""Image metrics on features of a pluggable extractor: Fréchet distance, KID, precision/recall,
classifier Inception Score, and the modes of Stacked Fashion-MNIST.

The Fréchet distance is computed in float64 from symmetric eigen-decompositions only:
tr((S1^1/2 S2 S1^1/2)^1/2) equals tr((S1 S2)^1/2) but is the square root of a symmetric positive
semi-definite matrix, so it cannot produce the "imaginary component" of the sqrtm form.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from gangames.errors import MetricError

def moments(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    features = np.asarray(features, dtype=np.float64)
    n, d = features.shape
    if n <= d:
        raise MetricError(f"Fréchet distance needs more samples than feature dimensions: {n} samples, {d} dimensions")
    return features.mean(0), np.cov(features, rowvar=False)


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """|mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1^1/2 S2 S1^1/2)^1/2), float64."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    root1 = _sqrt_psd(sigma1)
    inner = root1 @ sigma2 @ root1
    values = np.linalg.eigvalsh((inner + inner.T) / 2)
    cross = np.sqrt(np.clip(values, 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2 * cross)


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(x.y / d + 1)^3, the kernel of KID (Binkowski et al. 2018)."""
    return (x @ y.T / x.shape[1] + 1) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    m, n = len(x), len(y)
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2 * kxy.mean())


def kernel_inception_distance(real: np.ndarray, fake: np.ndarray, subsets: int = 100, subset_size: int = 1000,
                              seed: int = 0) -> tuple[float, float]:
    """Mean and std over random subsets of the unbiased MMD^2 with the cubic polynomial kernel."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    size = min(subset_size, len(real), len(fake))
    if size < 2:
        raise MetricError("KID needs at least 2 samples per side")
    rng = np.random.default_rng(seed)
    values = [mmd2_unbiased(real[rng.choice(len(real), size, replace=False)],
                            fake[rng.choice(len(fake), size, replace=False)]) for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values))


def _kth_distances(points: torch.Tensor, k: int, chunk: int = 2048) -> torch.Tensor:
    out = []
    for block in points.split(chunk):
        d = torch.cdist(block, points)
        out.append(d.kthvalue(k + 1, dim=1).values)  # +1: the point itself is at distance 0
    return torch.cat(out)


def _inside_any_ball(queries: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, chunk: int = 2048) -> float:
    hits = []
    for block in queries.split(chunk):
        hits.append((torch.cdist(block, centres) <= radii[None]).any(1))
    return float(torch.cat(hits).double().mean())


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Kynkäänniemi et al. (2019): each set's manifold is the union of balls reaching each point's
    k-th nearest neighbour; precision = share of fakes inside the real manifold, recall the reverse."""
    real_t = torch.as_tensor(np.asarray(real), dtype=torch.float64)
    fake_t = torch.as_tensor(np.asarray(fake), dtype=torch.float64)
    if min(len(real_t), len(fake_t)) <= k:
        raise MetricError(f"precision/recall with k = {k} needs more than {k} samples per side")
    precision = _inside_any_ball(fake_t, real_t, _kth_distances(real_t, k))
    recall = _inside_any_ball(real_t, fake_t, _kth_distances(fake_t, k))
    return precision, recall


def inception_score(probabilities: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))), mean and std over ``splits`` parts, with a classifier's p(y|x)."""
    probs = np.asarray(probabilities, dtype=np.float64)
    scores = []
    for part in np.array_split(probs, splits):
        marginal = part.mean(0, keepdims=True)
        kl = (part * (np.log(np.clip(part, 1e-12, None)) - np.log(np.clip(marginal, 1e-12, None)))).sum(1)
        scores.append(math.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def stacked_modes(channel_labels: np.ndarray, classes: int = 10) -> dict[str, float]:
    """Modes of Stacked (Fashion-)MNIST from each channel's class: covered modes out of classes^3 and
    KL(mode histogram || uniform) in nats (the Metz et al. / VEEGAN / PacGAN convention)."""
    labels = np.asarray(channel_labels, dtype=np.int64)
    modes = labels[:, 0] * classes**2 + labels[:, 1] * classes + labels[:, 2]
    counts = np.bincount(modes, minlength=classes**3)
    share = counts / counts.sum()
    nonzero = share > 0
    kl = float(np.sum(share[nonzero] * np.log(share[nonzero] * classes**3)))
    return {"stacked_modes": int(nonzero.sum()), "stacked_kl": kl}
