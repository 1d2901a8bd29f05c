"""From a config to live objects: resolve defaults, then build the data, the players and the game.

``resolve`` is the one place where a game's or preset's defaults fill the config, and where every
name is checked, so a wrong key or value fails before any training starts.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from gangames.config import Config, PlayerConfig
from gangames.data.presets import PRESETS
from gangames.errors import ConfigError, pick
from gangames.games.losses import LOSSES
from gangames.games.penalties import DRAGAN_FORMS, PENALTIES, DraganPenalty, InterpolatePenalty
from gangames.games.auction import AuctionGame, AuctionRules
from gangames.games.registry import GAMES, N_PLAYER_GAMES
from gangames.games.robust import COSTS as ROBUST_COSTS
from gangames.games.robust import MODES as ROBUST_MODES
from gangames.games.robust import DefenderRules, RobustGame
from gangames.games.two_player import Players, TwoPlayerGame
from gangames.metrics.registry import METRICS
from gangames.nets.conv import conv_critic, conv_generator
from gangames.nets.stacked import ACTIVATIONS, StackedLine, init_players, mlp, mlp_critic
from gangames.optim import OPTIMIZERS, Optimizer, OptimizerSettings

COMPILE_FROM_STEPS = 5000
# Rounds per compiled call for games of one critic step: each call costs ~80 us of guards and
# wrappers; four rounds per call take ~60 us off each step (benchmarks/README.md, overhead).
STEPS_PER_CALL = 4
GENERATOR_NETS = ("mlp", "line", "dcgan")
DISCRIMINATOR_NETS = ("mlp", "dcgan")
DEFAULT_WIDTHS = {"mlp": [128, 128, 128], "dcgan": [32, 64], "line": []}
# The MLP critic's trunk: with its head of one 128 layer, papers.md §4(c)'s 3 x 128 critic.
DEFAULT_CRITIC_WIDTHS = {**DEFAULT_WIDTHS, "mlp": [128, 128]}

# Keys of independent random streams: a run's players are derive_seed(seed, PLAYERS, p); a player's
# networks are derive_seed(player_seed, GENERATOR_INIT) and derive_seed(player_seed, DISCRIMINATOR_INIT).
PLAYERS, GENERATOR_INIT, DISCRIMINATOR_INIT = 1, 1, 2
# The auction's lots and alignment batches come from their own stream (key 5 of the run's seed): the
# independent stage of an auction run then consumes exactly the classical run's data and latents.
AUCTION_STREAM = 5


def derive_seed(*keys: int) -> int:
    """A 64-bit seed derived from integer keys (NumPy's SeedSequence: well mixed, stable across versions)."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1, dtype=np.uint64)[0])


def _positive(value: int, key: str, minimum: int = 1) -> None:
    if value < minimum:
        raise ConfigError(f"{key} must be >= {minimum}, got {value}")


def _resolve_player(player: PlayerConfig, role: str, spec_optimizer: OptimizerSettings,
                    default_activation: str, nets: tuple[str, ...], widths: dict[str, list[int]]) -> None:
    pick(f"{role}.net", player.net, nets)
    player.hidden = list(widths[player.net]) if player.hidden is None else player.hidden
    player.activation = player.activation or default_activation
    pick(f"{role}.activation", player.activation, ACTIVATIONS)
    player.optimizer = player.optimizer or spec_optimizer.name
    pick(f"{role}.optimizer", player.optimizer, OPTIMIZERS)
    same_rule = player.optimizer == spec_optimizer.name
    default = spec_optimizer if same_rule else OptimizerSettings(player.optimizer)
    player.lr = default.lr if player.lr is None else player.lr
    player.beta1 = default.beta1 if player.beta1 is None else player.beta1
    player.beta2 = default.beta2 if player.beta2 is None else player.beta2
    if player.lr <= 0:
        raise ConfigError(f"{role}.lr must be > 0, got {player.lr}")
    for width in player.hidden:
        _positive(width, f"{role}.hidden")


def resolve(config: Config) -> Config:
    """A complete copy of ``config``: defaults filled from the game and the preset, every name checked."""
    cfg = copy.deepcopy(config)
    run, data, game = cfg.run, cfg.data, cfg.game

    for key in ("steps", "log_every", "snapshot_every", "snapshot_size", "checkpoint_every", "keep_checkpoints"):
        _positive(getattr(run, key), f"run.{key}")
    _positive(run.threads, "run.threads", 0)
    if run.compile is None:  # compiling costs 20-155 s the first time, 1-10 s cached: for long runs only
        run.compile = run.steps >= COMPILE_FROM_STEPS
    _positive(cfg.eval.every, "eval.every", 0)
    _positive(cfg.eval.samples, "eval.samples", 2)
    _positive(cfg.eval.mode_samples, "eval.mode_samples")
    _positive(cfg.eval.projections, "eval.projections")
    _positive(cfg.eval.exact_max, "eval.exact_max", 2)
    if cfg.eval.js_bandwidth <= 0:
        raise ConfigError(f"eval.js_bandwidth must be > 0, got {cfg.eval.js_bandwidth}")
    for name in cfg.eval.metrics:
        pick("metric", name, METRICS)

    preset = pick("data preset", data.preset, PRESETS)
    _positive(data.batch_size, "data.batch_size")
    for key in ("sigma", "radius"):
        if key in preset.defaults:
            if getattr(data, key) is None:
                setattr(data, key, preset.defaults[key])
            if getattr(data, key) < 0:
                raise ConfigError(f"data.{key} must be >= 0, got {getattr(data, key)}")
        elif getattr(data, key) is not None:
            raise ConfigError(f"data.{key} does not apply to preset {data.preset!r}")
    if data.preset == "line-d":
        _positive(data.dim, "data.dim", 2)

    pick("game", game.name, {**GAMES, **N_PLAYER_GAMES})
    if game.name in N_PLAYER_GAMES:
        _resolve_auction(cfg)
        spec = GAMES[cfg.auction.player_game]
    else:
        spec = GAMES[game.name]
    game.loss = game.loss or spec.loss
    pick("loss", game.loss, LOSSES)
    game.penalty = game.penalty or spec.penalty
    pick("penalty", game.penalty, PENALTIES)
    game.penalty_weight = spec.penalty_weight if game.penalty_weight is None else game.penalty_weight
    pick("dragan_form", game.dragan_form, DRAGAN_FORMS)
    game.dragan_scale = DRAGAN_FORMS[game.dragan_form] if game.dragan_scale is None else game.dragan_scale
    game.disc_steps = spec.disc_steps if game.disc_steps is None else game.disc_steps
    _positive(game.disc_steps, "game.disc_steps")
    game.clip = spec.clip if game.clip is None else game.clip
    if run.steps_per_call is None:
        run.steps_per_call = STEPS_PER_CALL if game.disc_steps == 1 else 1
    _positive(run.steps_per_call, "run.steps_per_call")
    gen, disc = cfg.generator, cfg.discriminator
    images = preset.kind == "images"
    gen.net = gen.net or ("dcgan" if images else "line" if data.preset == "line-d" else "mlp")
    disc.net = disc.net or ("dcgan" if images else "mlp")
    for role, player in (("generator", gen), ("discriminator", disc)):
        if (player.net == "dcgan") != images:
            need = "image data" if player.net == "dcgan" else "vector data (use dcgan for images)"
            raise ConfigError(f"{role}.net={player.net!r} needs {need}; data preset {data.preset!r} is not")
    pick("discriminator.norm", disc.norm, ("none", "layer"))
    pick("data.split", data.split, ("train", "test"))
    if data.channels not in (None, 1, 3):
        raise ConfigError(f"data.channels must be 1 or 3, got {data.channels}")
    if data.image_size is not None:
        _positive(data.image_size, "data.image_size", 4)
    _resolve_player(gen, "generator", spec.optimizer, "relu", GENERATOR_NETS, DEFAULT_WIDTHS)
    _resolve_player(disc, "discriminator", spec.optimizer, "leaky_relu", DISCRIMINATOR_NETS, DEFAULT_CRITIC_WIDTHS)
    if disc.head is None:  # one layer as wide as the trunk's output
        disc.head = [disc.features] if disc.net == "dcgan" else disc.hidden[-1:]
    for width in disc.head:
        _positive(width, "discriminator.head")
    if gen.latent_dim is None:
        gen.latent_dim = {"line": 1, "dcgan": 64}.get(gen.net, 2)
    _positive(gen.latent_dim, "generator.latent_dim")
    if gen.net == "line" and gen.latent_dim != 1:
        raise ConfigError(f"the affine line generator takes a 1-D latent; got generator.latent_dim={gen.latent_dim}")
    if game.name == "robust-w":
        _resolve_robust(cfg)
    if game.name in N_PLAYER_GAMES:
        auction = cfg.auction
        score = LOSSES[game.loss].score
        auction.bid_space = auction.bid_space or score
        pick("auction.bid_space", auction.bid_space, BID_SPACES)
        auction.bid_mode = auction.bid_mode or ("raw" if auction.bid_space == "probability" else "centered")
        pick("auction.bid_mode", auction.bid_mode, ("raw", "centered"))
    return cfg


BID_SPACES = ("probability", "logit", "critic")


def _resolve_robust(cfg: Config) -> None:
    robust = cfg.robust
    pick("robust.mode", robust.mode, ROBUST_MODES)
    pick("robust.cost", robust.cost, ROBUST_COSTS)
    if robust.gamma <= 0:
        raise ConfigError(f"robust.gamma must be > 0, got {robust.gamma}")
    robust.step_size = 1 / (4 * robust.gamma) if robust.step_size is None else robust.step_size
    _positive(robust.steps, "robust.steps", 0)
    _positive(robust.warmup, "robust.warmup", 0)
    if not 0 < robust.hard_fraction <= 1:
        raise ConfigError(f"robust.hard_fraction must be in (0, 1], got {robust.hard_fraction}")
    if robust.mode == "feature" and not cfg.discriminator.head:
        raise ConfigError("robust.mode=feature needs a non-linear critic head: with discriminator.head = [] every "
                          "sample's features move by the same vector; set discriminator.head (e.g. [128])")


def _resolve_auction(cfg: Config) -> None:
    auction = cfg.auction
    pick("auction.player_game", auction.player_game, GAMES)
    if cfg.game.name == "independent":
        auction.enabled = False
    _positive(auction.players, "auction.players", 2)
    _positive(auction.period, "auction.period")
    _positive(auction.lot_size, "auction.lot_size")
    _positive(auction.aux_steps, "auction.aux_steps", 0)
    pick("auction.aux_loss", auction.aux_loss, ("mse", "bce_soft"))
    pick("auction.score_rule", auction.score_rule, ("mean", "sum", "median"))
    pick("auction.best_rule", auction.best_rule, ("partner", "lowest_bids_given"))


def player_count(cfg: Config) -> int:
    return cfg.auction.players if cfg.game.name in N_PLAYER_GAMES else 1


# --------------------------------------------------------------------------------------------
# Construction (expects a resolved config)


def build_data(cfg: Config):
    return PRESETS[cfg.data.preset].build(cfg.data)


def optimizer_settings(player: PlayerConfig) -> OptimizerSettings:
    return OptimizerSettings(player.optimizer, player.lr, player.beta1, player.beta2, player.eps)


def build_players(cfg: Config, data, seeds: list[int], device: str | torch.device = "cpu") -> Players:
    """P = len(seeds) generator/discriminator pairs; pair p is initialised from ``seeds[p]`` alone."""
    count, gen, disc = len(seeds), cfg.generator, cfg.discriminator
    if gen.net == "dcgan":
        generator = conv_generator(count, gen.latent_dim, data.shape, gen.hidden, gen.activation, gen.batch_norm)
    elif gen.net == "line":
        generator = StackedLine(count, data.dim)
    else:
        generator = mlp(count, gen.latent_dim, gen.hidden, data.dim, gen.activation)
    if disc.net == "dcgan":
        discriminator = conv_critic(count, data.shape, disc.hidden, disc.activation, disc.features, disc.norm, disc.head)
    else:
        discriminator = mlp_critic(count, data.dim, disc.hidden, disc.activation, disc.head)
    init_players(generator, [derive_seed(s, GENERATOR_INIT) for s in seeds])
    if gen.net == "line" and cfg.data.line_start > 0:
        for p, seed in enumerate(seeds):
            rng = torch.Generator().manual_seed(derive_seed(seed, GENERATOR_INIT, 1))
            generator.start_parallel(p, data.origin, data.direction, cfg.data.line_start, rng)
    init_players(discriminator, [derive_seed(s, DISCRIMINATOR_INIT) for s in seeds])
    generator.to(device)
    discriminator.to(device)
    return Players(
        generator,
        discriminator,
        Optimizer(list(generator.parameters()), optimizer_settings(gen), count),
        Optimizer(list(discriminator.parameters()), optimizer_settings(disc), count),
        gen.latent_dim,
    )


def build_penalty(cfg: Config):
    game = cfg.game
    if game.penalty == "interpolate":
        return InterpolatePenalty(game.penalty_target, game.penalty_guard)
    if game.penalty == "dragan":
        bounds = (-1.0, 1.0) if PRESETS[cfg.data.preset].kind == "images" else None
        return DraganPenalty(game.dragan_form, game.dragan_scale, game.penalty_target, game.penalty_guard, bounds)
    return None


def build_game(cfg: Config, players: Players):
    game = cfg.game
    two_player = TwoPlayerGame(players, LOSSES[game.loss], build_penalty(cfg), game.penalty_weight,
                               game.disc_steps, game.clip)
    if game.name == "robust-w":
        r = cfg.robust
        return RobustGame(two_player, DefenderRules(r.gamma, r.steps, r.step_size, r.radius, r.mode, r.cost,
                                                    r.warmup, r.hard_fraction, r.feature_penalty_weight))
    if game.name not in N_PLAYER_GAMES:
        return two_player
    a = cfg.auction
    rules = AuctionRules(a.period, a.lot_size, a.aux_steps, a.aux_weight, a.aux_loss, a.aux_plus_gan,
                         a.aux_update_generators, a.bid_space, a.bid_mode, a.score_rule, a.best_rule, a.enabled)
    aux = Optimizer(list(players.discriminator.parameters()), optimizer_settings(cfg.discriminator), players.count)
    return AuctionGame(two_player, rules, aux, derive_seed(cfg.run.seed, AUCTION_STREAM))


def player_seeds(seed: int, count: int) -> list[int]:
    """The seeds of a run's players: pair p of run ``seed`` is the same in every game and run size."""
    return [derive_seed(seed, PLAYERS, p) for p in range(count)]


def build_game_for(cfg: Config, data, device: str | torch.device = "cpu"):
    """The game of a resolved config, its players initialised from the run's seed."""
    players = build_players(cfg, data, player_seeds(cfg.run.seed, player_count(cfg)), device)
    return build_game(cfg, players)
