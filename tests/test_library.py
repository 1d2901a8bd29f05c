"""Users' own networks as players: the same numbers as the built-in stacked players, in every game,
eagerly and compiled; bit-identical resume; one-line errors for modules that cannot play."""

import pytest
import torch

from gangames import build
from gangames.errors import ConfigError
from gangames.nets.functional import StackedModule
from gangames.nets.stacked import StackedLinear
from gangames.optim import Optimizer
from gangames.training import checkpoint
from gangames.training.trainer import Trainer
from helpers import SGD, double
from test_trainer import assert_same_state

USER = {"generator": {"net": "module:library_nets:generator"},
        "discriminator": {"net": "module:library_nets:Critic"}}

TWO = {"game": {"disc_steps": 2}}  # two critic steps (not 5): the compiled graph traces in seconds
GAMES = {  # game -> settings: every game plays its defenders / auctions within the steps played
    "ns": {},
    "wgan": TWO,
    "wgan-gp": TWO,
    "auction": {"auction": {"players": 4, "period": 2, "lot_size": 16, "aux_steps": 2}},
    "robust-w": {**TWO, "robust": {"warmup": 0, "steps": 2, "gamma": 2.0}},
    "robust-w-feature": {**TWO, "robust": {"warmup": 0, "steps": 2, "gamma": 2.0, "mode": "feature"}},
}


def configs(small_cfg, name):
    game = "robust-w" if name.startswith("robust-w") else name
    extra = {k: dict(v) for k, v in GAMES[name].items()}
    builtin = small_cfg(game, **extra)
    user = small_cfg(game, **extra, generator={**USER["generator"], "hidden": None},
                     discriminator={**USER["discriminator"], "hidden": None, "head": None})
    return builtin, user


def linears(module):
    """The weight and bias of every linear layer, as (out, in) and (out,) per player: (P, out, in)."""
    if isinstance(module, StackedModule):
        params = list(module.stacked)
        return [(params[i], params[i + 1]) for i in range(0, len(params), 2)]
    layers = [m for m in module.modules() if isinstance(m, StackedLinear)]
    return [(layer.weight.transpose(1, 2), layer.bias[:, 0]) for layer in layers]


@torch.no_grad()
def copy_weights(builtin, user):
    for (w, b), (uw, ub) in zip(linears(builtin), linears(user), strict=True):
        uw.copy_(w)
        ub.copy_(b)


def float64_sgd(game):
    players = game.players
    for role in ("generator", "discriminator"):
        module = getattr(players, role).double()
        setattr(players, f"{role}_opt", Optimizer(list(module.parameters()), SGD, players.count))
    if hasattr(game, "aux_optimizer"):
        game.aux_optimizer = Optimizer(list(players.discriminator.parameters()), SGD, players.count)
    return game


def pair(small_cfg, name):
    builtin_cfg, user_cfg = configs(small_cfg, name)
    data = build.build_data(builtin_cfg)
    builtin = float64_sgd(build.build_game_for(builtin_cfg, data))
    user = float64_sgd(build.build_game_for(user_cfg, data))
    assert isinstance(user.players.generator, StackedModule) and isinstance(user.players.discriminator, StackedModule)
    for role in ("generator", "discriminator"):
        copy_weights(getattr(builtin.players, role), getattr(user.players, role))
    return data, builtin, user


def play(game, rounds, compiled):
    if not compiled:
        return [game.steps(r) for r in rounds]
    with torch._dynamo.config.patch(trace_autograd_ops=True):
        # aot_eager: dynamo and AOTAutograd trace the user's vmap(functional_call(...)) players,
        # gradient penalties and optimiser updates into one graph (inductor, the code generator
        # after them, is the built-in players' own path: tests/test_compile.py).
        steps = game.compiled_steps(lambda fn: torch.compile(fn, backend="aot_eager", fullgraph=True))
        return [steps(r) for r in rounds]


SLOW_TO_TRACE = ("wgan", "wgan-gp", "robust-w", "robust-w-feature")  # 30-80 s to trace both games' graphs
CASES = [(name, compiled) for name in sorted(GAMES) for compiled in (False, True)]


@pytest.mark.parametrize("name, compiled", [
    pytest.param(name, compiled, id=f"{name}-{'compiled' if compiled else 'eager'}",
                 marks=[pytest.mark.slow] if compiled and name in SLOW_TO_TRACE else [])
    for name, compiled in CASES])
