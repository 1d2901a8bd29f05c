"""Sweeps: sampling, paired configurations, resume without reruns, recorded failures, a real Dask cluster."""

import math
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from gangames.errors import ConfigError
from gangames.sweep import spec as S
from gangames.sweep.results import distribution, load_study, rows, write_csv
from gangames.sweep.run import run_sweep

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


def test_axes_sample_their_distributions():
    rng = np.random.default_rng(0)
    log = S.Axis("a", "loguniform", (1e-5, 1e-1))
    values = np.array([log.sample(rng) for _ in range(4000)])
    assert values.min() >= 1e-5 and values.max() <= 1e-1
    assert np.median(values) == pytest.approx(1e-3, rel=0.15)  # the geometric midpoint
    assert np.mean(np.log10(values) < -4) == pytest.approx(0.25, abs=0.03)  # uniform in log space
    uniform = np.array([S.Axis("b", "uniform", (0.0, 1.0)).sample(rng) for _ in range(4000)])
    assert uniform.mean() == pytest.approx(0.5, abs=0.02)
    ints = [S.Axis("c", "int", (1, 5)).sample(rng) for _ in range(2000)]
    assert set(ints) == {1, 2, 3, 4, 5}
    assert {S.Axis("d", "choice", ([64], [128, 128])).sample(rng)[0] for _ in range(100)} == {64, 128}


def test_grid_and_ties():
    spec = S.parse({"sweep": {"name": "g", "games": ["ns"], "sampler": "grid"}, "base": BASE,
                    "space": {"generator.lr": {"choice": [1e-4, 1e-3]}, "game.disc_steps": {"int": [1, 3]}},
                    "tie": {"discriminator.lr": "generator.lr"}})
    points = spec.configurations()
    assert len(points) == 6
    assert {(p["generator.lr"], p["game.disc_steps"]) for p in points} == {(a, b) for a in (1e-4, 1e-3) for b in (1, 2, 3)}
    assert all(p["discriminator.lr"] == p["generator.lr"] for p in points)
    cfg = spec.run_config(points[0], "wgan-gp", 7)
    assert (cfg.game.name, cfg.run.seed, cfg.discriminator.lr) == ("wgan-gp", 7, points[0]["generator.lr"])


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
    assert first["enqueued"] == 4 and first["ran"] == 4
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
    assert (again["complete"], again["enqueued"], again["ran"]) == (4, 0, 0)
    # More configurations later: only the new ones run.
    more = run_sweep(spec_of(sweep={"trials": 3}), tmp_path, workers=2)
    assert (more["complete"], more["enqueued"], more["ran"]) == (4, 2, 2)
    write_csv(rows(load_study(tmp_path / "study.db")), tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text().count("\n") == 7


def test_an_interrupted_sweep_reruns_only_the_unfinished_trial(tmp_path, monkeypatch):
    spec = spec_of(sweep={"games": ["ns"], "trials": 3})
    import gangames.sweep.run as R

    real_record, calls = R.record, []

    def record_then_stop(study, trial, spec_, outcome):
        real_record(study, trial, spec_, outcome)
        calls.append(outcome.name)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C with the third trial in flight

    monkeypatch.setattr(R, "record", record_then_stop)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, tmp_path, workers=2)
    monkeypatch.setattr(R, "record", real_record)
    resumed = run_sweep(spec, tmp_path, workers=2)
    assert (resumed["complete"], resumed["retried"], resumed["ran"]) == (2, 1, 1)
    table = [r for r in rows(load_study(tmp_path / "study.db")) if r["status"] == "finished"]
    assert sorted(r["key"] for r in table) == ["000/ns/seed0", "001/ns/seed0", "002/ns/seed0"]
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
    summary = distribution(table, "hq", threshold=0.0)
    assert summary["ns"]["trials"] == 2 and summary["ns"]["finished"] == 1 and summary["ns"]["share_at_least"] == 0.5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_trials_run_on_a_real_dask_cluster(tmp_path):
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                  "--port", str(port), "--dashboard-address", ":0", "--no-show"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                               "--nworkers", "2", "--no-dashboard", "--local-directory", str(tmp_path / "dask")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        from distributed import Client

        deadline = time.time() + 60
        while True:
            try:
                with Client(address, timeout="5s") as client:
                    if len(client.scheduler_info()["workers"]) >= 2:
                        break
            except OSError:
                pass
            assert time.time() < deadline, "the Dask cluster did not start"
            time.sleep(0.5)
        counts = run_sweep(spec_of(), tmp_path / "sweep", scheduler=address)
        assert counts["ran"] == 4
        table = rows(load_study(tmp_path / "sweep" / "study.db"))
        assert [r["status"] for r in table] == ["finished"] * 4
        assert all(not math.isnan(r["hq"]) for r in table)
    finally:
        worker.terminate()
        scheduler.terminate()
        worker.wait(30)
        scheduler.wait(30)
