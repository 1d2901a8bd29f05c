"""From a config to live objects: resolve defaults, then build the data, the players and the game.

``resolve`` is the one place where defaults fill the config (the game's, through its registry
entry; the data preset's; the nets'), and where every name is checked, so a wrong key or value
fails before any training starts. Nothing here knows a particular game, net or data set: each
registry entry says what it needs.
"""

from __future__ import annotations

import copy

import torch

from gangames import defaults as tuned_defaults
from gangames.config import Config, PlayerConfig, played_sections
from gangames.data.augment import parse as parse_augment
from gangames.data.presets import PRESETS
from gangames.errors import ConfigError, at_least, pick
from gangames.games.registry import GAMES
from gangames.games.two_player import Players
from gangames.metrics.registry import METRICS
from gangames.nets.ema import ParameterEMA
from gangames.nets.registry import ROLES, build_players_of, choices, classes_of
from gangames.nets.stacked import ACTIVATIONS
from gangames.optim import OPTIMIZERS, Optimizer, OptimizerSettings, settings_of
from gangames.plugins import is_reference, load_plugins, module_of_reference, origins
from gangames.plugins import resolve as resolve_reference
from gangames.training.compiled import compiled_before
from gangames.seeds import derive_seed, player_seeds  # noqa: F401  (re-exported: build.derive_seed)

# run.compile unset: compile a run of this many steps when its structure compiled before on this
# machine (1-10 s from the cache), and from COLD_COMPILE_FROM_STEPS when it would compile cold. NS on
# 2-D repays slowest: one round per call compiles in 20-41 s by host and saves >= 0.9 ms a step on the
# fastest host measured, so the slowest compile is repaid after ~45 000 steps (docs/speed.md).
COMPILE_FROM_STEPS = 5000
COLD_COMPILE_FROM_STEPS = 50_000
# run.compile unset: a run that compiles plays its first steps eagerly, so that even the load of a
# cached graph (1-10 s) comes after steps that ran at least as fast as without compiling.
EAGER_FIRST_STEPS = 1000
# run.compile_unit = auto: one graph per player update where a game makes several critic updates a
# round and the run is shorter than this. On 2-D (2 cores) the update unit saved 11-50 s of cold
# compile (tuned defaults: WGAN 39.8 -> 22.0 s, WGAN-GP 49.3 -> 25.1, robust-w 77.0 -> 30.3) for
# 1.0-2.8 ms more per step: the round graph repays its longer compile from 6 400 (WGAN, tuned),
# 10 600 (WGAN, papers'), 13 800-17 800 (WGAN-GP) and 22 800-25 300 (robust-w) steps (docs/speed.md).
UPDATE_UNIT_BELOW_STEPS = 6000
COMPILE_UNITS = ("auto", "round", "update")
USER_LATENT = {"vectors": 2, "images": 64}  # a user generator's default latent size, by data kind
DEFAULT_ACTIVATION = {"generator": "relu", "discriminator": "leaky_relu"}
DEFAULT_NET = {"vectors": "mlp", "images": "dcgan"}


