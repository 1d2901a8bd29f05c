"""Thread budgets: a run takes the free cores of its affinity mask, never those other gangames
processes hold, and warns once when they are taken."""

import os
import subprocess
import sys

import pytest
import torch

from gangames import threads


@pytest.fixture
def registry(tmp_path, monkeypatch):
    monkeypatch.setenv("GANGAMES_THREADS_DIR", str(tmp_path / "reg"))
    monkeypatch.setattr(threads, "_mine", {})
    monkeypatch.setattr(threads, "_warned", False)
    before = torch.get_num_threads()
    yield tmp_path / "reg"
    torch.set_num_threads(before)


def holder(n: int, reg) -> subprocess.Popen:
    """Another gangames process holding ``n`` threads."""
    code = f"from gangames import threads; threads.claim({n}); print('held', flush=True); import time; time.sleep(600)"
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "GANGAMES_THREADS_DIR": str(reg)},
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_run_takes_the_free_cores_of_its_mask(registry, monkeypatch, capsys):
    monkeypatch.setattr(threads, "cores", lambda: 4)
    other = holder(3, registry)
    try:
        assert threads.held_by_others() == {other.pid: 3}
        assert threads.claim(0) == 1 and torch.get_num_threads() == 1  # 4 cores, 3 taken
        assert "warning" not in capsys.readouterr().err
    finally:
        other.kill()
        other.wait(10)
    assert threads.held_by_others() == {}  # the dead holder's file is stale, and removed
    assert not (registry / f"{other.pid}.json").exists()
    assert threads.claim(0) == 4


def test_a_run_on_a_taken_machine_warns_once(registry, monkeypatch, capsys):
    monkeypatch.setattr(threads, "cores", lambda: 2)
    other = holder(2, registry)
    try:
        assert threads.claim(0) == 1
        err = capsys.readouterr().err
        assert err.count("warning: the cores of this machine are taken") == 1 and "2 threads held by 1" in err
        threads.claim(0)
        assert capsys.readouterr().err == ""  # once per process
        # What this process holds is visible to the next one.
        code = "from gangames import threads; print(sum(threads.held_by_others().values()))"
        seen = subprocess.run([sys.executable, "-c", code], env={**os.environ, "GANGAMES_THREADS_DIR": str(registry)},
                              capture_output=True, text=True, check=True).stdout
        assert int(seen) == 3
    finally:
        other.kill()
        other.wait(10)


def test_a_workers_share_is_kept_by_its_trainer(registry, monkeypatch):
    monkeypatch.setattr(threads, "cores", lambda: 8)
    assert threads.claim(2, fixed=True) == 2
    assert threads.claim(0) == 2  # the trainer inside a runner's worker keeps the worker's share
    assert threads.claim(3) == 3  # an explicit run.threads wins


def test_a_run_holds_its_cores_only_while_it_trains(registry, tmp_path):
    from gangames.config import Config, apply_overrides
    from gangames.training.trainer import Trainer

    cfg = apply_overrides(Config(), ["run.steps=3", "run.progress=false", "data.batch_size=16",
                                     "generator.hidden=[8]", "discriminator.hidden=[8]"])
    trainer = Trainer(cfg, tmp_path / "run")
    assert (registry / f"{os.getpid()}.json").exists()  # claimed when built
    trainer.run()
    assert not (registry / f"{os.getpid()}.json").exists()  # given back when it ended


def test_an_unwritable_registry_costs_nothing_but_the_record(tmp_path, monkeypatch):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setenv("GANGAMES_THREADS_DIR", str(blocked / "reg"))  # cannot be made
    monkeypatch.setattr(threads, "_mine", {})
    monkeypatch.setattr(threads, "cores", lambda: 3)
    before = torch.get_num_threads()
    try:
        assert threads.claim(0) == 3 and threads.claim(2) == 2 and threads.claim(0, fixed=True) == 3
        assert threads.claim(0) == 3  # the fixed share, kept
        monkeypatch.setattr(threads, "_mine", {"threads": 1})
        threads.release()
        assert threads._mine == {}
    finally:
        torch.set_num_threads(before)


def test_runs_in_the_callers_process_give_their_share_back(registry, tmp_path):
    from gangames.config import Config, apply_overrides
    from gangames.runner import Task, run_many

    cfg = apply_overrides(Config(), ["run.steps=3", "run.progress=false", "data.batch_size=16",
                                     "generator.hidden=[8]", "discriminator.hidden=[8]", "eval.samples=100"])
    seen = []
    outcomes = run_many([Task("a", cfg, tmp_path / "a", ["w2"])], workers=1,
                        on_done=lambda o: seen.append((registry / f"{os.getpid()}.json").exists()))
    assert outcomes[0].status == "finished", outcomes[0].error
    assert seen == [True]  # held while the runner's tasks ran (the worker's share)
    assert not (registry / f"{os.getpid()}.json").exists() and threads._mine == {}
    assert threads.claim(0) == threads.cores()  # a later run in this process takes the free cores again
