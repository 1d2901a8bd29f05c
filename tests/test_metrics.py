"""Metrics against hand-built cases, closed forms and independent implementations (SciPy, POT)."""

import math

import numpy as np
import ot
import pytest
import torch
from scipy.optimize import linear_sum_assignment
from scipy.stats import multivariate_normal

from gangames import build
from gangames.config import Config, EvalConfig
from gangames.data.synthetic import GaussianMixture, ring
from gangames.errors import ConfigError, MetricError
from gangames.metrics.density import kde_log_density
from gangames.metrics.divergence import decrease_fraction, js_divergence, trace_summary
from gangames.metrics.line import line_metrics
from gangames.metrics.mixture import mode_coverage, sample_log_likelihood
from gangames.metrics.registry import check_metrics, combine_players, evaluate
from gangames.metrics.transport import exact_wasserstein, sliced_wasserstein

RNG = np.random.default_rng(0)
RING = GaussianMixture("ring8", ring(8, 2.0), 0.02)


def ring_samples(n, modes=range(8), sigma=0.02, seed=0):
    rng = np.random.default_rng(seed)
    modes = list(modes)
    which = np.array(modes)[np.arange(n) % len(modes)]
    return RING.centres[which] + sigma * rng.standard_normal((n, 2))


# -- mode coverage --------------------------------------------------------------------------------
def test_all_samples_on_one_mode():
    stats = mode_coverage(ring_samples(2500, modes=[3], sigma=0.005), RING.centres, 0.02)
    assert stats == {"modes": 1, "modes_1pct": 1, "hq": 1.0, "reverse_kl": pytest.approx(math.log(8))}


def test_samples_spread_evenly_over_the_modes():
    stats = mode_coverage(ring_samples(2500, sigma=0.005), RING.centres, 0.02)
    assert stats["modes"] == 8 and stats["modes_1pct"] == 8 and stats["hq"] == 1.0
    assert stats["reverse_kl"] == pytest.approx(0.0, abs=1e-4)  # 2500 = 8 x 312 + 4: almost even


def test_samples_far_from_every_mode_score_the_worst_reverse_kl():
    """No high-quality sample: no histogram, so reverse KL takes log K, the worst any histogram scores
    (a NaN here would drop the player from the mean and the worst of several players)."""
    stats = mode_coverage(RNG.uniform(-0.5, 0.5, size=(2500, 2)), RING.centres, 0.02)
    assert stats == {"modes": 0, "modes_1pct": 0, "hq": 0.0, "reverse_kl": pytest.approx(math.log(8))}


def test_pacgan_statistics_count_exactly_the_first_mode_samples():
    """PacGAN's one-sample rule on 2500 samples: a mode first reached by sample 2501 does not count
    (given 10 000 samples the rule would count it), while the 1% rule reads all samples."""
    on_seven = ring_samples(2500, modes=range(7), sigma=0.001)
    late = ring_samples(200, modes=[7], sigma=0.001)
    stats = mode_coverage(np.vstack([on_seven, late]), RING.centres, 0.02)
    assert stats["modes"] == 7 and stats["modes_1pct"] == 8
    assert stats["hq"] == 1.0 and stats["reverse_kl"] == pytest.approx(math.log(8 / 7), abs=1e-3)
    assert mode_coverage(np.vstack([on_seven, late]), RING.centres, 0.02, pacgan_samples=2700)["modes"] == 8
    with pytest.raises(MetricError, match="PacGAN's mode count takes 2500 samples .* got 2499"):
        mode_coverage(on_seven[:2499], RING.centres, 0.02)