def test_a_user_module_with_the_built_in_weights_plays_the_same_game(small_cfg, name, compiled):
    torch._dynamo.reset()
    data, builtin, user = pair(small_cfg, name)
    start = [p.detach().clone() for _, p in linears(builtin.players.discriminator)]
    rng = torch.Generator().manual_seed(0)
    rounds = [[double(builtin.draw(data, 32, rng, step))] for step in range(1, 5)]
    auctions = sum("auction" in r[0] for r in rounds)
    assert auctions == (2 if name == "auction" else 0)
    ours, theirs = play(user, rounds, compiled), play(builtin, rounds, compiled)
    for a, b in zip(ours, theirs):
        assert torch.allclose(a[0]["d_loss"], b[0]["d_loss"], rtol=1e-10, atol=1e-12)
        if "transport" in b[0]:
            assert float(b[0]["transport"].min()) > 1e-3  # the defenders moved
            assert torch.allclose(a[0]["transport"], b[0]["transport"], rtol=1e-10, atol=1e-12)
    for role in ("generator", "discriminator"):
        for (w, b), (uw, ub) in zip(linears(getattr(builtin.players, role)), linears(getattr(user.players, role))):
            assert torch.allclose(uw, w, rtol=1e-10, atol=1e-12), role
            assert torch.allclose(ub, b, rtol=1e-10, atol=1e-12), role
    moved = max((b - s).abs().max() for (_, b), s in zip(linears(builtin.players.discriminator), start))
    assert moved > 1e-4  # four steps moved the players far beyond the tolerance


def test_players_of_a_user_module_are_initialised_from_their_own_seeds(small_cfg):
    _, user_cfg = configs(small_cfg, "ns")
    data = build.build_data(user_cfg)
    four = build.build_players(user_cfg, data, [11, 12, 13, 14])
    one = build.build_players(user_cfg, data, [13])
    for a, b in zip(four.generator.stacked, one.generator.stacked):
        assert torch.equal(a[2], b[0])
    first = four.discriminator.stacked[0]
    assert not torch.equal(first[0], first[1])


def test_a_user_module_run_resumes_bit_identically(tmp_path, small_cfg):
    _, cfg = configs(small_cfg, "wgan-gp")
    cfg.run.steps, cfg.run.checkpoint_every, cfg.run.keep_checkpoints, cfg.run.log_every = 20, 10, 5, 5
    Trainer(cfg, tmp_path / "straight").run()
    cfg.run.steps = 10
    Trainer(cfg, tmp_path / "resumed").run()
    Trainer.resume(tmp_path / "resumed", steps=20).run()
    a = checkpoint.load_latest(tmp_path / "straight" / "checkpoints")
    b = checkpoint.load_latest(tmp_path / "resumed" / "checkpoints")
    assert_same_state(a, b)
    assert a["step"] == 20 and "module:library_nets:Critic" in (tmp_path / "straight" / "config.toml").read_text()


@pytest.mark.parametrize("role, net, message", [
    ("discriminator", "module:library_nets:batch_norm_critic",
     "discriminator batch_norm_critic has batch norm \\(1\\): gradient penalties"),
    ("discriminator", "module:library_nets:wide_output_critic", "must be one number per sample, shape \\(B,\\) or \\(B, 1\\); got \\(2, 3\\)"),
    ("generator", "module:library_nets:three_d_generator", "returned shape \\(3,\\) per sample .* have shape \\(2,\\)"),
    ("generator", "module:library_nets:broken", "generator factory broken failed: RuntimeError: no weights file"),
    ("generator", "module:library_nets:not_a_module", "returned Tensor, not an nn.Module"),
    ("generator", "module:library_nets:missing", "library_nets has no missing"),
    ("generator", "module:no_such_module:f", "cannot import no_such_module"),
])
def test_modules_that_cannot_play_are_one_line_errors(small_cfg, role, net, message):
    with pytest.raises(ConfigError, match=message) as err:
        cfg = small_cfg("wgan-gp", **{role: {"net": net, "hidden": None, "head": None}})
        build.build_game_for(cfg, build.build_data(cfg))
    assert "\n" not in str(err.value)


def test_feature_mode_needs_the_critic_protocol(small_cfg):
    cfg = small_cfg("robust-w", robust={"mode": "feature"},
                    discriminator={"net": "module:library_nets:plain_critic", "hidden": None, "head": None})
    with pytest.raises(ConfigError, match="needs methods features\\(x\\) and score_features\\(h\\)"):
        build.build_game_for(cfg, build.build_data(cfg))
    cfg = small_cfg("robust-w", discriminator={"net": "module:library_nets:plain_critic", "hidden": None, "head": None})
    assert build.build_game_for(cfg, build.build_data(cfg)).players.discriminator.critic_protocol is False
