"""The players' networks, by name: the built-in stacked nets (the fast path) and users' modules.

``generator.net`` / ``discriminator.net`` name a built-in net (``mlp``, ``dcgan``, ``line``), one
registered with ``register_net``, or a user's factory: ``module:pkg.mod:factory`` (from Python, the
callable itself), a function of no arguments returning a fresh ``nn.Module`` that maps one
player's batch, (B, latent) -> (B, *sample) for a generator and (B, *sample) -> (B,) or (B, 1) for
a discriminator. gangames builds P copies, each initialised under its player's seed, and plays
them as one computation (``nets/functional.py``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from gangames.errors import ConfigError
from gangames.nets.conditional import ConditionalGenerator, ProjectionCritic
from gangames.nets.conv import conv_critic, conv_generator
from gangames.nets.functional import user_players
from gangames.nets.stacked import StackedLine, apply_spectral_norm, init_players, mlp, mlp_critic
from gangames.plugins import is_reference, remember_origin, resolve
from gangames.seeds import DISCRIMINATOR_INIT, GENERATOR_INIT, derive_seed

ROLES = ("generator", "discriminator")
INIT_KEY = {"generator": GENERATOR_INIT, "discriminator": DISCRIMINATOR_INIT}


@dataclass(frozen=True)
class Net:
    """A built-in family of stacked players. ``generator(count, cfg, data)`` and ``discriminator``
    return P = count uninitialised players (layers with ``init_player``); ``after_init`` may move
    them (per player seed) once initialised."""

    description: str
    kinds: tuple[str, ...]  # data kinds it plays on: vectors, images
    widths: dict[str, list[int]] = field(default_factory=dict)  # default hidden widths per role
    latent_dim: int = 2
    fixed_latent: bool = False  # the generator takes exactly latent_dim (the affine line: 1)
    generator: Callable | None = None
    discriminator: Callable | None = None
    after_init: Callable | None = None  # (generator, cfg, data, seeds) -> None


def _line_start(generator, cfg, data, seeds) -> None:
    """line-d with data.line_start > 0: start parallel to the data line at that distance."""
    if cfg.data.line_start > 0:
        for p, seed in enumerate(seeds):
            rng = torch.Generator().manual_seed(derive_seed(seed, GENERATOR_INIT, 1))
            generator.start_parallel(p, data.origin, data.direction, cfg.data.line_start, rng)


NETS: dict[str, Net] = {
    "mlp": Net("stacked MLPs (papers.md §4(c)): generator 3 x 128 ReLU; critic trunk 2 x 128 LeakyReLU 0.2, head 1 x 128",
               ("vectors",), {"generator": [128, 128, 128], "discriminator": [128, 128]}, 2,
               generator=lambda n, cfg, data: mlp(n, cfg.generator.latent_dim, cfg.generator.hidden, data.dim,
                                                   cfg.generator.activation),
               discriminator=lambda n, cfg, data: mlp_critic(n, data.dim, cfg.discriminator.hidden,
                                                             cfg.discriminator.activation, cfg.discriminator.head)),
    "dcgan": Net("DCGAN players as grouped convolutions (no batch norm in the critic)", ("images",),
                 {"generator": [32, 64], "discriminator": [32, 64]}, 64,
                 generator=lambda n, cfg, data: conv_generator(n, cfg.generator.latent_dim, data.shape,
                                                               cfg.generator.hidden, cfg.generator.activation,
                                                               cfg.generator.batch_norm),
                 discriminator=lambda n, cfg, data: conv_critic(n, data.shape, cfg.discriminator.hidden,
                                                                cfg.discriminator.activation, cfg.discriminator.features,
                                                                cfg.discriminator.norm, cfg.discriminator.head)),
    "line": Net("the affine model line G(s) = b + s u of Fedus et al.'s line experiment (generator only)", ("vectors",),
                {"generator": []}, 1, fixed_latent=True,
                generator=lambda n, cfg, data: StackedLine(n, data.dim), after_init=_line_start),
}
BUILTIN = frozenset(NETS)


def register_net(name: str, net: Net) -> Net:
    if name in BUILTIN:
        raise ConfigError(f"net {name!r} is built in; register yours under another name")
    NETS[name] = net
    remember_origin("net", name)
    return net


def choices(role: str) -> dict[str, Net]:
    return {name: net for name, net in NETS.items() if getattr(net, role) is not None}


def sample_shape(data) -> tuple[int, ...]:
    return tuple(data.sample_shape)


def classes_of(data, cfg) -> int | None:
    """The number of classes a conditional game plays with (None for an unconditional one)."""
    if not cfg.game.conditional:
        return None
    classes = getattr(data, "classes", None)
    if not classes or not hasattr(data, "sample_with_labels"):
        raise ConfigError(f"game.conditional needs labelled data; data preset {cfg.data.preset!r} has no labels")
    return classes


def build_players_of(role: str, cfg, data, seeds: Sequence[int]) -> nn.Module:
    """P = len(seeds) players of ``role``, player p initialised from ``seeds[p]`` alone (class-conditional
    ones, nets/conditional.py, when game.conditional)."""
    player = getattr(cfg, role)
    init_seeds = [derive_seed(s, INIT_KEY[role]) for s in seeds]
    normalised = role == "discriminator" and cfg.discriminator.spectral_norm
    classes = classes_of(data, cfg)
    if is_reference(player.net):
        factory = resolve(player.net)
        if not callable(factory):
            raise ConfigError(f"{role}.net = {player.net} is not callable (a factory returning an nn.Module)")
        shape = sample_shape(data)
        probe = torch.zeros(2, cfg.generator.latent_dim) if role == "generator" else torch.zeros(2, *shape)
        return user_players(factory, init_seeds, role, probe, shape, spectral_norm=normalised, classes=classes)
    net = NETS[player.net]
    count = len(seeds)
    if role == "generator" and classes:  # the base generator reads [z, embedding]
        widened = copy.deepcopy(cfg)
        widened.generator.latent_dim += cfg.generator.label_embedding
        module = ConditionalGenerator(net.generator(count, widened, data), count, classes, cfg.generator.label_embedding)
    else:
        module = getattr(net, role)(count, cfg, data)
    if role == "discriminator" and classes:
        features = module.features(torch.zeros(count, 1, *sample_shape(data))).shape[-1]
        module = ProjectionCritic(module, count, classes, features)
    init_players(module, init_seeds)
    if role == "generator" and net.after_init is not None:
        net.after_init(module, cfg, data, seeds)
    return apply_spectral_norm(module) if normalised else module