def test_quality_threshold_is_three_sigma_and_one_percent_rule():
    centre = RING.centres[0]
    near = centre + np.array([[0.059, 0.0]])  # inside 3 sigma = 0.06
    far = centre + np.array([[0.061, 0.0]])
    assert mode_coverage(near, RING.centres, 0.02, pacgan_samples=1)["hq"] == 1.0
    assert mode_coverage(far, RING.centres, 0.02, pacgan_samples=1)["hq"] == 0.0
    # 99 samples on mode 0 and 1 on mode 1: mode 1 holds exactly 1% -> counted in modes_1pct.
    samples = np.vstack([ring_samples(99, modes=[0], sigma=0.001), ring_samples(1, modes=[1], sigma=0.001)])
    assert mode_coverage(samples, RING.centres, 0.02, pacgan_samples=100)["modes_1pct"] == 2
    samples = np.vstack([ring_samples(199, modes=[0], sigma=0.001), ring_samples(1, modes=[1], sigma=0.001)])
    stats = mode_coverage(samples, RING.centres, 0.02, pacgan_samples=200)
    assert stats["modes"] == 2 and stats["modes_1pct"] == 1


# -- likelihoods ----------------------------------------------------------------------------------
def test_sample_log_likelihood_against_scipy():
    mix = GaussianMixture("m", RNG.normal(size=(5, 3)), 0.4)
    x = RNG.normal(size=(200, 3))
    expected = np.log(np.mean([multivariate_normal(c, 0.16 * np.eye(3)).pdf(x) for c in mix.centres], axis=0))
    assert sample_log_likelihood(x, mix.log_density) == pytest.approx(expected.mean(), rel=1e-12)


def test_perfect_samples_reach_the_ideal_log_likelihood():
    """For well-separated modes E log p(x) = log(1/8) - log(2 pi sigma^2) - 1 (= +2.91 at sigma 0.02)."""
    ideal = math.log(1 / 8) - math.log(2 * math.pi * 0.02**2) - 1
    assert ideal == pytest.approx(2.9067, abs=1e-4)
    perfect = ring_samples(200_000, seed=1)
    assert sample_log_likelihood(perfect, RING.log_density) == pytest.approx(ideal, abs=0.01)
    collapsed = ring_samples(20_000, modes=[2], seed=2)  # precision only: collapse scores the same
    assert sample_log_likelihood(collapsed, RING.log_density) == pytest.approx(ideal, abs=0.02)


def test_kde_log_density_against_scipy():
    sample = RNG.normal(size=(40, 2))
    points = RNG.normal(size=(30, 2))
    expected = np.log(np.mean([multivariate_normal(s, 0.3**2 * np.eye(2)).pdf(points) for s in sample], axis=0))
    assert np.allclose(kde_log_density(points, sample, 0.3, chunk=7), expected, rtol=1e-10)


# -- transport ------------------------------------------------------------------------------------
def test_exact_w2_against_an_independent_assignment_solver():
    x, y = RNG.normal(size=(300, 2)), RNG.normal(size=(300, 2)) * 1.5 + 0.3
    cost = ((x[:, None] - y[None]) ** 2).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    assert exact_wasserstein(x, y, 2) == pytest.approx(math.sqrt(cost[rows, cols].mean()), rel=1e-9)
    dist = np.sqrt(cost)
    rows, cols = linear_sum_assignment(dist)
    assert exact_wasserstein(x, y, 1) == pytest.approx(dist[rows, cols].mean(), rel=1e-9)


def test_exact_w2_against_pot_with_unequal_sizes():
    x, y = RNG.normal(size=(120, 3)), RNG.normal(size=(80, 3)) + 1
    expected = math.sqrt(ot.emd2(np.full(120, 1 / 120), np.full(80, 1 / 80), ot.dist(x, y)))
    assert exact_wasserstein(x, y, 2) == pytest.approx(expected, rel=1e-9)


