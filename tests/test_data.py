"""Synthetic presets: exact centres and parameters, sample moments, density against SciPy."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.stats import multivariate_normal

from gangames import build
from gangames.config import Config, apply_overrides
from gangames.errors import ConfigError, DataError
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


# -- users' vectors -------------------------------------------------------------------------------
def write_csv(path, rows, header="a,b,c"):
    path.write_text((header + "\n" if header else "") + "\n".join(",".join(f"{v:.6f}" for v in row) for row in rows) + "\n")


def test_a_user_csv_of_vectors_trains_and_evaluates_in_its_own_units(tmp_path):
    """data.standardize: the players learn standardised data; samples, snapshots and metrics are in
    the file's units (an untrained generator's samples sit at the data's mean, not at 0)."""
    import json

    from typer.testing import CliRunner

    from gangames.cli import app

    rng = np.random.default_rng(0)
    points = rng.normal(size=(400, 3)) * [1.0, 5.0, 0.1] + [0.0, 10.0, -2.0]
    write_csv(tmp_path / "points.csv", points)
    run = tmp_path / "run"
    cli = CliRunner()
    result = cli.invoke(app, ["train", "--data", str(tmp_path / "points.csv"), "--steps", "20", "--out", str(run),
                              "--no-progress", "--set", "data.standardize=true", "--set", "generator.hidden=[16]",
                              "--set", "discriminator.hidden=[16]", "--set", "data.batch_size=32"])
    assert result.exit_code == 0, result.output
    info = json.loads((run / "run.json").read_text())["data_info"]
    assert info["kind"] == "vectors" and info["sample_shape"] == [3]
    assert np.allclose(info["standardized"]["shift"], points.mean(0)) and np.allclose(info["standardized"]["scale"], points.std(0))
    result = cli.invoke(app, ["evaluate", str(run), "--num", "300", "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)["metrics"]
    assert set(metrics) == {"w1", "w2", "sliced_w2", "kde_log_likelihood"}
    assert cli.invoke(app, ["sample", str(run), "--num", "500", "--output", str(tmp_path / "s.npy")]).exit_code == 0
    samples = np.load(tmp_path / "s.npy")
    assert samples.shape == (500, 3)
    assert abs(samples[:, 1].mean() - 10.0) < 3.0 and abs(samples[:, 2].mean() + 2.0) < 0.5  # in the file's units
    assert np.load(run / "reference.npy")[:, 1].mean() == pytest.approx(10.0, abs=1.0)
    result = cli.invoke(app, ["evaluate", str(run), "--metrics", "modes"])
    assert result.exit_code == 2 and "metric 'modes' needs a Gaussian mixture with known modes" in result.output


@pytest.mark.parametrize("content, message", [
    ("a,b\n1,2\n3\n", "row 2 has 1 columns, the first has 2"),
    ("a,b\n1,2\n3,x\n", "row 2, column 2 is not a number"),
    ("a,b\n", "holds no rows of numbers"),
    ("1,2\n3,nan\n", "row 2, column 2 is not a number"),
])
def test_malformed_csv_files_are_one_line_errors(tmp_path, content, message):
    from gangames.data.vectors import read_csv

    (tmp_path / "bad.csv").write_text(content)
    with pytest.raises(DataError, match=message):
        read_csv(tmp_path / "bad.csv")


def test_vectors_from_an_npy_file_and_standardize_only_for_vectors(tmp_path):
    rng = np.random.default_rng(1)
    np.save(tmp_path / "v.npy", rng.normal(size=(50, 4)))
    cfg = build.resolve(apply_overrides(Config(), ["data.preset=array", f"data.path={tmp_path / 'v.npy'}"]))
    assert cfg.generator.net == "mlp" and cfg.discriminator.net == "mlp"  # vectors: the MLP players
    data = build.build_data(cfg)
    assert data.kind == "vectors" and data.dim == 4 and data.sample(7, torch.Generator()).shape == (7, 4)
    with pytest.raises(ConfigError, match="data.standardize applies to the vectors of your files"):
        build.resolve(apply_overrides(Config(), ["data.standardize=true"]))
