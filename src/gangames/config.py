"""Typed run configuration: dataclasses, loaded from TOML and overridden with ``--set key=value``.

Fields left at ``None`` mean "the chosen game's or preset's default"; :func:`gangames.build.resolve`
fills them, so the config written next to a run's results is always complete and concrete.
"""

from __future__ import annotations

import copy
import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from gangames.errors import ConfigError


@dataclass
class RunConfig:
    seed: int = 0
    steps: int = 2000
    log_every: int = 50  # metrics.jsonl row (mean losses over the interval) and NaN check
    snapshot_every: int = 500  # generator samples saved to samples/
    snapshot_size: int = 1000
    checkpoint_every: int = 500
    keep_checkpoints: int = 2  # newest checkpoints kept; older ones are deleted
    device: str = "cpu"
    compile: bool | None = None  # torch.compile the game step; None: only runs of >= 5000 steps (docs/speed.md)
    steps_per_call: int | None = None  # compiled runs: game steps per compiled call; None: 4 for games of one
    #   critic step per round, else 1 (a longer graph compiles longer: docs/speed.md)
    threads: int = 0  # torch intra-op threads; 0 keeps torch's default
    progress: bool = True


@dataclass
class DataConfig:
    preset: str = "ring8"
    batch_size: int = 256
    sigma: float | None = None  # None: the preset's own standard deviation
    radius: float | None = None  # ring presets only
    dim: int = 10  # line-d only: the ambient dimension d
    line_seed: int = 0  # line-d only: which random line (fixed per experiment, not per run)
    path: str | None = None  # image-folder, array, idx, cifar10: where the user's files are
    image_size: int | None = None  # resize images to this side (square); None keeps their size
    channels: int | None = None  # 1 or 3: convert user images; None keeps theirs
    split: str = "train"  # train | test: which split of a data set with splits to train on
    line_start: float = 0.0  # line-d only: > 0 starts the model line parallel to the data line at this
    #   distance (papers.md §3(d) for d = 2, where random lines would cross); 0: a random line


@dataclass
class PlayerConfig:
    """One network and its optimiser. ``None`` fields take the game's defaults."""

    net: str | None = None  # mlp | dcgan; the generator of line-d defaults to the affine line (line)
    hidden: list[int] | None = None  # widths: MLP layers (generator [128, 128, 128], critic trunk [128, 128]);
    #   DCGAN channels per stage [32, 64]
    activation: str | None = None  # relu (generator) / leaky_relu (discriminator)
    optimizer: str | None = None  # adam | rmsprop | sgd
    lr: float | None = None
    beta1: float | None = None
    beta2: float | None = None
    eps: float = 1e-8


@dataclass
class GeneratorConfig(PlayerConfig):
    latent_dim: int | None = None  # 2 (MLP), 64 (DCGAN), 1 (the affine line)
    batch_norm: bool = True  # DCGAN generator only


@dataclass
class DiscriminatorConfig(PlayerConfig):
    norm: str = "none"  # DCGAN discriminator: none | layer (never batch norm: it breaks gradient penalties)
    features: int = 128  # DCGAN discriminator: size of the feature layer (the robust game's encoder output)
    head: list[int] | None = None  # hidden widths of the head on the trunk's features, then a linear score;
    #   None: one layer as wide as the features (papers.md §2(c)); []: a linear head (refused by robust.mode=feature)


@dataclass
class GameConfig:
    name: str = "ns"
    loss: str | None = None  # minimax | ns | wasserstein | hinge | least-squares
    penalty: str | None = None  # none | interpolate | dragan
    penalty_weight: float | None = None  # lambda
    penalty_target: float = 1.0  # two-sided penalty (|grad| - target)^2
    penalty_guard: float = 1e-4  # |g| = sqrt(guard + sum g^2), as compare_gan
    dragan_form: str = "A"  # A (reference code) | B (compare_gan v2) | gaussian
    dragan_scale: float | None = None  # A: 0.5, B: 1.0, gaussian: 0.5 (times the batch std)
    disc_steps: int | None = None
    clip: float | None = None  # WGAN weight clipping bound c; 0 disables


@dataclass
class AuctionConfig:
    """The auction game over N players (Shim et al. 2024); the choices are papers.md §4(g)."""

    players: int = 4  # N pairs (B7)
    player_game: str = "ns"  # the two-player game each pair plays: ns, wgan, wgan-gp, ...
    enabled: bool = True  # false: the classical baseline, N independent pairs (same seeds, same budget)
    period: int = 100  # K: an auction every K steps (B7)
    lot_size: int = 256  # M: samples per lot, and real samples for centring and alignment (B7)
    aux_steps: int = 1  # T_aux: discriminator alignment steps per auction (B7)
    aux_weight: float = 1.0  # mu, the weight of L_aux
    aux_loss: str = "mse"  # mse | bce_soft (B5)
    aux_plus_gan: bool = False  # add each discriminator's GAN loss during alignment (B5)
    aux_update_generators: bool = False  # one generator step for the non-winners after alignment (B6)
    bid_space: str | None = None  # probability | logit | critic; default: probability for GAN losses, critic otherwise (B1)
    bid_mode: str | None = None  # raw | centered (minus the bidder's mean score on real data); default raw for probabilities (B3)
    score_rule: str = "mean"  # mean | sum | median of the bids an auctioneer receives (B2)
    best_rule: str = "partner"  # partner: D of the winning pair | lowest_bids_given: the most discerning bidder (B4)


