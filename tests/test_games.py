"""The game step against the plainly written reference, and P stacked players against P separate ones."""

import pytest
import torch

from gangames import build
from gangames.games.registry import GAMES
from helpers import SGD, double, in_float64_with_sgd
from gangames.reference import ReferenceGame, plain_copy


def make_game(cfg, seeds):
    data = build.build_data(cfg)
    return data, build.build_game(cfg, build.build_players(cfg, data, seeds), data)


ONE_PAIR = sorted(name for name, entry in GAMES.items() if not entry.pairs_of_players)


@pytest.mark.parametrize("name", ONE_PAIR)
def test_game_step_equals_the_plain_reference_step(name, small_cfg):
    cfg = small_cfg(name)
    data, game = make_game(cfg, [7])
    players = in_float64_with_sgd(game).players
    sgd = ("sgd", SGD.lr, 0.0, 0.0)
    ref = ReferenceGame(
        plain_copy(players.generator), plain_copy(players.discriminator), cfg.game.loss, cfg.game.penalty,
        cfg.game.penalty_weight, cfg.game.disc_steps, cfg.game.clip, sgd, sgd, cfg.game.dragan_scale)
    before = plain_copy(players.generator)[0].weight.clone()
    rng = torch.Generator().manual_seed(3)
    for _ in range(3):
        inputs = double(game.draw(data, cfg.data.batch_size, rng))
        logs = game.step(inputs)
        noise = {k: v[:, 0] for k, v in inputs["noise"].items()}
        real_gen = inputs["real_gen"][0] if "real_gen" in inputs else None
        d_loss, g_loss = ref.step(inputs["real"][:, 0], inputs["z_disc"][:, 0], inputs["z_gen"][0], noise, real_gen)
        assert logs["d_loss"][0].item() == pytest.approx(d_loss.item(), rel=1e-10, abs=1e-12)
        assert logs["g_loss"][0].item() == pytest.approx(g_loss.item(), rel=1e-10, abs=1e-12)
    for ours, theirs in ((players.generator, ref.G), (players.discriminator, ref.D)):
        for a, b in zip(plain_copy(ours).parameters(), theirs.parameters()):
            assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)
    # And the step did move the players (a no-op step would also "match" an unchanged copy).
    assert (plain_copy(players.generator)[0].weight - before).abs().max() > 1e-9  # WGAN moves ~1e-8


@pytest.mark.parametrize("name", ["ns", "wgan", "wgan-gp", "dragan-ns"])
def test_stacked_players_equal_separate_players(name, small_cfg):
    cfg = small_cfg(name)
    seeds = [11, 12, 13]
    # float64 and SGD (see in_float64_with_sgd): under a Wasserstein loss the critic's last bias has a
    # gradient of 1 - 1, exactly 0 in one implementation and 1e-9 in the other, which Adam turns into +-lr.
    data, stacked = make_game(cfg, seeds)
    stacked = in_float64_with_sgd(stacked)
    singles = [in_float64_with_sgd(make_game(cfg, [s])[1]) for s in seeds]
    before = {role: [p.detach().clone() for p in getattr(stacked.players, role).parameters()] for role in ("generator", "discriminator")}
    rng = torch.Generator().manual_seed(0)
    for _ in range(2):
        inputs = double(stacked.draw(data, cfg.data.batch_size, rng))
        stacked.step(inputs)
        for p, single in enumerate(singles):
            sliced = {
                "real": inputs["real"][:, p : p + 1],
                "z_disc": inputs["z_disc"][:, p : p + 1],
                "z_gen": inputs["z_gen"][p : p + 1],
                "noise": {k: v[:, p : p + 1] for k, v in inputs["noise"].items()},
            }
            single.step(sliced)
    for p, single in enumerate(singles):
        for role in ("generator", "discriminator"):
            ours = dict(getattr(stacked.players, role).named_parameters())
            for key, theirs in getattr(single.players, role).named_parameters():
                assert torch.allclose(ours[key][p], theirs[0], rtol=1e-10, atol=1e-12), (role, key, p)
    for role, start in before.items():  # both sides still as drawn would also "match"
        moved = max((a - b).abs().max().item() for a, b in zip(getattr(stacked.players, role).parameters(), start))
        assert moved > 1e-9, role  # WGAN's clipped critic moves its generator ~1e-7


def test_player_p_of_a_stack_is_the_single_player_of_its_seed(small_cfg):
    cfg = small_cfg("ns")
    _, stacked = make_game(cfg, [5, 6, 7])
    _, single = make_game(cfg, [6])
    for (k, a), (_, b) in zip(stacked.players.generator.named_parameters(), single.players.generator.named_parameters()):
        assert torch.equal(a[1], b[0]), k
    assert not torch.equal(stacked.players.generator[0].weight[0], stacked.players.generator[0].weight[1])


def test_wgan_clips_every_critic_weight(small_cfg):
    cfg = small_cfg("wgan")
    data, game = make_game(cfg, [1])
    with torch.no_grad():
        for p in game.players.discriminator.parameters():
            p.mul_(100)
    game.step(game.draw(data, 32, torch.Generator().manual_seed(0)))
    for p in game.players.discriminator.parameters():
        assert p.abs().max() <= 0.01 + 1e-9
    assert max(float(p.detach().abs().max()) for p in game.players.discriminator.parameters()) == pytest.approx(0.01)