def test_exact_w2_closed_forms():
    x = RNG.normal(size=(500, 4))
    shift = np.array([0.3, -1.2, 0.0, 2.0])
    assert exact_wasserstein(x, x + shift, 2) == pytest.approx(np.linalg.norm(shift), rel=1e-9)  # translation
    mean_sq = (x**2).sum(1).mean()
    assert exact_wasserstein(x, 0.25 * x, 2) == pytest.approx(0.75 * math.sqrt(mean_sq), rel=1e-9)  # dilation
    # Two 1-D Gaussians: W2^2 = (m1 - m2)^2 + (s1 - s2)^2, up to sampling error (its own generator:
    # the draw must not depend on what other tests drew before).
    rng = np.random.default_rng(11)
    a, b = rng.normal(0.0, 1.0, 3000), rng.normal(1.0, 2.0, 3000)
    assert exact_wasserstein(a[:, None], b[:, None], 2) == pytest.approx(math.sqrt(2), rel=0.03)


def test_two_gaussians_in_2d_match_the_bures_formula():
    """W2^2(N(m1,S1), N(m2,S2)) = |m1-m2|^2 + tr(S1 + S2 - 2 (S2^1/2 S1 S2^1/2)^1/2)."""
    from scipy.linalg import sqrtm

    s1 = np.array([[1.0, 0.3], [0.3, 0.5]])
    s2 = np.array([[0.4, 0.0], [0.0, 2.0]])
    m2 = np.array([1.0, -0.5])
    root = sqrtm(s2)
    closed = math.sqrt(m2 @ m2 + np.trace(s1 + s2 - 2 * sqrtm(root @ s1 @ root)).real)
    rng = np.random.default_rng(5)
    x = rng.multivariate_normal([0, 0], s1, size=2000)
    y = rng.multivariate_normal(m2, s2, size=2000)
    assert exact_wasserstein(x, y, 2) == pytest.approx(closed, rel=0.05)


def test_sliced_w2_is_exact_in_one_dimension_and_a_lower_bound_otherwise():
    a, b = RNG.normal(size=(1000, 1)), RNG.normal(size=(1000, 1)) * 2 + 1
    assert sliced_wasserstein(a, b) == pytest.approx(exact_wasserstein(a, b, 2), rel=1e-9)
    x = RNG.normal(size=(800, 2))
    shift = np.array([3.0, 4.0])
    # Translation: every projection moves by theta . shift, so SW2^2 = E (theta . shift)^2 = |shift|^2 / 2.
    assert sliced_wasserstein(x, x + shift, projections=2000) == pytest.approx(5 / math.sqrt(2), rel=0.03)
    y = RNG.normal(size=(800, 2)) * [1.0, 3.0]
    assert sliced_wasserstein(x, y) <= exact_wasserstein(x, y, 2) + 1e-9
    assert sliced_wasserstein(torch.as_tensor(x), torch.as_tensor(y)) == sliced_wasserstein(x, y)


# -- line -----------------------------------------------------------------------------------------
def test_line_metrics_angle_offset_and_solved():
    d = 10
    origin, direction = RNG.normal(size=d), np.eye(d)[0]
    s = RNG.normal(size=(2000, 1))
    on_line = origin + s * direction
    stats = line_metrics(on_line, origin, direction, origin + RNG.normal(size=(2000, 1)) * direction)
    assert stats["angle"] == pytest.approx(0.0, abs=1e-3) and stats["offset"] < 0.05 and stats["solved"] == 1.0
    tilted = origin + s * (math.cos(math.radians(10)) * np.eye(d)[0] + math.sin(math.radians(10)) * np.eye(d)[1])
    assert line_metrics(tilted, origin, direction, on_line)["angle"] == pytest.approx(10.0, abs=1e-6)
    shifted = on_line + 0.3 * np.eye(d)[4] + 5.0 * direction  # a shift along the line is not an offset
    stats = line_metrics(shifted, origin, direction, on_line)
    assert stats["offset"] == pytest.approx(0.3, abs=1e-9) and stats["solved"] == 0.0
    assert stats["line_w1"] == pytest.approx(5.0, rel=0.01)


