"""Sweeps: sampling, paired configurations, resume without reruns, recorded failures, a real Dask cluster."""

import math

import numpy as np
import pytest

from gangames.errors import ConfigError
from helpers import DaskCluster
from gangames.sweep import spec as S
from gangames.runner import Outcome
from gangames.sweep.results import distribution as summary_of, importance, load_study, repeats, rows, search, write_csv
from gangames.sweep.run import run_sweep
from gangames.sweep.study import Sweep, decode, distribution

BASE = {"run": {"steps": 20}, "data": {"batch_size": 32}, "generator": {"hidden": [16]},
        "discriminator": {"hidden": [16]}, "eval": {"mode_samples": 200}}


def spec_of(**sweep):
    data = {"sweep": {"name": "t", "games": ["ns", "wgan-gp"], "seeds": [0], "trials": 2,
                      "metrics": ["modes"], "objective": "hq", "eval_samples": 200, **sweep.pop("sweep", {})},
            "base": BASE,
            "space": {"generator.lr": {"loguniform": [1e-4, 1e-2]}, "game.disc_steps": {"int": [1, 2]}},
            "tie": {"discriminator.lr": "generator.lr"}}
    data.update(sweep)
    return S.parse(data)


def test_axes_map_to_optunas_distributions():
    """The random sampler draws each axis kind from the distribution its name says."""
    import optuna

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    axes = {"a": S.Axis("a", "loguniform", (1e-5, 1e-1)), "b": S.Axis("b", "uniform", (0.0, 1.0)),
            "c": S.Axis("c", "int", (1, 5)), "d": S.Axis("d", "choice", ([64], [128, 128]))}
    drawn = [study.ask({k: distribution(a) for k, a in axes.items()}).params for _ in range(3000)]
    values = np.array([p["a"] for p in drawn])
    assert values.min() >= 1e-5 and values.max() <= 1e-1
    assert np.median(values) == pytest.approx(1e-3, rel=0.15)  # the geometric midpoint
    assert np.mean(np.log10(values) < -4) == pytest.approx(0.25, abs=0.03)  # uniform in log space
    assert np.mean([p["b"] for p in drawn]) == pytest.approx(0.5, abs=0.02)
    assert {p["c"] for p in drawn} == {1, 2, 3, 4, 5}
    assert {decode(p["d"])[0] for p in drawn} == {64, 128}


def proposed(spec, storage) -> list[dict]:
    """Every configuration the sweep proposes when no run has a result (the wide phase)."""
    sweep = Sweep(spec, storage)
    while sweep.propose():
        pass
    return [r for r in search(sweep.runs)]


def test_grid_and_ties(tmp_path):
    spec = S.parse({"sweep": {"name": "g", "games": ["ns"], "sampler": "grid"}, "base": BASE,
                    "space": {"generator.lr": {"choice": [1e-4, 1e-3]}, "game.disc_steps": {"int": [1, 3]}},
                    "tie": {"discriminator.lr": "generator.lr"}})
    points = proposed(spec, tmp_path / "g.db")
    assert len(points) == 6
    assert {(p["generator.lr"], p["game.disc_steps"]) for p in points} == {(a, b) for a in (1e-4, 1e-3) for b in (1, 2, 3)}
    assert all(p["discriminator.lr"] == p["generator.lr"] for p in points)
    cfg = spec.run_config({k: points[0][k] for k in ("generator.lr", "game.disc_steps", "discriminator.lr")}, "wgan-gp", 7)
    assert (cfg.game.name, cfg.run.seed, cfg.discriminator.lr) == ("wgan-gp", 7, points[0]["generator.lr"])


def fake_outcome(task, value: float) -> Outcome:
    return Outcome(task.name, task.out, "finished", {"metrics": {"hq": value, "modes": 1.0}})


def drive(sweep: Sweep, objective, tmp_path, limit: int = 1000) -> int:
    """Play a sweep without training: each run's hq is ``objective(its config point)``."""
    ran = 0
    while ran < limit:
        claimed = sweep.claim()
        if claimed is None and sweep.propose():
            claimed = sweep.claim()
        if claimed is None:
            return ran
        trial, fixed = claimed
        task = sweep.task_for(trial, fixed, tmp_path)
        point = {k: decode(v) for k, v in fixed.items() if k not in ("game", "seed")}
        sweep.record(trial, fake_outcome(task, objective(point)))
        ran += 1
    return ran


def peak(point) -> float:  # hq is best at lr = 1e-3
    return -(math.log10(point["generator.lr"]) + 3.0) ** 2


@pytest.mark.parametrize("sampler", ["tpe", "cmaes"])
def test_model_based_samplers_search_where_random_does_not(tmp_path, sampler):
    """After 10 random start-up configurations, TPE and CMA-ES propose near the optimum; the random
    sampler keeps spreading over the whole log range."""
    def last_distances(name):
        spec = spec_of(sweep={"sampler": name, "trials": 30, "startup_trials": 10, "games": ["ns"]},
                       space={"generator.lr": {"loguniform": [1e-6, 1.0]}})
        sweep = Sweep(spec, ":memory:")
        drive(sweep, peak, tmp_path / name)
        lrs = [r["generator.lr"] for r in search(sweep.runs)]
        assert len(lrs) == 30
        return np.abs(np.log10(lrs[-10:]) + 3.0)
    model, random = last_distances(sampler), last_distances("random")
    # Uniform in log10 over [-6, 0] puts a draw 1.5 decades from the optimum on average.
    assert np.median(model) < 0.75 and np.median(random) > 1.0