def _resolve_player(player: PlayerConfig, role: str, defaults: OptimizerSettings, kind: str, preset) -> None:
    player.net = player.net or preset.nets.get(role) or DEFAULT_NET[kind]
    if is_reference(player.net):
        resolve_reference(player.net)  # a user's factory: importable (or given in this process)
        if role == "generator" and player.latent_dim is None:
            player.latent_dim = USER_LATENT[kind]
    else:
        net = pick(f"{role}.net", player.net, choices(role))
        if kind not in net.kinds:
            raise ConfigError(f"{role}.net={player.net!r} plays on {' or '.join(net.kinds)} data; data preset "
                              f"{preset_name(preset)!r} is {kind}")
        player.hidden = list(net.widths[role]) if player.hidden is None else player.hidden
        for width in player.hidden:
            at_least(width, f"{role}.hidden")
        player.activation = player.activation or DEFAULT_ACTIVATION[role]
        pick(f"{role}.activation", player.activation, ACTIVATIONS)
        if role == "generator":
            latent = player.latent_dim
            player.latent_dim = net.latent_dim if latent is None else latent
            if net.fixed_latent and player.latent_dim != net.latent_dim:
                raise ConfigError(f"generator.net={player.net!r} takes a latent of size {net.latent_dim}; "
                                  f"got generator.latent_dim={player.latent_dim}")
    player.optimizer = player.optimizer or defaults.name
    pick(f"{role}.optimizer", player.optimizer, OPTIMIZERS)
    default = defaults if player.optimizer == defaults.name else OptimizerSettings(player.optimizer)
    player.lr = default.lr if player.lr is None else player.lr
    player.beta1 = default.beta1 if player.beta1 is None else player.beta1
    player.beta2 = default.beta2 if player.beta2 is None else player.beta2
    if player.lr <= 0:
        raise ConfigError(f"{role}.lr must be > 0, got {player.lr}")


def preset_name(preset) -> str:
    return next(name for name, p in PRESETS.items() if p is preset)


def resolve(config: Config) -> Config:
    """A complete copy of ``config``: defaults filled from the game, the preset and the nets, every name checked."""
    cfg = copy.deepcopy(config)
    run, data, game = cfg.run, cfg.data, cfg.game
    load_plugins(run.plugins)

    for key in ("steps", "log_every", "snapshot_every", "snapshot_size", "checkpoint_every", "keep_checkpoints"):
        at_least(getattr(run, key), f"run.{key}")
    at_least(run.threads, "run.threads", 0)
    ev = cfg.eval
    at_least(ev.every, "eval.every", 0)
    at_least(ev.samples, "eval.samples", 2)
    at_least(ev.mode_samples, "eval.mode_samples")
    at_least(ev.projections, "eval.projections")
    at_least(ev.exact_max, "eval.exact_max", 2)
    if ev.js_bandwidth <= 0:
        raise ConfigError(f"eval.js_bandwidth must be > 0, got {ev.js_bandwidth}")
    for name in ev.metrics:
        pick("metric", name, METRICS)

    preset = pick("data preset", data.preset, PRESETS)
    at_least(data.batch_size, "data.batch_size")
    for key in ("sigma", "radius"):
        if key in preset.defaults:
            if getattr(data, key) is None:
                setattr(data, key, preset.defaults[key])
            if getattr(data, key) < 0:
                raise ConfigError(f"data.{key} must be >= 0, got {getattr(data, key)}")
        elif getattr(data, key) is not None:
            raise ConfigError(f"data.{key} does not apply to preset {data.preset!r}")
    if data.standardize and not preset.standardizes:
        raise ConfigError(f"data.standardize applies to the vectors of your files (array, csv); not to {data.preset!r}")
    at_least(data.dim, "data.dim", 2)
    pick("data.split", data.split, ("train", "test"))
    if data.channels not in (None, 1, 3):
        raise ConfigError(f"data.channels must be 1 or 3, got {data.channels}")
    if data.image_size is not None:
        at_least(data.image_size, "data.image_size", 4)
    kind = preset.kind_of(data)
    if parse_augment(data.augment) and kind != "images":
        raise ConfigError(f"data.augment (DiffAugment) transforms images; data preset {data.preset!r} is {kind}")

    entry = pick("game", game.name, GAMES)
    tuned_defaults.fill(cfg, preset.profile)
    defaults = entry.optimizer(cfg)
    for role in ROLES:
        _resolve_player(getattr(cfg, role), role, defaults, kind, preset)
    disc = cfg.discriminator
    pick("discriminator.norm", disc.norm, ("none", "layer"))
    if disc.head is None and not is_reference(disc.net):  # one layer as wide as the trunk's output
        disc.head = [disc.features] if kind == "images" else disc.hidden[-1:]
    for width in disc.head or []:
        at_least(width, "discriminator.head")
    at_least(cfg.generator.latent_dim, "generator.latent_dim")
    gen = cfg.generator
    gen.ema, gen.ema_rampup = gen.ema or 0.0, bool(gen.ema_rampup)
    if not 0 <= cfg.generator.ema < 1:
        raise ConfigError(f"generator.ema is a decay in [0, 1) (0: off), got {cfg.generator.ema}")

    entry.resolve(cfg)
    at_least(run.steps_per_call, "run.steps_per_call")
    run.plugins = list(dict.fromkeys([*run.plugins, *used_plugins(cfg)]))
    if run.compile_after is None:
        run.compile_after = EAGER_FIRST_STEPS if run.compile is None else 0
    at_least(run.compile_after, "run.compile_after", 0)
    pick("run.compile_unit", run.compile_unit, COMPILE_UNITS)
    if run.compile_unit == "auto":  # before the structure key below, which holds it
        several = (cfg.game.disc_steps or 1) > 1
        run.compile_unit = "update" if several and run.steps < UPDATE_UNIT_BELOW_STEPS else "round"
    if run.compile is None:  # only where it pays: a cold compile costs 20-155 s, a cached one 1-10 s
        run.compile = run.steps >= COLD_COMPILE_FROM_STEPS or (run.steps >= COMPILE_FROM_STEPS
                                                                and compiled_before(cfg))
    return cfg


