"""A sweep spec: a base config, a search space, the games compared on the same configurations, seeds.

    [sweep]
    name = "robustness"
    games = ["ns", "gan-gp", "dragan-ns", "wgan-gp"]
    seeds = [0]
    sampler = "tpe"               # Optuna's: random | grid | tpe | cmaes (numeric axes only)
    trials = 30                   # the wide search: configurations, each played by every game and seed
    startup_trials = 10           # tpe/cmaes: random configurations before the model takes over
    narrow_trials = 10            # then the same search in the box of the best wide ones (0: none)
    narrow_top = 0.25             # ... the best quarter of the wide configurations
    repeat_top = 3                # then the best 3 configurations (wide and narrow) ...
    repeat_seeds = [1, 2, 3, 4, 5] # ... played again by every game on these seeds
    seed = 0                      # of the configuration sampler
    metrics = ["modes", "w2"]     # evaluated at the end of every run
    objective = "w2"              # the trial value Optuna records (direction from the metric)
    target = "mean"               # a configuration's value: the games' mean objective, or a game's name
    eval_samples = 2500            # PacGAN's mode count takes eval.mode_samples (2500) of them
    heartbeat = 30.0              # seconds between a running trial's heartbeats
    stale_after = 120.0           # a running trial without a heartbeat for this long is retried

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

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gangames import build
from gangames import config as config_io
from gangames.errors import ConfigError, pick
from gangames.games.registry import GAMES
from gangames.plugins import load_plugins

AXIS_KINDS = ("loguniform", "uniform", "int", "choice")
SAMPLERS = ("random", "grid", "tpe", "cmaes")


@dataclass(frozen=True)
class Axis:
    key: str
    kind: str
    values: tuple  # (low, high) for ranges, the options for choice

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
    sampler: str = "tpe"
    trials: int = 10
    seed: int = 0
    metrics: list[str] = field(default_factory=list)
    objective: str | None = None
    eval_samples: int = 2500
    startup_trials: int = 10
    narrow_trials: int = 0
    narrow_top: float = 0.25
    repeat_top: int = 0
    repeat_seeds: list[int] = field(default_factory=list)
    target: str = "mean"
    heartbeat: float = 30.0
    stale_after: float = 120.0

    def with_ties(self, point: dict[str, Any]) -> dict[str, Any]:
        """A sampled point with the tied keys set to their sources' values."""
        return {**point, **{key: point[source] for key, source in self.ties.items()}}

    def grid_size(self) -> int:
        return math.prod(len(a.grid()) for a in self.axes)

    def all_seeds(self) -> list[int]:
        return sorted(set(self.seeds) | set(self.repeat_seeds))

    def example(self) -> dict[str, Any]:
        """One point of the space (each axis's first value), to check the configs it makes."""
        return self.with_ties({a.key: list(a.values[0]) if isinstance(a.values[0], list) else a.values[0]
                               for a in self.axes})

    def run_config(self, point: dict[str, Any], game: str, seed: int) -> config_io.Config:
        cfg = config_io.from_dict(self.base)
        overrides: dict = {"game": {"name": game}, "run": {"seed": seed, "progress": False}}
        for key, value in point.items():
            node = overrides
            *path, last = key.split(".")
            for part in path:
                node = node.setdefault(part, {})
            node[last] = value
        cfg = config_io.from_dict(overrides, cfg)
        if cfg.run.compile is None and self.steps_per_game(cfg.run.steps) >= build.COLD_COMPILE_FROM_STEPS:
            cfg.run.compile = True  # one structure per game, compiled once per worker: the sweep repays it
        return cfg

    def steps_per_game(self, steps: int) -> int:
        """Training steps the sweep gives each game: every trial (wide and narrow) on every seed."""
        return steps * (self.trials + self.narrow_trials) * len(self.seeds) + steps * self.repeat_top * len(self.repeat_seeds)


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
    valid = {"name", "games", "seeds", "sampler", "trials", "seed", "metrics", "objective", "eval_samples",
             "startup_trials", "narrow_trials", "narrow_top", "repeat_top", "repeat_seeds", "target", "heartbeat",
             "stale_after"}
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
        ties=dict(data.get("tie", {})), sampler=pick("sampler", sweep.get("sampler", "tpe"), SAMPLERS),
        trials=int(sweep.get("trials", 10)), seed=int(sweep.get("seed", 0)), metrics=list(sweep.get("metrics", [])),
        objective=sweep.get("objective"), eval_samples=int(sweep.get("eval_samples", 2500)),
        startup_trials=int(sweep.get("startup_trials", 10)), narrow_trials=int(sweep.get("narrow_trials", 0)),
        narrow_top=float(sweep.get("narrow_top", 0.25)), repeat_top=int(sweep.get("repeat_top", 0)),
        repeat_seeds=[int(s) for s in sweep.get("repeat_seeds", [])], target=str(sweep.get("target", "mean")),
        heartbeat=float(sweep.get("heartbeat", 30.0)), stale_after=float(sweep.get("stale_after", 120.0)))
    if spec.target != "mean" and spec.target not in spec.games:
        raise ConfigError(f"[sweep] target must be 'mean' or one of the games ({', '.join(spec.games)}); got {spec.target!r}")
    if not 0 < spec.narrow_top <= 1:
        raise ConfigError(f"[sweep] narrow_top is a share of the wide configurations, in (0, 1]; got {spec.narrow_top}")
    if spec.sampler == "grid" and spec.narrow_trials:
        raise ConfigError("a grid sweep has no narrow phase; set narrow_trials = 0 or use another sampler")
    if spec.sampler == "cmaes" and any(a.kind == "choice" for a in spec.axes):
        raise ConfigError("sampler 'cmaes' searches numeric axes only; make the choice axes ranges or use 'tpe'")
    if spec.stale_after <= 2 * spec.heartbeat:
        raise ConfigError(f"[sweep] stale_after ({spec.stale_after}) must exceed two heartbeats ({spec.heartbeat} s each)")
    for key, source in spec.ties.items():
        if source not in {a.key for a in spec.axes}:
            raise ConfigError(f"tie {key!r} = {source!r}: {source!r} is not an axis of [space]")
    # Every configuration must make a valid run config for every game (fails here, not mid-sweep).
    if spec.sampler != "grid" and spec.trials < 1:
        raise ConfigError("the sweep has no configurations (trials = 0?)")
    if spec.sampler == "grid":
        spec.grid_size()  # grid sweeps need choice or int axes
    for game in spec.games:
        cfg = build.resolve(spec.run_config(spec.example(), game, spec.seeds[0]))
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
