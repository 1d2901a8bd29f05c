"""A sweep's trials as a tidy table (one row per trial), CSV, and per-game distributions."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import optuna

from gangames.errors import GanGamesError
from gangames.sweep.study import storage_url


def load_study(storage: str | Path, name: str | None = None) -> optuna.Study:
    url = storage_url(storage)
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        raise GanGamesError(f"no study database at {storage}")
    names = optuna.get_all_study_names(url)
    if name is None:
        if len(names) != 1:
            raise GanGamesError(f"{storage} holds {len(names)} studies ({', '.join(names)}); name one with --study-name")
        name = names[0]
    if name not in names:
        raise GanGamesError(f"no study {name!r} in {storage}; it holds: {', '.join(names)}")
    return optuna.load_study(study_name=name, storage=url)


def rows(study: optuna.Study) -> list[dict]:
    """game, seed, hyperparameters, metrics, status for every trial, in trial order."""
    table = []
    for trial in study.get_trials(deepcopy=False):
        params = dict(trial.params or trial.system_attrs.get("fixed_params", {}))
        status = trial.user_attrs.get("status") or {"FAIL": "interrupted"}.get(trial.state.name, trial.state.name.lower())
        row = {"trial": trial.number, "key": trial.user_attrs.get("key"), "game": params.pop("game", None),
               "seed": params.pop("seed", None), "status": status}
        row.update({k: params[k] for k in sorted(params)})
        row.update({k[len("metric:"):]: v for k, v in sorted(trial.user_attrs.items()) if k.startswith("metric:")})
        if "error" in trial.user_attrs:
            row["error"] = trial.user_attrs["error"].splitlines()[0][:200]
        row["run"] = trial.user_attrs.get("run")
        table.append(row)
    return table


def write_csv(table: list[dict], path: str | Path) -> None:
    columns: list[str] = []
    for row in table:
        columns += [k for k in row if k not in columns]
    from gangames.io import atomic_open

    with atomic_open(path, "w") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(table)


def distribution(table: list[dict], metric: str, threshold: float | None = None) -> dict[str, dict]:
    """Per game: the metric's median, quartiles, min/max over finished trials (and the share of
    trials at or above ``threshold``, counting failed trials as below it)."""
    out = {}
    for game in dict.fromkeys(r["game"] for r in table):
        mine = [r for r in table if r["game"] == game]
        values = np.array([r[metric] for r in mine if r["status"] == "finished" and isinstance(r.get(metric), (int, float))
                           and not math.isnan(r[metric])], dtype=np.float64)
        entry = {"trials": len(mine), "finished": int(len(values))}
        if len(values):
            q1, median, q3 = np.percentile(values, [25, 50, 75])
            entry.update({"median": float(median), "q1": float(q1), "q3": float(q3),
                          "min": float(values.min()), "max": float(values.max())})
        if threshold is not None:
            entry["share_at_least"] = float((values >= threshold).sum() / len(mine)) if mine else math.nan
        out[game] = entry
    return out
