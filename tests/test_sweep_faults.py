"""Sweeps under faults: one writer per run folder, heartbeats, workers and coordinators killed -9,
shared studies on PostgreSQL and on a journal file. Every test is bounded and loopback only."""

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import tomli_w
from optuna.trial import TrialState

from gangames.config import Config, apply_overrides, from_dict
from gangames.sweep import spec as S
from gangames.sweep.results import load_study, rows
from gangames.sweep.run import Heartbeats, run_sweep
from gangames.sweep.study import Sweep
from gangames.training.lock import FolderBusy
from gangames.training.run_dir import RunDir
from gangames.training.trainer import Trainer
from helpers import DaskCluster, free_port

TESTS = str(Path(__file__).parent)
BASE = {"run": {"steps": 60, "checkpoint_every": 10, "plugins": ["sweep_faults"]},
        "data": {"batch_size": 32}, "generator": {"hidden": [16]}, "discriminator": {"hidden": [16]},
        "eval": {"mode_samples": 200}}


def spec_data(name="f", trials=2, games=("ns",), **sweep):
    return {"sweep": {"name": name, "games": list(games), "seeds": [0], "trials": trials, "sampler": "random",
                      "metrics": ["modes"], "objective": "hq", "eval_samples": 200, "heartbeat": 1.0,
                      "stale_after": 4.0, **sweep},
            "base": BASE, "space": {"generator.lr": {"loguniform": [1e-4, 1e-3]}}}