# -- divergences and traces -----------------------------------------------------------------------
def test_js_estimate_at_its_closed_forms():
    real = ring_samples(4000, seed=3)
    same = ring_samples(4000, seed=4)
    assert js_divergence(same, real, 0.1) == pytest.approx(0.0, abs=0.01)
    assert js_divergence(real + 10, real, 0.1) == pytest.approx(math.log(2), abs=1e-6)
    # All mass on one of 8 disjoint modes: JS = 1/2 [1/8 log(2/9) + 7/8 log 2] + 1/2 log(16/9) = 0.4970
    collapsed = ring_samples(4000, modes=[0], seed=5)
    closed = 0.5 * (math.log(2 / 9) / 8 + 7 * math.log(2) / 8) + 0.5 * math.log(16 / 9)
    for exact in (None, RING.log_density):
        assert js_divergence(collapsed, real, 0.1, data_log_density=exact) == pytest.approx(closed, abs=0.02)


def test_decrease_fraction_on_a_synthetic_sequence():
    values = [5.0, 4.0, 4.0, 3.0, 6.0, 2.0]  # changes: -1, 0, -1, +3, -4
    assert decrease_fraction(values, tolerance=0.0) == pytest.approx(3 / 5)
    assert decrease_fraction(values, tolerance=1.5) == pytest.approx(1 / 5)
    assert decrease_fraction([math.log(2)] * 10) == 0.0  # a constant divergence never decreases
    assert math.isnan(decrease_fraction([1.0]))
    summary = trace_summary([10, 20, 30, 40, 50, 60], values, 0.0)
    assert summary["first"] == 5.0 and summary["last"] == 2.0 and summary["min"] == 2.0 and summary["points"] == 6


# -- registry and several players -----------------------------------------------------------------
def test_mixture_metrics_on_other_data_are_clear_errors():
    cfg = Config()
    cfg.data.preset = "swissroll"
    data = build.build_data(build.resolve(cfg))
    with pytest.raises(ConfigError, match="metric 'modes' needs a Gaussian mixture with known modes; data preset 'swissroll' is not"):
        check_metrics(["modes"], data, "swissroll")
    with pytest.raises(ConfigError, match="unknown metric 'fid2'"):
        check_metrics(["fid2"], data, "swissroll")
    assert check_metrics([], data, "swissroll") == ["w1", "w2", "sliced_w2", "kde_log_likelihood"]


def test_several_players_report_mean_and_worst_in_the_right_direction():
    combined = combine_players([{"modes": 8, "w2": 0.1}, {"modes": 2, "w2": 0.9}, {"modes": 5, "w2": 0.2}])
    assert combined["modes"] == 5 and combined["modes/worst"] == 2 and combined["modes/players"] == [8, 2, 5]
    assert combined["w2"] == pytest.approx(0.4) and combined["w2/worst"] == 0.9
    assert combine_players([{"modes": 3}]) == {"modes": 3}


def test_a_player_without_a_number_is_not_dropped_from_mean_and_worst():
    combined = combine_players([{"w2": 0.1}, {"w2": float("nan")}])
    assert math.isnan(combined["w2"]) and math.isnan(combined["w2/worst"])
    # A player with no high-quality sample scores the worst reverse KL, and is the worst player.
    collapsed, lost = ring_samples(2500, modes=[1]), RNG.uniform(-0.5, 0.5, size=(2500, 2))
    spread = ring_samples(2500)
    out = evaluate(np.stack([spread, lost, collapsed]), spread, RING, ["modes"], EvalConfig())
    assert out["reverse_kl/players"][1] == pytest.approx(math.log(8)) and out["reverse_kl/worst"] == pytest.approx(math.log(8))
    assert out["hq/worst"] == 0.0 and out["modes/worst"] == 0


def test_evaluate_per_player():
    samples = np.stack([ring_samples(2500, seed=1), ring_samples(2500, modes=[0, 1], seed=2)])
    out = evaluate(samples, ring_samples(2500, seed=3), RING, ["modes", "w2"], EvalConfig())
    assert out["modes/players"] == [8, 2] and out["modes/worst"] == 2
    assert out["w2/players"][0] < out["w2/players"][1] == out["w2/worst"]