def used_plugins(cfg: Config) -> list[str]:
    """The importable modules that registered what this config uses: recorded in run.plugins, so a
    worker process, a resumed run or the command line finds them again."""
    entry = GAMES[cfg.game.name]
    used = [("game", cfg.game.name), *[("game", name) for name in entry.games_used(cfg)], ("loss", cfg.game.loss),
            ("penalty", cfg.game.penalty), ("data", cfg.data.preset)]
    used += [("net", getattr(cfg, role).net) for role in ROLES]
    used += [("section", name) for name in played_sections(cfg)]  # what its config file holds
    modules = origins(used) + [module_of_reference(getattr(cfg, role).net) for role in ROLES]
    return [m for m in modules if m]


def player_count(cfg: Config) -> int:
    return GAMES[cfg.game.name].players(cfg)


# --------------------------------------------------------------------------------------------
# Construction (expects a resolved config)


def build_data(cfg: Config):
    return PRESETS[cfg.data.preset].build(cfg.data)


def build_players(cfg: Config, data, seeds: list[int], device: str | torch.device = "cpu") -> Players:
    """P = len(seeds) generator/discriminator pairs; pair p is initialised from ``seeds[p]`` alone."""
    count = len(seeds)
    generator = build_players_of("generator", cfg, data, seeds).to(device)
    discriminator = build_players_of("discriminator", cfg, data, seeds).to(device)
    ema = ParameterEMA(generator, cfg.generator.ema, cfg.generator.ema_rampup) if cfg.generator.ema > 0 else None
    return Players(
        generator,
        discriminator,
        Optimizer(list(generator.parameters()), settings_of(cfg.generator), count),
        Optimizer(list(discriminator.parameters()), settings_of(cfg.discriminator), count),
        cfg.generator.latent_dim,
        ema,
        classes_of(data, cfg),
    )


def build_game(cfg: Config, players: Players, data=None):
    """The game of a resolved config played by ``players`` (``data``: the run's, for what depends on
    its kind; built from the config when not given)."""
    return GAMES[cfg.game.name].build(cfg, players, data if data is not None else build_data(cfg))


def build_game_for(cfg: Config, data, device: str | torch.device = "cpu"):
    """The game of a resolved config, its players initialised from the run's seed."""
    players = build_players(cfg, data, player_seeds(cfg.run.seed, player_count(cfg)), device)
    return build_game(cfg, players, data)