def hold_lock(path: Path) -> subprocess.Popen:
    code = ("import sys, time; from gangames.training.run_dir import RunDir\n"
            "with RunDir(sys.argv[1]).lock():\n    print('held', flush=True); time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_two_trainers_never_write_one_folder_and_a_killed_holder_frees_it(tmp_path):
    out = tmp_path / "run"
    cfg = apply_overrides(Config(), ["run.steps=5", "run.progress=false", "data.batch_size=16",
                                     "generator.hidden=[8]", "discriminator.hidden=[8]"])
    trainer = Trainer(cfg, out)
    other = hold_lock(out)
    try:
        with pytest.raises(FolderBusy, match=f"run folder .*run is in use by pid {other.pid} on "):
            trainer.run()
        assert trainer.step == 0 and not RunDir(out).has_checkpoint()
    finally:
        other.send_signal(signal.SIGKILL)
        other.wait(10)
    assert trainer.run().status == "finished"  # the kernel dropped the dead holder's lock
    assert RunDir(out).has_checkpoint()


def test_a_lost_coordinators_runs_are_retried_and_live_ones_are_not(tmp_path):
    spec = S.parse(spec_data(trials=2))
    sweep = Sweep(spec, tmp_path / "s.db")
    assert sweep.propose() and sweep.propose()
    (lost, _), (live, _) = sweep.claim(), sweep.claim()
    sweep.storage.set_trial_user_attr(lost._trial_id, "heartbeat", time.time() - 60)
    assert sweep.reap(set(), stale_after=30) == 1
    states = {t.number: t.state for t in sweep.runs.get_trials()}
    assert states[lost.number] == TrialState.FAIL and states[live.number] == TrialState.RUNNING
    waiting = sweep.runs.get_trials(states=(TrialState.WAITING,))
    assert [t.user_attrs["key"] for t in waiting] == [lost.user_attrs["key"]]
    # The coordinator's thread keeps a live run's heartbeat fresh.
    before = sweep.runs.get_trials()[live.number].user_attrs["heartbeat"]
    beats = Heartbeats(str(tmp_path / "s.db"), interval=0.2)
    beats.add(live._trial_id)
    time.sleep(1.0)
    beats.close()
    assert sweep.runs.get_trials()[live.number].user_attrs["heartbeat"] > before + 0.5
    sweep.storage.set_trial_user_attr(live._trial_id, "heartbeat", time.time())
    assert sweep.reap(set(), stale_after=30) == 0


def sessions(run: Path) -> list[dict]:
    return json.loads((run / "run.json").read_text())["sessions"]


def test_a_worker_killed_mid_trial_is_survived(tmp_path, monkeypatch):
    monkeypatch.setenv("GANGAMES_KILL_ONCE", str(tmp_path / "killed"))
    data = spec_data(trials=2)
    data["base"] = {**BASE, "data": {**BASE["data"], "preset": "killer-once"}}
    counts = run_sweep(S.parse(data), tmp_path / "sweep", workers=2)
    assert (tmp_path / "killed").exists()  # a worker did die
    table = rows(load_study(tmp_path / "sweep" / "study.db"))
    finished = [r for r in table if r["status"] == "finished"]
    assert sorted(r["key"] for r in finished) == ["wide-000/ns/seed0", "wide-001/ns/seed0"]  # each once
    assert counts["ran"] == 2
    resumed = [sessions(Path(r["run"])) for r in finished if len(sessions(Path(r["run"]))) > 1]
    assert resumed and all(s[-1]["from_step"] >= 10 for s in resumed)  # from a checkpoint, not from 0
    assert all(s[-1]["to_step"] == 60 for s in map(lambda r: sessions(Path(r["run"])), finished))


def test_a_command_that_trains_many_runs_survives_a_killed_worker(tmp_path, monkeypatch):
    """runner.run_many (reproductions, compare, the API's many runs) as a sweep: the run whose worker
    died resumes from its checkpoint in a new worker, and every run finishes once."""
    from gangames.runner import Task, run_many

    monkeypatch.setenv("GANGAMES_KILL_ONCE", str(tmp_path / "killed"))
    base = {**BASE, "data": {**BASE["data"], "preset": "killer-once"}}
    cfg = from_dict(base, Config())
    tasks = [Task(f"seed{i}", apply_overrides(cfg, [f"run.seed={i}"]), tmp_path / f"seed{i}", ["modes"], 200) for i in (0, 1)]
    outcomes = run_many(tasks, workers=2)
    assert (tmp_path / "killed").exists()  # a worker did die
    assert [o.status for o in outcomes] == ["finished", "finished"]
    # The broken pool takes the other worker down too: each run resumed at most once, from a checkpoint.
    runs = [sessions(tmp_path / f"seed{i}") for i in (0, 1)]
    assert any(len(s) == 2 for s in runs) and all(len(s) <= 2 for s in runs)
    assert all(s[-1]["from_step"] >= 10 for s in runs if len(s) == 2)
    assert all(s[-1]["to_step"] == 60 for s in runs)


def test_a_trial_that_keeps_killing_workers_is_given_up_and_the_sweep_goes_on(tmp_path, monkeypatch):
    monkeypatch.setenv("GANGAMES_KILL_AT", "5")  # before the first checkpoint: every attempt dies
    data = spec_data()
    data["sweep"].update(sampler="grid")
    data["space"] = {"data.preset": {"choice": ["ring8", "killer"]}}
    counts = run_sweep(S.parse(data), tmp_path / "sweep", workers=1)
    assert counts["ran"] == 2
    status = {r["data.preset"]: (r["status"], r.get("error", "")) for r in rows(load_study(tmp_path / "sweep" / "study.db"))}
    assert status["ring8"] == ("finished", "")
    assert status["killer"][0] == "failed" and "killed 3 workers" in status["killer"][1]
    # A recorded failure is not run again by the next coordinator.
    assert run_sweep(S.parse(data), tmp_path / "sweep", workers=1)["ran"] == 0


@pytest.fixture
def postgres():
    """A PostgreSQL server of its own on a loopback port (Debian's package), stopped afterwards."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins:
        pytest.skip("PostgreSQL is not installed (./scripts/system-packages installs it)")
    bindir = Path(bins[-1])
    root = Path(tempfile.mkdtemp(prefix="gangames-pg-", dir="/tmp"))
    as_user = []
    if os.geteuid() == 0:  # the server refuses to run as root
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    server = None
    try:
        subprocess.run([*as_user, bindir / "initdb", "-D", root / "data", "-A", "trust", "-U", "gangames"],
                       check=True, capture_output=True)
        server = subprocess.Popen([*as_user, bindir / "postgres", "-D", root / "data", "-p", str(port), "-h",
                                   "127.0.0.1", "-k", root, "-c", "fsync=off"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while subprocess.run([bindir / "pg_isready", "-h", "127.0.0.1", "-p", str(port)],
                             capture_output=True).returncode != 0:
            assert time.time() < deadline and server.poll() is None, "PostgreSQL did not start"
            time.sleep(0.2)
        subprocess.run([bindir / "createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "gangames", "sweeps"],
                       check=True, capture_output=True)
        yield f"postgresql://gangames@127.0.0.1:{port}/sweeps"
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        shutil.rmtree(root, ignore_errors=True)


def coordinator(spec_file: Path, out: Path, storage: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([TESTS, os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-m", "gangames", "sweep", str(spec_file), "--out", str(out),
                             "--storage", storage, "--workers", "1"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def running_with_checkpoint(storage: str, out: Path, proc: subprocess.Popen, deadline: float) -> str:
    """Wait for a trial of ``proc``'s coordinator to run with a checkpoint written; its key."""
    study = None
    while True:
        assert time.time() < deadline, "no trial of the coordinator got going"
        assert proc.poll() is None, proc.stdout.read()
        time.sleep(0.3)
        try:
            study = study or load_study(storage, "shared")
        except Exception:
            continue
        for trial in study.get_trials(states=(TrialState.RUNNING,)):
            run = out / "trials" / trial.user_attrs["key"].replace("/", "-")
            if trial.user_attrs.get("owner", "").endswith(f":{proc.pid}") and RunDir(run).has_checkpoint():
                return trial.user_attrs["key"]


def shared_spec(tmp_path: Path, trials: int) -> Path:
    data = spec_data(name="shared", trials=trials)
    data["base"] = {**BASE, "run": {**BASE["run"], "steps": 400, "checkpoint_every": 50}}
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text(tomli_w.dumps(data))
    return spec_file


def check_exactly_once(storage: str, out: Path, trials: int, victim: str) -> None:
    table = rows(load_study(storage, "shared"))
    done = [r["key"] for r in table if r["status"] == "finished"]
    assert sorted(done) == [f"wide-{i:03d}/ns/seed0" for i in range(trials)]  # every configuration exactly once
    runs = sessions(out / "trials" / victim.replace("/", "-"))
    assert len(runs) >= 2 and runs[-1]["from_step"] >= 50 and runs[-1]["to_step"] == 400  # resumed, then finished
    assert all(len(sessions(out / "trials" / k.replace("/", "-"))) == 1 for k in done if k != victim)


@pytest.mark.slow  # about 80 s on 2 cores
def test_a_coordinator_killed_and_started_again_reruns_only_what_it_left(tmp_path):
    storage, out = str(tmp_path / "study.db"), tmp_path / "sweep"
    spec_file = shared_spec(tmp_path, trials=3)
    first = coordinator(spec_file, out, storage)
    try:
        victim = running_with_checkpoint(storage, out, first, time.time() + 240)
    finally:
        first.kill()
        first.wait(30)
    again = coordinator(spec_file, out, storage)  # waits out the dead one's heartbeat, then retries
    output, _ = again.communicate(timeout=300)
    assert again.returncode == 0, output
    assert "1 retried" in output
    check_exactly_once(storage, out, 3, victim)


@pytest.mark.slow  # about 80 s each on 2 cores
@pytest.mark.parametrize("store", ["postgresql", "journal"])
def test_two_coordinators_one_killed_every_configuration_completes_once(tmp_path, store, request):
    storage = request.getfixturevalue("postgres") if store == "postgresql" else f"journal:{tmp_path / 'study.journal'}"
    spec_file = shared_spec(tmp_path, trials=6)
    out = tmp_path / "sweep"  # the shared filesystem of both coordinators
    first, second = coordinator(spec_file, out, storage), coordinator(spec_file, out, storage)
    try:  # kill the second coordinator once it is running a trial whose run has a checkpoint
        victim = running_with_checkpoint(storage, out, second, time.time() + 240)
        second.send_signal(signal.SIGKILL)
        second.wait(30)
        output, _ = first.communicate(timeout=300)
        assert first.returncode == 0, output
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
    check_exactly_once(storage, out, 6, victim)


def test_dask_survives_a_killed_worker_and_gives_up_on_a_trial_that_keeps_killing(tmp_path):
    """A real cluster (a scheduler and two nanny-managed workers on loopback). Dask retries a task
    whose worker died; after ``allowed-failures`` deaths (2 here: the third death) it raises
    KilledWorker, which the sweep records as the trial's failure and goes on."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([TESTS, os.environ.get("PYTHONPATH", "")]),
           "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "2", "GANGAMES_KILL_AT": "5",
           "GANGAMES_KILL_ONCE": str(tmp_path / "killed")}
    with DaskCluster(tmp_path / "dask", env) as address:
        data = spec_data(name="dask")
        data["sweep"].update(sampler="grid")
        data["space"] = {"data.preset": {"choice": ["ring8", "killer", "killer-once"]}}
        counts = run_sweep(S.parse(data), tmp_path / "sweep", scheduler=address)
        assert counts["ran"] == 3 and (tmp_path / "killed").exists()
        status = {r["data.preset"]: (r["status"], r.get("error", ""))
                  for r in rows(load_study(tmp_path / "sweep" / "study.db"))}
        assert status["ring8"] == ("finished", "") and status["killer-once"] == ("finished", "")
        assert status["killer"][0] == "failed" and "Dask gave up" in status["killer"][1]
