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
    g, d, game = reference.generator, reference.discriminator, reference.game
    make_ref = lambda: step_rate.ReferenceGame(  # noqa: E731
        step_rate.plain_copy(players.generator), step_rate.plain_copy(players.discriminator), game.loss, game.penalty,
        game.penalty_weight, game.disc_steps, game.clip, (g.optimizer, g.lr, g.beta1, g.beta2),
        (d.optimizer, d.lr, d.beta1, d.beta2))
    assert jax_reference.check(cfg, data, players, make_ref) > 1e-4
