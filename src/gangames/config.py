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
    label: str = ""  # how tables and plots name this run ("" : the game's own label); name variants of one
    #   game ("ns+sn") so a report over several comparisons tells them apart
    log_every: int = 50  # metrics.jsonl row (mean losses over the interval) and NaN check
    snapshot_every: int = 500  # generator samples saved to samples/
    snapshot_size: int = 1000
    checkpoint_every: int = 500
    keep_checkpoints: int = 2  # newest checkpoints kept; older ones are deleted
    device: str = "cpu"
    compile: bool | None = None  # torch.compile the game step; None: where it pays, runs of >= 5000 steps whose
    #   structure compiled before on this machine, else of >= 50 000 steps (docs/speed.md)
    compile_after: int | None = None  # compiled runs: steps played eagerly before the compiled step takes over,
    #   so that they never wait for a compile; None: EAGER_FIRST_STEPS (1 000) where run.compile is unset, else 0
    steps_per_call: int = 1  # compiled runs: game rounds unrolled into one compiled call; more saves ~75 us of
    #   call overhead per round and multiplies the cold compile (4 rounds: 2.5x as long; docs/speed.md)
    compile_unit: str = "auto"  # compiled runs: what one graph holds. round: a whole round of play (fastest
    #   steps); update: one player's update, the critic's graph reused for every critic step of a round (a
    #   cold compile 0.3-0.6x as long, steps 0.7-0.9x as fast); auto: update for games of several critic
    #   steps in runs shorter than 6 000 steps, else round (docs/speed.md)
    threads: int = 0  # torch intra-op threads; 0: the free cores of the affinity mask (gangames/threads.py)
    progress: bool = True
    tensorboard: bool = False  # also write TensorBoard event files to RUN/tensorboard (tensorboard --logdir RUN)
    plugins: list[str] = field(default_factory=list)  # modules imported before anything is built: what they
    #   register (games, losses, penalties, nets, data) is then known here and in every worker process


@dataclass
class DataConfig:
    preset: str = "ring8"
    batch_size: int = 256
    sigma: float | None = None  # None: the preset's own standard deviation
    radius: float | None = None  # ring presets only
    dim: int = 10  # line-d only: the ambient dimension d
    line_seed: int = 0  # line-d only: which random line (fixed per experiment, not per run)
    path: str | None = None  # image-folder, array, csv, idx, cifar10: where the user's files are
    augment: str = ""  # images: DiffAugment policy, comma-separated from color, translation, cutout ("" off)
    standardize: bool = False  # vectors only: shift and scale every coordinate to mean 0, std 1 (run.json
    #   records the statistics; samples and metrics are in the data's own units)
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
    label_embedding: int = 16  # conditional games: size of the built-in generator's label embedding
    ema: float | None = None  # decay beta of the generator's moving average (e.g. 0.999); 0: off; None: the
    #   game's default on this data (docs/defaults.md), else off. When on, sampling and evaluation use the
    #   average (eval.json says which weights were evaluated)
    ema_rampup: bool | None = None  # beta_t = min(ema, (1 + t) / (10 + t)): the average forgets its start sooner


@dataclass
class DiscriminatorConfig(PlayerConfig):
    norm: str = "none"  # DCGAN discriminator: none | layer (never batch norm: it breaks gradient penalties)
    features: int = 128  # DCGAN discriminator: size of the feature layer (the robust game's encoder output)
    spectral_norm: bool = False  # spectral normalisation of every weight, per player (nets/spectral.py)
    head: list[int] | None = None  # hidden widths of the head on the trunk's features, then a linear score;
    #   None: one layer as wide as the features (papers.md §2(c)); []: a linear head (refused by robust.mode=feature)


@dataclass
class GameConfig:
    name: str = "ns"
    defaults: str = "tuned"  # what unset fields take: tuned (chosen per kind of data, docs/defaults.md; the
    #   papers' settings where none were chosen) | paper (each game's paper's settings everywhere)
    loss: str | None = None  # minimax | ns | wasserstein | hinge | least-squares
    penalty: str | None = None  # none | interpolate | dragan
    penalty_weight: float | None = None  # lambda
    penalty_target: float = 1.0  # two-sided penalty (|grad| - target)^2
    penalty_guard: float = 1e-4  # |g| = sqrt(guard + sum g^2), as compare_gan
    dragan_form: str = "A"  # A (reference code) | B (compare_gan v2) | gaussian
    dragan_scale: float | None = None  # A: 0.5, B: 1.0, gaussian: 0.5 (times the batch std)
    disc_steps: int | None = None
    clip: float | None = None  # WGAN weight clipping bound c; 0 disables
    conditional: bool = False  # class-conditional: G(z, y) with a label embedding, D(x, y) a projection
    #   discriminator (nets/conditional.py); labelled data only (a mixture's labels are its modes)


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


def game_sections() -> dict[str, type]:
    """The sections the registered games own ([auction], [robust], a plug-in's): their dataclasses."""
    from gangames.games.registry import SECTIONS

    return dict(SECTIONS)


@dataclass
class Config:
    """The core sections, and one section per registered game that owns one (``cfg.auction``, ...).
    In TOML and ``--set`` all sections look alike: ``[auction]``, ``auction.players=8``."""

    run: RunConfig = field(default_factory=RunConfig)
    data: DataConfig = field(default_factory=DataConfig)
    game: GameConfig = field(default_factory=GameConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    sections: dict[str, Any] = field(default_factory=lambda: {k: cls() for k, cls in game_sections().items()})

    def __getattr__(self, name: str):
        sections = self.__dict__.get("sections")
        if sections is not None and name in sections:
            return sections[name]
        raise AttributeError(f"{type(self).__name__} has no section {name!r}")

    def section_names(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self) if f.name != "sections"] + list(self.sections)


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
    names = obj.section_names() if isinstance(obj, Config) else [f.name for f in dataclasses.fields(obj)]
    for key, value in data.items():
        full = f"{prefix}{key}"
        if key not in names:
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
    """A new config: ``base`` (or the defaults) updated with the nested ``data``. Modules named in
    ``run.plugins`` are imported first: the games, losses and nets they register become valid."""
    plugins = data.get("run", {}).get("plugins") if isinstance(data.get("run"), dict) else None
    if plugins:
        from gangames.plugins import load_plugins

        load_plugins(_coerce(plugins, list[str], "run.plugins"))
    config = copy.deepcopy(base) if base is not None else Config()
    for name, cls in game_sections().items():  # sections registered since ``base`` was made
        config.sections.setdefault(name, cls())
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
    """Plain nested dict, without ``None`` values (TOML has no null); game sections at the top level."""

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if v is not None}
        return value

    plain = dataclasses.asdict(config)
    sections = plain.pop("sections", {})
    plain.update({name: sections[name] for name in played_sections(config) if name in sections})
    return strip(plain)


def played_sections(config: Config) -> list[str]:
    """The game sections a config's game plays: its own and those of the games it is made of (an
    auction of robust-w pairs: [auction] and [robust]). A run's config file holds these, so reading
    it never needs a plug-in that only registered some other game."""
    from gangames.games.registry import GAMES

    entry = GAMES.get(config.game.name)
    if entry is None:
        return list(config.sections)
    names = [entry.section, *(GAMES[g].section for g in entry.games_used(config) if g in GAMES)]
    return [n for n in names if n]


def dumps(config: Config) -> str:
    return tomli_w.dumps(to_dict(config))
