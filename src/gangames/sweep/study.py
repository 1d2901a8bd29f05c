"""Sweeps as Optuna studies: every (configuration, game, seed) is one enqueued trial.

The study lives in SQLite by default (a file next to the runs, no server) or in any database Optuna
supports (PostgreSQL: many machines share one study, each running ``gangames sweep SPEC
--storage URL``). Trials carry their key in a user attribute; a restarted sweep enqueues only the keys
that have no trial yet, never reruns a finished one, and records failures with their error.
"""

from __future__ import annotations

import math
from pathlib import Path

import optuna
from optuna.trial import TrialState

from gangames.metrics.registry import better_direction
from gangames.runner import Outcome, Task
from gangames.sweep.spec import SweepSpec

optuna.logging.set_verbosity(optuna.logging.WARNING)


def storage_url(storage: str | Path) -> str:
    """A database URL: a path (to a new or existing SQLite file) or a URL Optuna understands."""
    text = str(storage)
    return text if "://" in text else f"sqlite:///{Path(text).resolve()}"


def open_study(spec: SweepSpec, storage: str) -> optuna.Study:
    direction = "minimize"
    if spec.objective:
        try:
            direction = "maximize" if better_direction(spec.objective) == "higher" else "minimize"
        except KeyError:
            pass
    study = optuna.create_study(storage=storage_url(storage), study_name=spec.name, direction=direction,
                                load_if_exists=True)
    study.set_user_attr("games", spec.games)
    study.set_user_attr("axes", [a.key for a in spec.axes] + list(spec.ties))
    return study


def trial_key(config_id: int, game: str, seed: int) -> str:
    return f"{config_id:03d}/{game}/seed{seed}"


def enqueue(study: optuna.Study, spec: SweepSpec, retry_interrupted: bool) -> dict[str, int]:
    """Enqueue every planned trial that the study does not hold yet; returns counts by state."""
    by_key: dict[str, list] = {}
    for trial in study.get_trials(deepcopy=False):
        by_key.setdefault(trial.user_attrs.get("key"), []).append(trial)
    counts = {"complete": 0, "failed": 0, "waiting": 0, "running": 0, "enqueued": 0, "retried": 0}
    for config_id, point in enumerate(spec.configurations()):
        for game in spec.games:
            for seed in spec.seeds:
                key = trial_key(config_id, game, seed)
                states = [t.state for t in by_key.get(key, [])]
                if TrialState.COMPLETE in states:
                    counts["complete"] += 1
                    continue
                # A failure carries its status; a trial told FAIL without one was interrupted.
                if any(t.state == TrialState.FAIL and "status" in t.user_attrs for t in by_key.get(key, [])):
                    counts["failed"] += 1
                    continue
                if TrialState.WAITING in states:
                    counts["waiting"] += 1
                    continue
                if TrialState.RUNNING in states:
                    if not retry_interrupted:
                        counts["running"] += 1
                        continue
                    for trial in by_key[key]:
                        if trial.state == TrialState.RUNNING:
                            study.tell(trial.number, state=TrialState.FAIL)
                    counts["retried"] += 1
                params = {"game": game, "seed": seed, **point}
                study.enqueue_trial(_storable(params), user_attrs={"key": key, "config_id": config_id})
                counts["enqueued"] += 1
    return counts


def _storable(params: dict) -> dict:
    """Optuna stores numbers and strings; lists (hidden sizes) are stored as their text."""
    return {k: (str(v) if isinstance(v, list) else v) for k, v in params.items()}


def fixed_params(study: optuna.Study, trial: optuna.Trial) -> dict:
    """The parameters a trial was enqueued with (empty for a trial Optuna sampled itself)."""
    frozen = study.get_trials(deepcopy=False)[trial.number]
    return dict(frozen.system_attrs.get("fixed_params", {}))


def claim(study: optuna.Study) -> tuple[optuna.Trial, dict] | None:
    """Take the next waiting trial and its enqueued parameters, or None when none is left."""
    if not study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        return None
    trial = study.ask()
    fixed = fixed_params(study, trial)
    if not fixed:  # another worker took the last waiting trial meanwhile
        study.tell(trial, state=TrialState.FAIL)
        return None
    return trial, fixed


def task_for(trial: optuna.Trial, fixed: dict, spec: SweepSpec, out: Path) -> Task:
    # Optuna records a trial's parameters when they are "suggested"; the enqueued values come back.
    trial.suggest_categorical("game", spec.games)
    trial.suggest_int("seed", min(spec.seeds), max(spec.seeds))
    axes = {a.key: a for a in spec.axes}
    axes.update({key: axes[source] for key, source in spec.ties.items()})
    point = {}
    for key in fixed:
        if key in ("game", "seed"):
            continue
        axis = axes[key]
        if axis.kind in ("loguniform", "uniform"):
            value = trial.suggest_float(key, *axis.values, log=axis.kind == "loguniform")
        elif axis.kind == "int":
            value = trial.suggest_int(key, *axis.values)
        else:
            value = trial.suggest_categorical(key, [_storable({key: v})[key] for v in axis.values])
        point[key] = eval_list(value)
    cfg = spec.run_config(point, fixed["game"], int(fixed["seed"]))
    key = trial.user_attrs["key"]
    return Task(key, cfg, out / "trials" / key.replace("/", "-"), spec.metrics, spec.eval_samples)


def eval_list(value):
    """Undo :func:`_storable` for list values ("[64, 64]")."""
    if isinstance(value, str) and value.startswith("["):
        import json

        return json.loads(value)
    return value


def record(study: optuna.Study, trial: optuna.Trial, spec: SweepSpec, outcome: Outcome) -> None:
    """Write a finished run's metrics on its trial and complete it, or fail it with its error."""
    trial.set_user_attr("run", str(outcome.out))
    trial.set_user_attr("status", outcome.status)
    trial.set_user_attr("seconds", outcome.seconds)
    if outcome.status != "finished" or not outcome.eval:
        trial.set_user_attr("error", (outcome.error or outcome.status)[:2000])
        study.tell(trial, state=TrialState.FAIL)
        return
    metrics = outcome.eval["metrics"]
    for key, value in metrics.items():
        if not isinstance(value, list):
            trial.set_user_attr(f"metric:{key}", value)
    objective = spec.objective or next(iter(metrics))
    value = metrics.get(objective, math.nan)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        trial.set_user_attr("error", f"objective {objective} is not a number")
        study.tell(trial, state=TrialState.FAIL)
        return
    study.tell(trial, float(value))