def test_narrow_then_repeat_phases(tmp_path):
    spec = spec_of(sweep={"sampler": "random", "trials": 8, "narrow_trials": 4, "narrow_top": 0.25, "repeat_top": 2,
                          "repeat_seeds": [1, 2, 3]},
                   space={"generator.lr": {"loguniform": [1e-6, 1.0]}, "game.disc_steps": {"int": [1, 5]}})
    sweep = Sweep(spec, ":memory:")
    assert drive(sweep, peak, tmp_path) == 2 * (8 + 4) + 2 * 2 * 3
    found = search(sweep.runs)
    wide = sorted((r for r in found if r["phase"] == "wide"), key=lambda r: -r["value"])[:2]
    narrow = [r for r in found if r["phase"] == "narrow"]
    assert len(narrow) == 4
    low, high = min(r["generator.lr"] for r in wide), max(r["generator.lr"] for r in wide)
    assert all(low <= r["generator.lr"] <= high for r in narrow)
    assert all(min(r["game.disc_steps"] for r in wide) <= r["game.disc_steps"] <= max(r["game.disc_steps"] for r in wide)
               for r in narrow)
    best = sorted((r for r in found), key=lambda r: -r["value"])[:2]
    table = rows(sweep.runs)
    repeated = {(r["config"], r["game"], r["seed"]) for r in table if r["phase"] == "repeat"}
    assert repeated == {(b["config"], g, s) for b in best for g in ("ns", "wgan-gp") for s in (1, 2, 3)}
    # The configuration's value is the games' mean objective over its seeds.
    first = found[0]
    mine = [r["hq"] for r in table if r["config"] == first["config"] and r["phase"] == "wide"]
    assert first["value"] == pytest.approx(np.mean(mine)) and len(mine) == 2
    assert set(importance(sweep.runs)) == {"generator.lr", "game.disc_steps"}
    stats = repeats(table, "hq")
    assert {(r["config"], r["game"]) for r in stats} == {(b["config"], g) for b in best for g in ("ns", "wgan-gp")}


def test_a_resumed_search_continues_the_same_search(tmp_path):
    spec = spec_of(sweep={"sampler": "tpe", "trials": 14, "startup_trials": 4, "games": ["ns"]},
                   space={"generator.lr": {"loguniform": [1e-6, 1.0]}})
    whole = Sweep(spec, ":memory:")
    drive(whole, peak, tmp_path / "a")
    first = Sweep(spec, tmp_path / "split.db")
    drive(first, peak, tmp_path / "b", limit=7)
    again = Sweep(spec, tmp_path / "split.db")  # a new coordinator on the same study
    drive(again, peak, tmp_path / "b")
    lrs = [r["generator.lr"] for r in search(whole.runs)]
    assert len(set(lrs)) == len(lrs) == 14  # a search, not one point asked again
    assert lrs == [r["generator.lr"] for r in search(again.runs)]
    assert again.runs.user_attrs["sampler"] == {"name": "tpe", "seed": 0}


def test_bad_specs_are_one_line_errors():
    with pytest.raises(ConfigError, match="unknown game 'nsx'"):
        spec_of(sweep={"games": ["nsx"]})
    with pytest.raises(ConfigError, match="loguniform needs low > 0"):
        spec_of(space={"generator.lr": {"loguniform": [0, 1]}})
    with pytest.raises(ConfigError, match="unknown config key 'generator.lrr'"):
        spec_of(space={"generator.lrr": {"uniform": [0, 1]}}, tie={})
    with pytest.raises(ConfigError, match="unknown key 'trails' in \\[sweep\\]"):
        spec_of(sweep={"trails": 3})


