"""A sweep's trials as a tidy table (one row per trial), CSV, and per-game distributions."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import optuna
from optuna.trial import TrialState

from gangames.errors import GanGamesError
from gangames.sweep.study import PHASES, make_storage, storage_url


def is_storage(source: str | Path) -> bool:
    """A sweep's study (a SQLite or journal file, a database URL), not a run folder."""
    text = str(source)
    return "://" in text or text.startswith("journal:") or text.endswith((".db", ".journal", ".log"))


def load_study(storage: str | Path, name: str | None = None) -> optuna.Study:
    """A sweep's runs study (NAME; its configurations live in NAME:wide and NAME:narrow)."""
    url = storage_url(storage)
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        raise GanGamesError(f"no study database at {storage}")
    if url.startswith("journal:") and not Path(url[len("journal:"):]).exists():
        raise GanGamesError(f"no study journal at {storage}")
    store = make_storage(storage)
    names = [n for n in optuna.get_all_study_names(store) if ":" not in n]
    if name is None:
        if len(names) != 1:
            raise GanGamesError(f"{storage} holds {len(names)} sweeps ({', '.join(names)}); name one with --study-name")
        name = names[0]
    if name not in names:
        raise GanGamesError(f"no sweep {name!r} in {storage}; it holds: {', '.join(names)}")
    return optuna.load_study(study_name=name, storage=store)


def config_study(runs: optuna.Study, phase: str) -> optuna.Study | None:
    try:
        return optuna.load_study(study_name=f"{runs.study_name}:{phase}", storage=runs._storage)
    except KeyError:
        return None


def search(runs: optuna.Study) -> list[dict]:
    """The configurations in the order they were proposed, with their value and the best so far."""
    found, best = [], None
    maximize = runs.direction == optuna.study.StudyDirection.MAXIMIZE
    for phase in PHASES:
        study = config_study(runs, phase)
        for trial in (study.get_trials(deepcopy=False) if study else []):
            if "label" not in trial.user_attrs:
                continue
            value = trial.value if trial.state == TrialState.COMPLETE else None
            if value is not None and (best is None or (value > best if maximize else value < best)):
                best = value
            found.append({"config": trial.user_attrs["label"], "phase": phase, "state": trial.state.name.lower(),
                          "value": value, "best_so_far": best, **json.loads(trial.user_attrs["point"])})
    return found


def importance(runs: optuna.Study) -> dict[str, float]:
    """Optuna's parameter importances (fANOVA) over the finished wide configurations; empty when
    fewer than two finished or nothing varied."""
    study = config_study(runs, "wide")
    if study is None or len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) < 2:
        return {}
    try:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        return {k: float(v) for k, v in optuna.importance.get_param_importances(study, evaluator=evaluator).items()}
    except (ValueError, RuntimeError):
        return {}


def repeats(table: list[dict], metric: str, baseline: str | None = None) -> list[dict]:
    """For every repeated configuration: each game's mean over the repeat seeds and its paired
    difference to the baseline game (the first by default), with the compare statistics."""
    from gangames.metrics.registry import better_direction
    from gangames.statistics import compare_to_baseline

    out = []
    for config in dict.fromkeys(r["config"] for r in table if r.get("phase") == "repeat"):
        values: dict[str, dict[int, float]] = {}
        for r in table:
            if r.get("config") == config and r.get("phase") == "repeat" and r["status"] == "finished":
                if isinstance(r.get(metric), (int, float)):
                    values.setdefault(r["game"], {})[int(r["seed"])] = float(r[metric])
        games = list(dict.fromkeys(r["game"] for r in table if r.get("config") == config))
        base = baseline or games[0]
        try:
            higher = better_direction(metric) == "higher"
        except KeyError:
            higher = True
        differences = {d.game: d for d in compare_to_baseline(values, base, metric, higher)}
        for game in games:
            seeds = values.get(game, {})
            d = differences.get(game)
            out.append({"config": config, "game": game, "seeds": len(seeds),
                        "mean": float(np.mean(list(seeds.values()))) if seeds else math.nan,
                        "difference": d.mean if d else None, "low": d.low if d else None,
                        "high": d.high if d else None, "p_holm": d.p_holm if d else None,
                        "verdict": d.verdict if d else "baseline"})
    return out


def rows(study: optuna.Study) -> list[dict]:
    """game, seed, hyperparameters, metrics, status for every trial, in trial order."""
    table = []
    for trial in study.get_trials(deepcopy=False):
        params = dict(trial.params or trial.system_attrs.get("fixed_params", {}))
        status = trial.user_attrs.get("status") or {"FAIL": "interrupted"}.get(trial.state.name, trial.state.name.lower())
        row = {"trial": trial.number, "key": trial.user_attrs.get("key"), "config": trial.user_attrs.get("config"),
               "phase": trial.user_attrs.get("phase"), "game": params.pop("game", None),
               "seed": params.pop("seed", None), "status": status}
        row.update({k: params[k] for k in sorted(params)})
        row.update({k[len("metric:"):]: v for k, v in sorted(trial.user_attrs.items()) if k.startswith("metric:")})
        if "error" in trial.user_attrs:
            row["error"] = trial.user_attrs["error"].splitlines()[0][:200]
        row["run"] = trial.user_attrs.get("run")
        table.append(row)
    return table


def summary(study: optuna.Study) -> dict:
    """What a report shows of a sweep: every run, the search in order with its best so far, the
    parameters' importance, and the repeated configurations with paired statistics."""
    table = rows(study)
    objective = study.user_attrs.get("objective")
    return {"rows": table, "search": search(study), "importance": importance(study), "objective": objective,
            "repeats": repeats(table, objective) if objective else []}


def write_csv(table: list[dict], path: str | Path) -> None:
    columns: list[str] = []
    for row in table:
        columns += [k for k in row if k not in columns]
    from gangames.io import atomic_open

    with atomic_open(path, "w") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(table)


def scored(row: dict, metric: str) -> float | None:
    """A trial's score on ``metric``: None unless the trial finished with a number that is not NaN."""
    value = row.get(metric)
    ok = row["status"] == "finished" and isinstance(value, (int, float)) and not math.isnan(value)
    return value if ok else None


def distribution(table: list[dict], metric: str, threshold: float | None = None) -> dict[str, dict]:
    """Per game: the metric's median, quartiles, min/max over finished trials (and the share of
    trials at or above ``threshold``, counting failed trials as below it)."""
    out = {}
    for game in dict.fromkeys(r["game"] for r in table):
        mine = [r for r in table if r["game"] == game]
        values = np.array([v for v in (scored(r, metric) for r in mine) if v is not None], dtype=np.float64)
        entry = {"trials": len(mine), "finished": int(len(values))}
        if len(values):
            q1, median, q3 = np.percentile(values, [25, 50, 75])
            entry.update({"median": float(median), "q1": float(q1), "q3": float(q3),
                          "min": float(values.min()), "max": float(values.max())})
        if threshold is not None:
            entry["share_at_least"] = float((values >= threshold).sum() / len(mine)) if mine else math.nan
        out[game] = entry
    return out
