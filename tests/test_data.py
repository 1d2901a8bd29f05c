"""Synthetic presets: exact centres and parameters, sample moments, density against SciPy."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.stats import multivariate_normal

from gangames import build
from gangames.config import Config
from gangames.data.presets import PRESETS
from gangames.data.synthetic import GaussianMixture, Line, SwissRoll


def preset(name, **data):
    cfg = Config()
    cfg.data.preset = name
    for k, v in data.items():
        setattr(cfg.data, k, v)
    return build.build_data(build.resolve(cfg))


def draw(dataset, n=200_000, seed=0):
    return dataset.sample(n, torch.Generator().manual_seed(seed)).double().numpy()


def test_ring8_has_eight_distinct_centres_at_radius_two():
    ring = preset("ring8")
    assert isinstance(ring, GaussianMixture) and ring.sigma == 0.02
    angles = np.arctan2(ring.centres[:, 1], ring.centres[:, 0]) % (2 * np.pi)
    assert np.allclose(np.sort(angles), np.arange(8) * np.pi / 4)
    assert np.allclose(np.linalg.norm(ring.centres, axis=1), 2.0)
    gaps = np.linalg.norm(ring.centres[:, None] - ring.centres[None], axis=-1) + np.eye(8) * 9
    assert gaps.min() == pytest.approx(2 * 2 * math.sin(math.pi / 8))  # 8 distinct, evenly spaced


def test_pacgan_ring_and_grid_parameters():
    small = preset("ring8-pacgan")
    assert small.sigma == 0.01 and np.allclose(np.linalg.norm(small.centres, axis=1), 1.0) and small.num_modes == 8
    grid = preset("grid25")
    assert grid.sigma == 0.05 and grid.num_modes == 25
    assert {tuple(c) for c in grid.centres} == {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}


@pytest.mark.parametrize("name", ["ring8", "ring8-pacgan", "grid25"])
def test_mixture_samples_match_the_mixture_moments(name):
    data = preset(name)
    x = draw(data)
    assert np.allclose(x.mean(0), data.mean, atol=0.02)
    assert np.allclose(x.std(0), data.std, rtol=0.01)
    # Every sample lies within 5 sigma of its own mode.
    nearest = np.linalg.norm(x[:, None] - data.centres[None], axis=-1).min(1)
    assert nearest.max() < 6 * data.sigma
    assert nearest.std() == pytest.approx(data.sigma * math.sqrt(2 - math.pi / 2), rel=0.02)  # Rayleigh


def test_sigma_and_radius_are_configurable_and_checked():
    wide = preset("ring8", sigma=0.1, radius=3.0)
    assert wide.sigma == 0.1 and np.allclose(np.linalg.norm(wide.centres, axis=1), 3.0)
    from gangames.errors import ConfigError

    with pytest.raises(ConfigError, match="data.radius does not apply to preset 'grid25'"):
        preset("grid25", radius=2.0)


def test_mixture_density_against_scipy():
    data = preset("ring8", sigma=0.3)
    x = np.random.default_rng(0).normal(size=(50, 2)) * 2
    expected = np.log(np.mean([multivariate_normal(c, 0.09 * np.eye(2)).pdf(x) for c in data.centres], axis=0))
    assert np.allclose(data.log_density(x), expected, rtol=1e-10)


def test_line_samples_lie_on_the_line_with_unit_spread():
    line = preset("line-d", dim=100, line_seed=3)
    assert isinstance(line, Line) and line.dim == 100
    assert np.linalg.norm(line.direction) == pytest.approx(1.0)
    x = draw(line, n=20_000)
    s = (x - line.origin) @ line.direction
    off_line = x - line.origin - s[:, None] * line.direction
    assert np.abs(off_line).max() < 1e-4
    assert s.mean() == pytest.approx(0, abs=0.03) and s.std() == pytest.approx(1, rel=0.02)
    assert not np.allclose(preset("line-d", dim=100, line_seed=4).direction, line.direction)


def test_swissroll_moments_against_numerical_integration():
    roll = preset("swissroll")
    assert isinstance(roll, SwissRoll) and roll.sigma == 0.05
    x = draw(roll)
    lo, hi = 1.5 * math.pi, 4.5 * math.pi
    mean_x = integrate.quad(lambda t: t * math.cos(t) / 5, lo, hi)[0] / (hi - lo)
    mean_y = integrate.quad(lambda t: t * math.sin(t) / 5, lo, hi)[0] / (hi - lo)
    sq_x = integrate.quad(lambda t: (t * math.cos(t) / 5) ** 2, lo, hi)[0] / (hi - lo)
    assert x.mean(0) == pytest.approx([mean_x, mean_y], abs=0.01)
    assert x[:, 0].var() == pytest.approx(sq_x - mean_x**2 + 0.05**2, rel=0.01)


def test_every_synthetic_preset_builds_and_samples_float32():
    for name in (n for n, p in PRESETS.items() if p.kind == "vectors" and not p.standardizes):  # not user files
        data = preset(name)
        x = data.sample(10, torch.Generator().manual_seed(0))
        assert x.dtype == torch.float32 and x.shape == (10, data.dim)