def test_sweep_runs_paired_trials_and_resumes_without_rerunning(tmp_path):
    spec = spec_of()
    first = run_sweep(spec, tmp_path, workers=2)
    assert first["ran"] == 4
    table = rows(load_study(tmp_path / "study.db"))
    assert [r["status"] for r in table] == ["finished"] * 4
    # Paired: both games played exactly the same sampled configurations.
    by_game = {g: sorted((r["generator.lr"], r["game.disc_steps"]) for r in table if r["game"] == g)
               for g in ("ns", "wgan-gp")}
    assert by_game["ns"] == by_game["wgan-gp"]
    assert all(r["discriminator.lr"] == r["generator.lr"] for r in table)
    assert all(0 <= r["hq"] <= 1 and r["modes"] >= 0 for r in table)
    # A second call finds everything done: nothing is enqueued or run again.
    again = run_sweep(spec, tmp_path, workers=2)
    assert (again["complete"], again["ran"]) == (4, 0)
    # More configurations later: only the new ones run.
    more = run_sweep(spec_of(sweep={"trials": 3}), tmp_path, workers=2)
    assert (more["complete"], more["ran"]) == (4, 2)
    write_csv(rows(load_study(tmp_path / "study.db")), tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text().count("\n") == 7
    # The report shows the search (3 configurations, each the games' mean hq) and what mattered.
    import gangames

    page = gangames.report(tmp_path / "study.db", tmp_path / "r.html").read_text()
    assert "Sweep t" in page and "3 configurations, each played by every game" in page
    assert 'alt="search t"' in page  # (importance: in test_narrow_then_repeat_phases, where values vary)
    found = search(load_study(tmp_path / "study.db"))
    table = rows(load_study(tmp_path / "study.db"))
    for config in found:
        mine = [r["hq"] for r in table if r["config"] == config["config"]]
        assert len(mine) == 2 and config["value"] == pytest.approx(np.mean(mine))


def test_an_interrupted_sweep_reruns_only_the_unfinished_trial(tmp_path, monkeypatch):
    spec = spec_of(sweep={"games": ["ns"], "trials": 3})
    import gangames.sweep.run as R

    real_record, calls = R.Sweep.record, []

    def record_then_stop(self, trial, outcome):
        real_record(self, trial, outcome)
        calls.append(outcome.name)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C with the third trial in flight

    monkeypatch.setattr(R.Sweep, "record", record_then_stop)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, tmp_path, workers=2)
    monkeypatch.setattr(R.Sweep, "record", real_record)
    resumed = run_sweep(spec, tmp_path, workers=2)
    assert (resumed["complete"], resumed["retried"], resumed["ran"]) == (2, 1, 1)
    table = [r for r in rows(load_study(tmp_path / "study.db")) if r["status"] == "finished"]
    assert sorted(r["key"] for r in table) == ["wide-000/ns/seed0", "wide-001/ns/seed0", "wide-002/ns/seed0"]
    import json

    for row in table:  # each run trained exactly once
        info = json.loads((tmp_path / "trials" / row["key"].replace("/", "-") / "run.json").read_text())
        assert len(info["sessions"]) == 1


def test_a_diverging_trial_is_recorded_and_the_sweep_goes_on(tmp_path):
    spec = spec_of(sweep={"games": ["ns"], "trials": 2},
                   space={"generator.lr": {"choice": [1e-3, 1e12]}},
                   tie={"discriminator.lr": "generator.lr"},
                   base={**BASE, "generator": {"hidden": [16], "optimizer": "sgd"},
                         "discriminator": {"hidden": [16], "optimizer": "sgd"}, "run": {"steps": 60, "log_every": 1}})
    spec.axes[0] = S.Axis("generator.lr", "choice", (1e-3, 1e12))
    spec.sampler = "grid"
    counts = run_sweep(spec, tmp_path, workers=1)
    assert counts["ran"] == 2
    table = rows(load_study(tmp_path / "study.db"))
    status = {r["generator.lr"]: r["status"] for r in table}
    assert status == {1e-3: "finished", 1e12: "diverged"}
    failed = next(r for r in table if r["status"] == "diverged")
    assert "became" in failed["error"] and "step" in failed["error"]
    assert run_sweep(spec, tmp_path, workers=1)["ran"] == 0  # a recorded failure is not rerun
    summary = summary_of(table, "hq", threshold=0.0)
    assert summary["ns"]["trials"] == 2 and summary["ns"]["finished"] == 1 and summary["ns"]["share_at_least"] == 0.5


def test_trials_run_on_a_real_dask_cluster(tmp_path):
    with DaskCluster(tmp_path / "dask") as address:
        counts = run_sweep(spec_of(), tmp_path / "sweep", scheduler=address)
    assert counts["ran"] == 4
    table = rows(load_study(tmp_path / "sweep" / "study.db"))
    assert [r["status"] for r in table] == ["finished"] * 4
    assert all(not math.isnan(r["hq"]) for r in table)


def test_a_sweep_compiles_where_its_trials_together_repay_it_unless_its_base_says():
    from gangames.build import COLD_COMPILE_FROM_STEPS

    point = {"generator.lr": 1e-3, "discriminator.lr": 1e-3, "game.disc_steps": 1}
    long = {"run": {**BASE["run"], "steps": 10_000}}
    many = spec_of(sweep={"trials": 5, "seeds": [0]}, base={**BASE, **long})  # 50 000 steps of each game
    assert many.steps_per_game(10_000) == COLD_COMPILE_FROM_STEPS
    assert many.run_config(point, "ns", 0).run.compile is True
    few = spec_of(sweep={"trials": 4, "seeds": [0]}, base={**BASE, **long})  # 40 000: left to the run's rule
    assert few.run_config(point, "ns", 0).run.compile is None
    off = spec_of(sweep={"trials": 10}, base={**BASE, "run": {"steps": 10_000, "compile": False}})
    assert off.run_config(point, "ns", 0).run.compile is False
