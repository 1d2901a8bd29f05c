"""The benchmark's JAX peer computes the same step as the torch reference (skipped without JAX,
the optional ``bench`` extra), so that a ratio to it compares like with like."""

import sys
from pathlib import Path

import pytest

pytest.importorskip("jax")
pytest.importorskip("optax")

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import step_rate  # noqa: E402


@pytest.mark.parametrize("game", ["ns", "minimax", "gan-gp", "wgan-gp"])
def test_the_jax_step_matches_the_reference_step(game):
    cfg = step_rate.resolved(game, 64)
    assert step_rate.jax_peer(cfg) is not None  # built only after its check against the reference passed


def test_the_check_fails_for_a_step_that_computes_something_else(monkeypatch):
    import jax_reference

    cfg = step_rate.resolved("ns", 64)
    cfg.generator.lr *= 2  # the JAX step learns at twice the reference's rate
    data = step_rate.build.build_data(cfg)
    players = step_rate.build.build_players(cfg, data, [0], "cpu")
    reference = step_rate.resolved("ns", 64)
    assert jax_reference.check(cfg, data, players, lambda: step_rate.reference_game(reference, players)) > 1e-4