@dataclass
class RobustConfig:
    """The Wasserstein robust game (Gao & Tembine 2018); the choices are papers.md §2(g)."""

    gamma: float = 5.0  # Lagrange penalty gamma of the transport cost (radius ~ 1/(2 gamma)) (G3)
    steps: int = 5  # T_def defender ascent steps (G6)
    step_size: float | None = None  # alpha; default 1 / (4 gamma) (G6)
    radius: float = 0.0  # optional hard radius rho: each move projected into the ball (0: none) (G3)
    mode: str = "input"  # input | feature | feature-cost: where the defenders move and pay (G2)
    cost: str = "sq"  # sq: |delta|^2 | sq_per_dim: |delta|^2 / dim
    warmup: int = 1000  # first steps played as plain WGAN-GP
    hard_fraction: float = 1.0  # keep the top fraction of the hard set by critic value (G8)
    feature_penalty_weight: float = 10.0  # lambda_h of the head's penalty in feature space (G5)


@dataclass
class EvalConfig:
    """Metrics during training (every > 0) and for ``gangames evaluate``."""

    every: int = 0  # evaluate every K training steps; 0: never during training
    samples: int = 2500  # generated samples per player, and as many fresh real samples
    mode_samples: int = 2500  # PacGAN's mode count, hq and reverse KL: on exactly this many (the first) samples
    metrics: list[str] = field(default_factory=list)  # empty: the data's default metrics
    seed: int = 0  # latents and real samples of the evaluation (fixed, so a trace compares like with like)
    kde_bandwidth: float | None = None  # None: the data's sigma, else Scott's rule
    js_bandwidth: float = 0.1  # smoothing h of JS_h; below ~0.05 the KDE of 2k samples is too noisy
    projections: int = 256  # random directions of the sliced Wasserstein distance
    exact_max: int = 2000  # points per side of exact W1/W2 (subsampled above)
    trace_tolerance: float = 1e-4  # a divergence "decreased" when it fell by more than this
    extractor: str | None = None  # image features: digits-cnn | fashion-cnn | torchscript:PATH | module:pkg.mod:fn
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    pr_k: int = 3  # k of the k-NN manifolds of precision/recall
    pr_samples: int = 10_000  # precision/recall on the first n of each side: its cost grows as n^2
    is_splits: int = 10


@dataclass
class Config:
    run: RunConfig = field(default_factory=RunConfig)
    data: DataConfig = field(default_factory=DataConfig)
    game: GameConfig = field(default_factory=GameConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    auction: AuctionConfig = field(default_factory=AuctionConfig)
    robust: RobustConfig = field(default_factory=RobustConfig)


# --------------------------------------------------------------------------------------------
# Loading, overriding, saving


def _field_types(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _type_name(tp) -> str:
    if typing.get_origin(tp) in (types.UnionType, typing.Union):
        return " or ".join(_type_name(a) for a in typing.get_args(tp) if a is not type(None))
    if typing.get_origin(tp) is list:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp, key: str) -> Any:
    """Check ``value`` against the annotation ``tp``; ints are accepted where floats are expected."""
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0], key)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key} must be {_type_name(tp)}, got {value!r}")
        (item,) = typing.get_args(tp)
        return [_coerce(v, item, key) for v in value]
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is bool and not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    if tp is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{key} must be an integer, got {value!r}")
    if not isinstance(value, tp):
        raise ConfigError(f"{key} must be {_type_name(tp)}, got {value!r}")
    return value


def _update(obj, data: dict[str, Any], prefix: str) -> None:
    hints = _field_types(type(obj))
    names = [f.name for f in dataclasses.fields(obj)]
    for key, value in data.items():
        full = f"{prefix}{key}"
        if key not in hints:
            where = f"[{prefix[:-1]}]" if prefix else "the top level"
            raise ConfigError(f"unknown config key {full!r}; valid keys in {where}: {', '.join(names)}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{full} is a section; give its keys, e.g. {full}.{names[0]}=...")
            _update(current, value, f"{full}.")
        else:
            setattr(obj, key, _coerce(value, hints[key], full))


def from_dict(data: dict[str, Any], base: Config | None = None) -> Config:
    """A new config: ``base`` (or the defaults) updated with the nested ``data``."""
    config = copy.deepcopy(base) if base is not None else Config()
    _update(config, data, "")
    return config


def load(path: str | Path, base: Config | None = None) -> Config:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path} is not valid TOML: {err}") from None
    return from_dict(data, base)


def parse_override(text: str) -> dict[str, Any]:
    """``"game.penalty_weight=5"`` -> ``{"game": {"penalty_weight": 5}}``.

    The value is read as a TOML value (numbers, booleans, lists, quoted strings); anything that is
    not valid TOML is taken as a bare string, so ``data.preset=ring8`` needs no quotes.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set expects KEY=VALUE (e.g. game.penalty_weight=5), got {text!r}")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    nested: dict[str, Any] = {}
    node = nested
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return nested


def apply_overrides(config: Config, overrides: list[str]) -> Config:
    for text in overrides:
        config = from_dict(parse_override(text), config)
    return config


def to_dict(config) -> dict[str, Any]:
    """Plain nested dict, without ``None`` values (TOML has no null)."""

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if v is not None}
        return value

    return strip(dataclasses.asdict(config))


def dumps(config: Config) -> str:
    return tomli_w.dumps(to_dict(config))
