"""A finished or stopped run, restored for sampling and evaluation (not for more training: that is
``Trainer.resume``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gangames import build
from gangames.config import Config
from gangames.training import checkpoint
from gangames.training.run_dir import RunDir


@dataclass
class LoadedRun:
    cfg: Config
    data: object
    game: object
    step: int
    path: Path


def load_run(path: str | Path, step: int | None = None, device: str = "cpu") -> LoadedRun:
    """A run's game, restored from its newest (or the named) checkpoint."""
    run_dir = RunDir(path)
    cfg = build.resolve(run_dir.load_config())
    state = checkpoint.load_latest(run_dir.checkpoints_dir, at_step=step)
    data = build.build_data(cfg)
    game = build.build_game_for(cfg, data, device)
    for name, module in game.modules().items():
        module.load_state_dict(state["modules"][name])
    for name, updater in game.optimizers().items():  # the optimisers, and the generator's average
        updater.load_state_dict(state["optimizers"][name])
    return LoadedRun(cfg, data, game, int(state["step"]), run_dir.path)
