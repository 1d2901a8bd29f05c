"""Read finished runs (or a sweep's study) into what a report shows. Knows nothing of training: it
reads run folders (``RunDir``) and never rebuilds a run's data or game, so a report needs none of
the plug-ins a run used."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gangames.errors import GanGamesError
from gangames.training.run_dir import RunDir


@dataclass
class Run:
    path: Path
    config: dict  # config.toml as written (resolved when the run started)
    label: str  # the game, as the report names it
    seed: int
    rows: list[dict]  # metrics.jsonl
    eval: dict | None  # eval.json
    info: dict  # run.json

    @property
    def folder(self) -> RunDir:
        return RunDir(self.path)

    @property
    def players(self) -> int:
        return int(self.info.get("players", 1))

    @property
    def data(self) -> str:
        return self.config.get("data", {}).get("preset", "?")

    @property
    def steps(self) -> int:
        return int(self.config.get("run", {}).get("steps", 0))

    @property
    def data_info(self) -> dict:
        return self.info.get("data_info", {})

    @property
    def panels(self) -> list[dict]:
        return self.info.get("panels", [])

    def setting(self, section: str, key: str, default=None):
        return self.config.get(section, {}).get(key, default)

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
        return self.folder.last_samples()

    def last_grids(self) -> list[Path]:
        return self.folder.last_grids()

    def reference(self) -> np.ndarray | None:
        return self.folder.reference()


def load_run(path: str | Path) -> Run:
    folder = RunDir(path)
    config, info = folder.read_config_dict(), folder.read_info()
    label = info.get("label") or config.get("game", {}).get("name", "?")
    return Run(folder.path, config, label, int(config.get("run", {}).get("seed", 0)), folder.metrics(),
               folder.read_eval(), info)


def find_runs(paths: list[str | Path]) -> list[Run]:
    """Run folders given directly, or found below the given folders."""
    runs = []
    for path in map(Path, paths):
        if not path.exists():
            raise GanGamesError(f"{path} does not exist")
        found = [path] if RunDir(path).is_run() else sorted(p for p in path.rglob("*") if p.is_dir() and RunDir(p).is_run())
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
    for run in sorted(runs, key=lambda r: (r.data, r.label, r.seed)):
        groups.setdefault((run.data, run.label), Group(run.label, run.data)).runs.append(run)
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
