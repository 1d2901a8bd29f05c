"""A sweep spec: a base config, a search space, the games compared on the same configurations, seeds.

    [sweep]
    name = "robustness"
    games = ["ns", "gan-gp", "dragan-ns", "wgan-gp"]
    seeds = [0]
    sampler = "random"            # random (with trials) | grid
    trials = 30                   # configurations sampled, each played by every game and seed
    seed = 0                      # of the configuration sampler
    metrics = ["modes", "w2"]     # evaluated at the end of every run
    objective = "w2"              # the trial value Optuna records (direction from the metric)
    eval_samples = 2500            # PacGAN's mode count takes eval.mode_samples (2500) of them

    [base]                        # any run config: the same sections as a TOML config file
    data = { preset = "ring8" }
    run = { steps = 3000 }

    [space]                       # dotted config keys
    "generator.lr" = { loguniform = [1e-5, 1e-2] }
    "generator.beta1" = { uniform = [0.0, 1.0] }
    "game.disc_steps" = { int = [1, 5] }
    "discriminator.hidden" = { choice = [[64, 64], [128, 128, 128]] }

    [tie]                         # keys that take another key's sampled value
    "discriminator.lr" = "generator.lr"
"""

from __future__ import annotations

import itertools
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gangames import build
from gangames import config as config_io
from gangames.errors import ConfigError, pick
from gangames.games.registry import GAMES
from gangames.plugins import load_plugins

AXIS_KINDS = ("loguniform", "uniform", "int", "choice")


@dataclass(frozen=True)
class Axis:
    key: str
    kind: str
    values: tuple  # (low, high) for ranges, the options for choice

    def sample(self, rng: np.random.Generator) -> Any:
        if self.kind == "loguniform":
            low, high = self.values
            return float(math.exp(rng.uniform(math.log(low), math.log(high))))
        if self.kind == "uniform":
            return float(rng.uniform(*self.values))
        if self.kind == "int":
            return int(rng.integers(self.values[0], self.values[1] + 1))
        return self.values[int(rng.integers(len(self.values)))]

    def grid(self) -> list:
        if self.kind == "choice":
            return list(self.values)
        if self.kind == "int":
            return list(range(self.values[0], self.values[1] + 1))
        raise ConfigError(f"grid sweeps need choice or int axes; {self.key} is {self.kind}")


@dataclass
class SweepSpec:
    name: str
    games: list[str]
    seeds: list[int]
    base: dict
    axes: list[Axis]
    ties: dict[str, str] = field(default_factory=dict)
    sampler: str = "random"
    trials: int = 10
    seed: int = 0
    metrics: list[str] = field(default_factory=list)
    objective: str | None = None
    eval_samples: int = 2500

    def configurations(self) -> list[dict[str, Any]]:
        """The sampled configurations (dotted key -> value), the same for every game and seed."""
        if self.sampler == "grid":
            keys = [a.key for a in self.axes]
            points = [dict(zip(keys, values)) for values in itertools.product(*(a.grid() for a in self.axes))]
        else:
            rng = np.random.default_rng(self.seed)
            points = [{a.key: a.sample(rng) for a in self.axes} for _ in range(self.trials)]
        for point in points:
            for key, source in self.ties.items():
                point[key] = point[source]
        return points

    def run_config(self, point: dict[str, Any], game: str, seed: int) -> config_io.Config:
        cfg = config_io.from_dict(self.base)
        overrides: dict = {"game": {"name": game}, "run": {"seed": seed, "progress": False}}
        for key, value in point.items():
            node = overrides
            *path, last = key.split(".")
            for part in path:
                node = node.setdefault(part, {})
            node[last] = value
        return config_io.from_dict(overrides, cfg)


def _axis(key: str, text: Any) -> Axis:
    if not isinstance(text, dict) or len(text) != 1:
        raise ConfigError(f"space axis {key!r} must be one of {{ {' | '.join(k + ' = [...]' for k in AXIS_KINDS)} }}")
    (kind, values), = text.items()
    pick(f"axis kind of {key!r}", kind, AXIS_KINDS)
    if not isinstance(values, list) or not values:
        raise ConfigError(f"space axis {key!r} needs a non-empty list of values")
    if kind != "choice":
        if len(values) != 2 or values[0] > values[1]:
            raise ConfigError(f"space axis {key!r}: {kind} needs [low, high] with low <= high")
        if kind == "loguniform" and values[0] <= 0:
            raise ConfigError(f"space axis {key!r}: loguniform needs low > 0")
    return Axis(key, kind, tuple(values))


def parse(data: dict) -> SweepSpec:
    known = {"sweep", "base", "space", "tie"}
    for section in data:
        if section not in known:
            raise ConfigError(f"unknown sweep section [{section}]; valid: {', '.join(sorted(known))}")
    sweep = dict(data.get("sweep", {}))
    valid = {"name", "games", "seeds", "sampler", "trials", "seed", "metrics", "objective", "eval_samples"}
    for key in sweep:
        if key not in valid:
            raise ConfigError(f"unknown key {key!r} in [sweep]; valid keys: {', '.join(sorted(valid))}")
    games = sweep.get("games", [])
    if not games:
        raise ConfigError("[sweep] needs games = [...]")
    load_plugins(data.get("base", {}).get("run", {}).get("plugins", []))  # games registered by the user's modules
    for game in games:
        pick("game", game, GAMES)
    spec = SweepSpec(
        name=str(sweep.get("name", "sweep")), games=list(games), seeds=[int(s) for s in sweep.get("seeds", [0])],
        base=data.get("base", {}), axes=[_axis(k, v) for k, v in data.get("space", {}).items()],
        ties=dict(data.get("tie", {})), sampler=pick("sampler", sweep.get("sampler", "random"), ("random", "grid")),
        trials=int(sweep.get("trials", 10)), seed=int(sweep.get("seed", 0)), metrics=list(sweep.get("metrics", [])),
        objective=sweep.get("objective"), eval_samples=int(sweep.get("eval_samples", 2500)))
    for key, source in spec.ties.items():
        if source not in {a.key for a in spec.axes}:
            raise ConfigError(f"tie {key!r} = {source!r}: {source!r} is not an axis of [space]")
    # Every configuration must make a valid run config for every game (fails here, not mid-sweep).
    points = spec.configurations()
    if not points:
        raise ConfigError("the sweep has no configurations (trials = 0?)")
    for game in spec.games:
        cfg = build.resolve(spec.run_config(points[0], game, spec.seeds[0]))
        if "modes" in spec.metrics and spec.eval_samples < cfg.eval.mode_samples:
            raise ConfigError(f"metric 'modes' counts modes among eval.mode_samples = {cfg.eval.mode_samples} samples; "
                              f"[sweep] eval_samples is {spec.eval_samples}: raise it or lower eval.mode_samples in [base]")
    if spec.objective is None:
        spec.objective = spec.metrics[0] if spec.metrics else None
    return spec


def load(path: str | Path) -> SweepSpec:
    path = Path(path)
    try:
        return parse(tomllib.loads(path.read_text()))
    except FileNotFoundError:
        raise ConfigError(f"sweep spec {path} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"sweep spec {path} is not valid TOML: {err}") from None
