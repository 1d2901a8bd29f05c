"""Read finished runs (or a sweep's study) into what a report shows. Knows nothing of training."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gangames import build
from gangames.config import Config
from gangames.errors import GanGamesError
from gangames.io import read_jsonl
from gangames.train.run_dir import RunDir


@dataclass
class Run:
    path: Path
    cfg: Config
    label: str  # the game, as the report names it
    seed: int
    rows: list[dict]  # metrics.jsonl
    eval: dict | None  # eval.json
    info: dict

    @property
    def players(self) -> int:
        return build.player_count(self.cfg)

    def series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of a logged statistic (per-player lists are averaged)."""
        steps, values = [], []
        for row in self.rows:
            value = row.get(key)
            if value is None:
                continue
            if isinstance(value, list):
                value = float(np.mean(value))
            steps.append(row["step"])
            values.append(value)
        return np.array(steps), np.array(values, dtype=float)

    def eval_series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        points = [(r["step"], r["eval"][key]) for r in self.rows if "eval" in r and key in r["eval"]]
        return (np.array([p[0] for p in points]), np.array([p[1] for p in points], dtype=float)) if points else \
            (np.array([]), np.array([]))

    def auctions(self) -> list[dict]:
        return [dict(r["auction"], step=r["step"]) for r in self.rows if "auction" in r]

    def last_samples(self) -> tuple[int, np.ndarray] | None:
        files = sorted((self.path / "samples").glob("step-*.npy"))
        if not files:
            return None
        return int(files[-1].stem.split("-")[1]), np.load(files[-1])

    def last_grids(self) -> list[Path]:
        pngs = sorted((self.path / "samples").glob("step-*.png"))
        if not pngs:
            return []
        last = pngs[-1].name[:len("step-00000000")]
        return [p for p in pngs if p.name.startswith(last)]


def label_of(cfg: Config) -> str:
    if cfg.game.name in ("auction", "independent"):
        mode = "auction" if cfg.auction.enabled else "independent"
        return f"{mode}({cfg.auction.player_game} x{cfg.auction.players})"
    if cfg.game.name == "robust-w":
        return f"robust-w(gamma={cfg.robust.gamma:g})"
    return cfg.game.name


def load_run(path: str | Path) -> Run:
    run_dir = RunDir(path)
    cfg = build.resolve(run_dir.load_config())
    eval_file = run_dir.path / "eval.json"
    evaluation = json.loads(eval_file.read_text()) if eval_file.exists() else None
    return Run(run_dir.path, cfg, label_of(cfg), cfg.run.seed, read_jsonl(run_dir.metrics_file), evaluation,
               run_dir.read_info())


def find_runs(paths: list[str | Path]) -> list[Run]:
    """Run folders given directly, or found below the given folders (those holding a config.toml)."""
    runs = []
    for path in map(Path, paths):
        if not path.exists():
            raise GanGamesError(f"{path} does not exist")
        if (path / "config.toml").exists():
            runs.append(load_run(path))
        else:
            found = sorted(p.parent for p in path.rglob("config.toml") if (p.parent / "run.json").exists())
            runs.extend(load_run(p) for p in found)
    if not runs:
        raise GanGamesError(f"no gangames runs in {', '.join(map(str, paths))}")
    return runs


@dataclass
class Group:
    """All seeds of one game on one data set."""

    label: str
    data: str
    runs: list[Run] = field(default_factory=list)


def group(runs: list[Run]) -> list[Group]:
    groups: dict[tuple[str, str], Group] = {}
    for run in sorted(runs, key=lambda r: (r.cfg.data.preset, r.label, r.seed)):
        key = (run.cfg.data.preset, run.label)
        groups.setdefault(key, Group(run.label, run.cfg.data.preset)).runs.append(run)
    return list(groups.values())


def metric_summary(g: Group) -> dict[str, dict]:
    """Per metric of eval.json: mean, std (ddof 0), best and worst seed (by the metric's direction)."""
    from gangames.metrics.registry import better_direction

    out: dict[str, dict] = {}
    evaluated = [r for r in g.runs if r.eval]
    keys = [k for k in (evaluated[0].eval["metrics"] if evaluated else {}) if "/" not in k]
    for key in keys:
        values = [(r.seed, r.eval["metrics"].get(key)) for r in evaluated]
        values = [(s, float(v)) for s, v in values if isinstance(v, (int, float)) and not math.isnan(v)]
        if not values:
            continue
        numbers = np.array([v for _, v in values])
        try:
            higher = better_direction(key) == "higher"
        except KeyError:
            higher = True
        best = max(values, key=lambda sv: sv[1]) if higher else min(values, key=lambda sv: sv[1])
        worst = min(values, key=lambda sv: sv[1]) if higher else max(values, key=lambda sv: sv[1])
        entry = {"mean": float(numbers.mean()), "std": float(numbers.std()), "best": best, "worst": worst,
                 "seeds": len(values), "higher_is_better": higher}
        worst_player = [r.eval["metrics"].get(f"{key}/worst") for r in evaluated]
        if all(isinstance(v, (int, float)) for v in worst_player) and worst_player:
            entry["worst_player_mean"] = float(np.mean(worst_player))
        out[key] = entry
    return out
