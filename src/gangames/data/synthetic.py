"""Synthetic data with exact parameters: Gaussian mixtures (with their density and mode centres),
Fedus et al.'s line in d dimensions, and a 2-D Swiss roll.

Every sampler draws from an explicit ``torch.Generator`` so that a run is reproducible and its
random state can be checkpointed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.special import logsumexp

from gangames.errors import DataError


@dataclass(frozen=True)
class GaussianMixture:
    """Equal-weight isotropic Gaussian mixture: ``p(x) = (1/K) sum_k N(x; centres[k], sigma^2 I)``."""

    name: str
    centres: np.ndarray  # (K, d), float64
    sigma: float
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    kind = "vectors"

    @property
    def dim(self) -> int:
        return self.centres.shape[1]

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return (self.dim,)

    @property
    def num_modes(self) -> int:
        return self.centres.shape[0]

    def _centres_on(self, device: torch.device) -> torch.Tensor:
        key = str(device)
        if key not in self._cache:
            self._cache[key] = torch.as_tensor(self.centres, dtype=torch.float32, device=device)
        return self._cache[key]

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return self.sample_with_labels(n, generator)[0]

    @property
    def classes(self) -> int:
        """A mixture's labels are its modes (a conditional game on ring8 has 8 classes)."""
        return self.num_modes

    def sample_with_labels(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        centres = self._centres_on(generator.device)
        modes = torch.randint(self.num_modes, (n,), generator=generator, device=generator.device)
        noise = torch.randn(n, self.dim, generator=generator, device=generator.device)
        return centres[modes] + self.sigma * noise, modes

    def log_density(self, x, smoothing: float = 0.0) -> np.ndarray:
        """Exact log p(x) in float64 (logsumexp over the modes).

        ``smoothing`` h gives the density of the data plus N(0, h^2 I) noise: the same mixture
        with variance sigma^2 + h^2.
        """
        x = np.asarray(x, dtype=np.float64).reshape(-1, self.dim)
        variance = self.sigma**2 + smoothing**2
        sq = ((x[:, None, :] - self.centres[None, :, :]) ** 2).sum(-1)
        log_norm = -0.5 * self.dim * math.log(2 * math.pi * variance)
        return logsumexp(log_norm - sq / (2 * variance), axis=1) - math.log(self.num_modes)

    @property
    def mean(self) -> np.ndarray:
        return self.centres.mean(0)

    @property
    def std(self) -> np.ndarray:
        """Per-coordinate standard deviation of the mixture (law of total variance)."""
        return np.sqrt(self.centres.var(0) + self.sigma**2)


@dataclass(frozen=True)
class Line:
    """Data on a line in R^d: ``x = origin + s * direction`` with ``s ~ N(0, 1)`` (Fedus et al. §3(d)).

    Its support has measure zero, so a model line that misses it has JS divergence log 2 and no
    divergence gradient: the case where a non-saturating GAN must learn without one.
    """

    name: str
    origin: np.ndarray  # (d,)
    direction: np.ndarray  # (d,), unit norm
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    kind = "vectors"

    @property
    def dim(self) -> int:
        return self.origin.shape[0]

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return (self.dim,)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        key = str(generator.device)
        if key not in self._cache:
            self._cache[key] = (
                torch.as_tensor(self.origin, dtype=torch.float32, device=generator.device),
                torch.as_tensor(self.direction, dtype=torch.float32, device=generator.device),
            )
        origin, direction = self._cache[key]
        s = torch.randn(n, 1, generator=generator, device=generator.device)
        return origin + s * direction

    @property
    def mean(self) -> np.ndarray:
        return self.origin

    @property
    def std(self) -> np.ndarray:
        return np.abs(self.direction)


@dataclass(frozen=True)
class SwissRoll:
    """2-D Swiss roll: ``t = 1.5 pi (1 + 2u)``, ``u ~ U(0, 1)``, ``x = t (cos t, sin t) / 5 + sigma * N(0, I)``."""

    name: str
    sigma: float
    scale: float = 5.0

    dim = 2
    kind = "vectors"
    sample_shape = (2,)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        u = torch.rand(n, generator=generator, device=generator.device)
        t = 1.5 * math.pi * (1 + 2 * u)
        curve = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1) / self.scale
        return curve + self.sigma * torch.randn(n, 2, generator=generator, device=generator.device)


def ring(num_modes: int, radius: float) -> np.ndarray:
    """``num_modes`` centres evenly spaced on a circle, at angles 2 pi k / num_modes (k = 0..K-1)."""
    angles = 2 * math.pi * np.arange(num_modes) / num_modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def grid(values) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    xs, ys = np.meshgrid(values, values, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def random_line(dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A random line in R^dim: origin ~ N(0, I), direction uniform on the unit sphere."""
    if dim < 2:
        raise DataError(f"line-d needs data.dim >= 2, got {dim}")
    rng = np.random.default_rng(seed)
    origin = rng.standard_normal(dim)
    direction = rng.standard_normal(dim)
    return origin, direction / np.linalg.norm(direction)
