"""Sweeps as Optuna studies. One storage holds, for a sweep named NAME:

    NAME           the runs: one trial per (configuration, game, seed), keyed "wide-003/ns/seed0";
                   the queue the coordinators claim from, and the results table
    NAME:wide      the configurations of the wide search, one trial each, proposed by Optuna's
                   sampler (random, grid, TPE, CMA-ES); a configuration's value is told once every
                   game has played it on every seed (``[sweep] target``: the games' mean, or one game)
    NAME:narrow    the same search in the box the best wide configurations span (optional)
    repeat         the best configurations played again on more seeds (runs in NAME, phase "repeat")

Every game plays every configuration on the same seeds (paired). A configuration's trial holds its
full point (ties included) so any coordinator can enqueue and settle it; the sampler's seed is the
spec's seed plus the trials its study holds, so a resumed sweep continues the same search.

A run's trial carries a heartbeat (``heartbeat`` user attribute, seconds since the epoch) that its
coordinator refreshes while the run trains; a RUNNING trial whose heartbeat is older than
``stale_after`` lost its coordinator and is failed and enqueued again (its run resumes from its
last checkpoint, wherever it is claimed next).
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
import warnings
from pathlib import Path

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from gangames.metrics.registry import better_direction
from gangames.runner import Outcome, Task
from gangames.sweep.spec import Axis, SweepSpec

optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

PHASES = ("wide", "narrow")  # searched by a sampler; "repeat" follows them


# -- storage ----------------------------------------------------------------------------------
def storage_url(storage: str | Path) -> str:
    """What names a storage: a database URL, ``journal:PATH`` (a journal file, for a shared
    filesystem), a path (a SQLite file; a ``.journal`` or ``.log`` file is a journal), or
    ``:memory:`` (this process only)."""
    text = str(storage)
    if text == ":memory:":
        return text
    if text.startswith("journal:"):
        return f"journal:{Path(text[len('journal:'):]).resolve()}"
    if "://" in text:
        return text
    if text.endswith((".journal", ".log")):
        return f"journal:{Path(text).resolve()}"
    return f"sqlite:///{Path(text).resolve()}"


def make_storage(storage: str | Path):
    """An Optuna storage. PostgreSQL URLs (postgresql://...) use psycopg 3."""
    url = storage_url(storage)
    if url == ":memory:":  # this process only (Python use, tests)
        return optuna.storages.InMemoryStorage()
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        return JournalStorage(JournalFileBackend(url[len("journal:"):]))
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return optuna.storages.RDBStorage(url, heartbeat_interval=None, engine_kwargs={"pool_pre_ping": True})


def direction_of(spec: SweepSpec) -> str:
    if spec.objective:
        try:
            return "maximize" if better_direction(spec.objective) == "higher" else "minimize"
        except KeyError:
            pass
    return "minimize"


class Sweep:
    """The sweep's studies in one storage, and every decision about which run comes next."""

    def __init__(self, spec: SweepSpec, storage: str | Path):
        self.spec = spec
        self.storage = make_storage(storage)
        self.direction = direction_of(spec)
        self.runs = optuna.create_study(storage=self.storage, study_name=spec.name, direction=self.direction,
                                        load_if_exists=True)
        self.runs.set_user_attr("games", spec.games)
        self.runs.set_user_attr("axes", [a.key for a in spec.axes] + list(spec.ties))
        self.runs.set_user_attr("sampler", {"name": spec.sampler, "seed": spec.seed})
        self.runs.set_user_attr("objective", spec.objective)
        self.configs = {phase: optuna.create_study(storage=self.storage, study_name=f"{spec.name}:{phase}",
                                                   direction=self.direction, load_if_exists=True)
                        for phase in PHASES}

    # -- proposing configurations -------------------------------------------------------------
    def sampler(self, phase: str, distributions: dict) -> optuna.samplers.BaseSampler:
        spec = self.spec
        seed = spec.seed * 1000 + PHASES.index(phase) * 100_003 + len(self.configs[phase].get_trials(deepcopy=False))
        if spec.sampler == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if spec.sampler == "tpe":
            return optuna.samplers.TPESampler(seed=seed, n_startup_trials=spec.startup_trials, constant_liar=True,
                                              multivariate=True)
        if spec.sampler == "cmaes":
            return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=spec.startup_trials,
                                                warn_independent_sampling=False)
        grid = {key: list(d.choices) for key, d in distributions.items()}
        return optuna.samplers.GridSampler(grid, seed=spec.seed)

    def budget(self, phase: str) -> int:
        if phase == "wide":
            return self.spec.grid_size() if self.spec.sampler == "grid" else self.spec.trials
        return self.spec.narrow_trials

    def propose(self) -> bool:
        """Ask the current phase's sampler for one more configuration and enqueue its runs.
        False when the phase has all its configurations (or must wait for results to narrow)."""
        for phase in PHASES:
            study = self.configs[phase]
            asked = study.get_trials(deepcopy=False)
            if len(asked) < self.budget(phase):
                if phase == "narrow" and not self.done("wide"):
                    return False  # the box is drawn from finished wide configurations
                distributions = self.distributions(phase)
                if distributions is None:
                    return False
                study.sampler = self.sampler(phase, distributions)
                trial = study.ask(distributions)
                if trial.number >= self.budget(phase):  # another coordinator asked the last one
                    study.tell(trial, state=TrialState.FAIL)
                    return False
                point = self.spec.with_ties({k: decode(v) for k, v in trial.params.items()})
                label = f"{phase}-{trial.number:03d}"
                trial.set_user_attr("point", json.dumps(point))
                trial.set_user_attr("label", label)
                self.enqueue_runs(label, point, phase, self.spec.seeds)
                return True
            if not self.done(phase):
                return False
        return self.enqueue_repeats()

    def distributions(self, phase: str) -> dict | None:
        axes = self.spec.axes
        if phase == "narrow":
            axes = self.narrowed()
            if axes is None:
                return None
        if self.spec.sampler == "grid":
            return {a.key: CategoricalDistribution([storable({a.key: v})[a.key] for v in a.grid()]) for a in axes}
        return {a.key: distribution(a) for a in axes}

    def narrowed(self) -> list[Axis] | None:
        """The wide axes shrunk to the range the best ``narrow_top`` share of the finished wide
        configurations span (choices: the values they used)."""
        best = self.ranked("wide")
        if not best:
            return None
        keep = best[:max(1, math.ceil(self.spec.narrow_top * len(best)))]
        points = [json.loads(t.user_attrs["point"]) for t in keep]
        axes = []
        for axis in self.spec.axes:
            values = [p[axis.key] for p in points]
            if axis.kind == "choice":
                used = [v for v in axis.values if v in values]
                axes.append(Axis(axis.key, "choice", tuple(used)))
            else:
                low, high = min(values), max(values)
                if low == high:  # a single best value: a box around it
                    low, high = (low / 1.5, high * 1.5) if axis.kind == "loguniform" else (low, high)
                lo, hi = axis.values
                axes.append(Axis(axis.key, axis.kind, (max(lo, low), min(hi, high))))
        return axes

    def ranked(self, *phases: str) -> list[optuna.trial.FrozenTrial]:
        """Finished configurations of ``phases``, best first."""
        done = [t for phase in phases for t in self.configs[phase].get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
        return sorted(done, key=lambda t: t.value, reverse=self.direction == "maximize")

    def done(self, phase: str) -> bool:
        """All the phase's configurations asked and settled."""
        trials = self.configs[phase].get_trials(deepcopy=False)
        return len(trials) >= self.budget(phase) and all(t.state.is_finished() for t in trials)

    def enqueue_repeats(self) -> bool:
        spec = self.spec
        if not spec.repeat_top or not spec.repeat_seeds or self.runs.user_attrs.get("repeated"):
            return False
        best = self.ranked(*PHASES)[:spec.repeat_top]
        for trial in best:
            self.enqueue_runs(trial.user_attrs["label"], json.loads(trial.user_attrs["point"]), "repeat",
                              spec.repeat_seeds)
        self.runs.set_user_attr("repeated", [t.user_attrs["label"] for t in best])
        return bool(best)

    # -- the runs' queue ----------------------------------------------------------------------
    def by_key(self) -> dict[str, list[optuna.trial.FrozenTrial]]:
        found: dict[str, list] = {}
        for trial in self.runs.get_trials(deepcopy=False):
            found.setdefault(trial.user_attrs.get("key"), []).append(trial)
        return found

    def enqueue_runs(self, label: str, point: dict, phase: str, seeds: list[int]) -> int:
        """Enqueue the runs of one configuration that the study does not hold yet (or holds only
        as interrupted trials)."""
        held, added = self.by_key(), 0
        for game in self.spec.games:
            for seed in seeds:
                key = run_key(label, game, seed)
                trials = held.get(key, [])
                if any(t.state in (TrialState.COMPLETE, TrialState.WAITING, TrialState.RUNNING) or failed(t)
                       for t in trials):
                    continue
                params = storable({"game": game, "seed": seed, **point})
                self.runs.enqueue_trial(params, user_attrs={"key": key, "config": label, "phase": phase})
                added += 1
        return added

    def restore(self) -> int:
        """After a restart: every asked configuration has all its runs enqueued and, when they are
        all done, its value told. Returns the runs enqueued again (interrupted ones included)."""
        added, points = 0, {}
        for phase in PHASES:
            for trial in self.configs[phase].get_trials(deepcopy=False):
                if "point" in trial.user_attrs:
                    label = trial.user_attrs["label"]
                    points[label] = json.loads(trial.user_attrs["point"])
                    added += self.enqueue_runs(label, points[label], phase, self.spec.seeds)
                    if trial.state == TrialState.RUNNING:
                        self.settle(label)
        for label in self.runs.user_attrs.get("repeated", []):
            added += self.enqueue_runs(label, points[label], "repeat", self.spec.repeat_seeds)
        return added

    def claim(self) -> tuple[optuna.Trial, dict] | None:
        """Take the next waiting run and its parameters, or None when none is waiting."""
        while self.runs.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            trial = self.runs.ask()
            fixed = dict(self.runs.get_trials(deepcopy=False)[trial.number].system_attrs.get("fixed_params", {}))
            if not fixed:  # another coordinator took the last waiting run meanwhile
                self.runs.tell(trial, state=TrialState.FAIL)
                return None
            key = trial.user_attrs["key"]
            if any(t.number != trial.number and (t.state == TrialState.COMPLETE or failed(t))
                   for t in self.by_key().get(key, [])):
                trial.set_user_attr("status", "duplicate")  # enqueued twice by racing coordinators
                self.runs.tell(trial, state=TrialState.FAIL)
                continue
            trial.set_user_attr("owner", f"{socket.gethostname()}:{os.getpid()}")
            trial.set_user_attr("heartbeat", time.time())
            return trial, fixed
        return None

    def reap(self, mine: set[int], stale_after: float, everything: bool = False) -> int:
        """Fail the RUNNING runs that lost their coordinator (heartbeat older than ``stale_after``
        seconds; with ``everything``, all that are not ``mine``) and enqueue them again."""
        now, retried = time.time(), 0
        for trial in self.runs.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if trial.number in mine:
                continue
            beat = trial.user_attrs.get("heartbeat", trial.datetime_start.timestamp() if trial.datetime_start else 0)
            if not everything and now - beat < stale_after:
                continue
            try:
                self.runs.tell(trial.number, state=TrialState.FAIL)
            except (RuntimeError, ValueError):  # another coordinator reaped it first
                continue
            fixed = dict(trial.system_attrs.get("fixed_params", {}))
            self.runs.enqueue_trial(fixed, user_attrs={k: trial.user_attrs[k] for k in ("key", "config", "phase")})
            retried += 1
        return retried

    def task_for(self, trial: optuna.Trial, fixed: dict, out: Path) -> Task:
        spec = self.spec
        # Optuna records a trial's parameters when they are "suggested"; the enqueued values come back.
        trial.suggest_categorical("game", spec.games)
        trial.suggest_int("seed", min(spec.all_seeds()), max(spec.all_seeds()))
        axes = {a.key: a for a in spec.axes}
        axes.update({key: axes[source] for key, source in spec.ties.items()})
        point = {key: decode(suggest(trial, key, axes[key])) for key in fixed if key not in ("game", "seed")}
        cfg = spec.run_config(point, fixed["game"], int(fixed["seed"]))
        key = trial.user_attrs["key"]
        return Task(key, cfg, out / "trials" / key.replace("/", "-"), spec.metrics, spec.eval_samples)

    def record(self, trial: optuna.Trial, outcome: Outcome) -> None:
        """Write a finished run's metrics on its trial and complete it (or fail it with its error),
        then settle its configuration."""
        trial.set_user_attr("run", str(outcome.out))
        trial.set_user_attr("status", outcome.status)
        trial.set_user_attr("seconds", outcome.seconds)
        value, error = math.nan, outcome.error or outcome.status
        if outcome.status == "finished" and outcome.eval:
            metrics = outcome.eval["metrics"]
            for key, metric in metrics.items():
                if not isinstance(metric, list):
                    trial.set_user_attr(f"metric:{key}", metric)
            objective = self.spec.objective or next(iter(metrics))
            value = metrics.get(objective, math.nan)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                error, value = f"objective {objective} is not a number", math.nan
        if math.isnan(value):
            trial.set_user_attr("error", error[:2000])
            self.runs.tell(trial, state=TrialState.FAIL)
        else:
            self.runs.tell(trial, float(value))
        self.settle(trial.user_attrs.get("config"))

    def settle(self, label: str | None) -> None:
        """Tell a configuration its value once every game played it on every seed: per game the mean
        objective over its finished seeds, then ``[sweep] target`` (the games' mean, or one game's)."""
        if not label or not label.startswith(PHASES):
            return
        phase, number = label.split("-")
        study = self.configs[phase]
        config = study.get_trials(deepcopy=False)[int(number)]
        if config.state != TrialState.RUNNING:
            return
        held = self.by_key()
        per_game: dict[str, list[float]] = {}
        for game in self.spec.games:
            for seed in self.spec.seeds:
                trials = held.get(run_key(label, game, seed), [])
                done = [t for t in trials if t.state == TrialState.COMPLETE or failed(t)]
                if not done:
                    return  # still to run
                per_game.setdefault(game, []).extend(t.value for t in done if t.state == TrialState.COMPLETE)
        means = {g: float(np.mean(v)) for g, v in per_game.items() if v}
        target = self.spec.target
        value = means.get(target) if target != "mean" else (float(np.mean(list(means.values()))) if means else None)
        try:
            if value is None:
                study.tell(config.number, state=TrialState.FAIL)
            else:
                study.tell(config.number, value)
        except (RuntimeError, ValueError):  # another coordinator settled it first
            pass


def run_key(label: str, game: str, seed: int) -> str:
    return f"{label}/{game}/seed{seed}"


def failed(trial: optuna.trial.FrozenTrial) -> bool:
    """A run that ended in a recorded failure (it carries a status), not an interruption."""
    return trial.state == TrialState.FAIL and "status" in trial.user_attrs and trial.user_attrs["status"] != "duplicate"


def distribution(axis: Axis):
    if axis.kind in ("loguniform", "uniform"):
        return FloatDistribution(*axis.values, log=axis.kind == "loguniform")
    if axis.kind == "int":
        return IntDistribution(*axis.values)
    return CategoricalDistribution([storable({axis.key: v})[axis.key] for v in axis.values])


def suggest(trial: optuna.Trial, key: str, axis: Axis):
    if axis.kind in ("loguniform", "uniform"):
        return trial.suggest_float(key, *axis.values, log=axis.kind == "loguniform")
    if axis.kind == "int":
        return trial.suggest_int(key, *axis.values)
    return trial.suggest_categorical(key, distribution(axis).choices)


def storable(params: dict) -> dict:
    """Optuna stores numbers and strings; lists (hidden sizes) are stored as their JSON text."""
    return {k: (json.dumps(v) if isinstance(v, list) else v) for k, v in params.items()}


def decode(value):
    """Undo :func:`storable` for list values ("[64, 64]")."""
    if isinstance(value, str) and value.startswith("["):
        return json.loads(value)
    return value
