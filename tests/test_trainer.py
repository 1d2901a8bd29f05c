"""The shared trainer: learning, bit-identical resume, atomic checkpoints, NaN stops, Ctrl-C."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from gangames import config as C
from gangames.data.synthetic import ring
from gangames.errors import CheckpointError, DivergedError
from gangames.metrics.mixture import mode_coverage
from gangames.training import checkpoint, trainer as trainer_module
from gangames.training.compiled import GuardedCompile
from gangames.training.trainer import Trainer
from helpers import metric_rows

SMALL = ["generator.hidden=[16, 16]", "discriminator.hidden=[16, 16]", "data.batch_size=32", "run.progress=false"]


def cfg_of(*overrides):
    return C.apply_overrides(C.Config(), [*SMALL, *overrides])


def final_state(path):
    return checkpoint.load_latest(path / "checkpoints")


def assert_same_state(a, b):
    assert a["step"] == b["step"]
    for role in a["modules"]:
        for key, value in a["modules"][role].items():
            assert torch.equal(value, b["modules"][role][key]), (role, key)
    for role in a["optimizers"]:
        for key, values in a["optimizers"][role].items():
            for x, y in zip(values, b["optimizers"][role][key]):
                assert torch.equal(x, y), (role, key)
    for name, state in a["rng"]["streams"].items():
        assert torch.equal(state, b["rng"]["streams"][name]), name


@pytest.mark.slow
def test_ns_learns_at_least_seven_of_the_eight_ring_modes(tmp_path):
    """A fixed budget (2000 steps, ~15 s on one core) that every seed tried (0-5) passes with 7-8 modes."""
    cfg = C.apply_overrides(C.Config(), ["game.name=ns", "run.steps=2000", "run.seed=0", "run.progress=false",
                                         "run.snapshot_size=2500", "generator.lr=1e-3", "discriminator.lr=1e-3",
                                         "data.batch_size=512"])
    Trainer(cfg, tmp_path / "run").run()
    samples = np.load(tmp_path / "run" / "samples" / "step-00002000.npy")
    stats = mode_coverage(samples, ring(8, 2.0), 0.02)
    assert stats["modes"] >= 7, stats
    assert stats["hq"] > 0.3, stats


@pytest.mark.parametrize("game", ["ns", "wgan-gp", "dragan-ns"])
def test_resume_is_bit_identical(tmp_path, game):
    common = [f"game.name={game}", "run.seed=3", "run.checkpoint_every=10", "run.log_every=5", "run.keep_checkpoints=10"]
    Trainer(cfg_of(*common, "run.steps=40"), tmp_path / "straight").run()
    # Stop at 20, then resume to 40.
    Trainer(cfg_of(*common, "run.steps=20"), tmp_path / "resumed").run()
    Trainer.resume(tmp_path / "resumed", steps=40).run()
    assert_same_state(final_state(tmp_path / "straight"), final_state(tmp_path / "resumed"))
    # A crash after step 30's checkpoint: the run continues from 30 and its log matches too.
    (tmp_path / "resumed" / "checkpoints" / "step-00000040.pt").unlink()
    Trainer.resume(tmp_path / "resumed", steps=40).run()
    assert_same_state(final_state(tmp_path / "straight"), final_state(tmp_path / "resumed"))
    straight = metric_rows(tmp_path / "straight" / "metrics.jsonl")
    assert metric_rows(tmp_path / "resumed" / "metrics.jsonl") == straight
    assert len(straight) == 8


def test_a_crash_while_writing_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    trainer = Trainer(cfg_of("run.steps=10", "run.checkpoint_every=10"), tmp_path / "run")
    trainer.run()
    folder = tmp_path / "run" / "checkpoints"

    def dies_midway(obj, handle):
        handle.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk died")

    monkeypatch.setattr(checkpoint.torch, "save", dies_midway)
    trainer.step = 20
    with pytest.raises(OSError, match="disk died"):
        checkpoint.save(folder, trainer.state(), keep=2)
    assert [s for s, _ in checkpoint.list_checkpoints(folder)] == [10]
    assert sorted(p.name for p in folder.iterdir()) == ["step-00000010.pt"]  # the partial file is gone
    # A temporary file left by a killed process is ignored as well.
    (folder / ".step-00000030.pt.x1y2.tmp").write_bytes(b"garbage")
    assert checkpoint.load_latest(folder)["step"] == 10


def test_a_corrupt_newest_checkpoint_falls_back_to_the_previous_one(tmp_path):
    Trainer(cfg_of("run.steps=20", "run.checkpoint_every=10"), tmp_path / "run").run()
    folder = tmp_path / "run" / "checkpoints"
    (folder / "step-00000020.pt").write_bytes(b"\x00" * 100)
    with pytest.warns(UserWarning, match="step-00000020.pt is unreadable"):
        resumed = Trainer.resume(tmp_path / "run")
    assert resumed.step == 10
    (folder / "step-00000010.pt").write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning), pytest.raises(CheckpointError, match="no usable checkpoint"):
        Trainer.resume(tmp_path / "run")


def test_a_nan_loss_stops_with_step_and_player_and_keeps_the_last_good_checkpoint(tmp_path):
    trainer = Trainer(cfg_of("run.steps=50", "run.checkpoint_every=5", "run.log_every=5"), tmp_path / "run")
    step = trainer.game.step

    def poisoned(inputs):
        logs = step(inputs)
        if trainer.step == 6:  # the 7th step
            logs["g_loss"] = torch.tensor([float("nan")])
        return logs

    trainer.game.step = poisoned
    with pytest.raises(DivergedError) as err:
        trainer.run()
    assert str(err.value) == ("generator loss g_loss became nan at step 7 (player 0); "
                              "the run stopped and the last good checkpoint is step 5")
    assert [s for s, _ in checkpoint.list_checkpoints(tmp_path / "run" / "checkpoints")] == [5]
    assert '"status": "diverged"' in (tmp_path / "run" / "run.json").read_text()
    assert Trainer.resume(tmp_path / "run").step == 5


def test_a_real_divergence_is_caught(tmp_path):
    cfg = cfg_of("run.steps=200", "run.log_every=1", "generator.optimizer=sgd", "discriminator.optimizer=sgd",
                 "generator.lr=1e12", "discriminator.lr=1e12")
    with pytest.raises(DivergedError, match=r"became (nan|inf|-inf) at step \d+ \(player 0\)"):
        Trainer(cfg, tmp_path / "run").run()


def test_interrupt_checkpoints_and_resume_completes_the_same_run(tmp_path):
    common = ["run.seed=5", "run.checkpoint_every=100", "run.log_every=4"]
    Trainer(cfg_of(*common, "run.steps=30"), tmp_path / "straight").run()
    trainer = Trainer(cfg_of(*common, "run.steps=30"), tmp_path / "stopped")
    step = trainer.game.step

    def interrupted_at_13(inputs):
        if trainer.step == 12:
            trainer.interrupt()
        return step(inputs)

    trainer.game.step = interrupted_at_13
    result = trainer.run()
    assert (result.status, result.step) == ("interrupted", 13)
    assert [s for s, _ in checkpoint.list_checkpoints(tmp_path / "stopped" / "checkpoints")] == [13]
    Trainer.resume(tmp_path / "stopped").run()
    assert_same_state(final_state(tmp_path / "straight"), final_state(tmp_path / "stopped"))


def test_ctrl_c_in_the_command_line_tool_writes_a_checkpoint(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "gangames.cli", "train", "--steps", "1000000", "--out", str(out), "--no-progress",
           "--no-compile",
           "--set", "run.log_every=10", *[a for s in SMALL for a in ("--set", s)]]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.time() + 60
    while time.time() < deadline and not (out / "metrics.jsonl").exists():
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted at step" in stderr and "Traceback" not in stderr
    saved = checkpoint.list_checkpoints(out / "checkpoints")
    assert len(saved) == 1 and saved[0][0] > 0
    assert checkpoint.read(saved[0][1])["step"] == saved[0][0]


@pytest.fixture
def call_lengths(monkeypatch):
    """``run.compile`` without the compiler: the trainer calls the game's ``steps`` as it would call
    the compiled ones (several steps per call), and the length of every call is recorded."""
    lengths = []

    def recording(steps, cpp_wrapper=None):
        assert cpp_wrapper is True  # on the CPU the trainer launches the kernels from C++
        def call(rounds):
            lengths.append(len(rounds))
            return steps(rounds)
        return GuardedCompile(steps, call)

    monkeypatch.setattr(trainer_module, "compile_function", recording)
    return lengths


@pytest.mark.parametrize("game", ["ns", "robust-w"])
def test_calls_of_several_steps_end_where_the_trainer_acts_and_change_nothing(tmp_path, call_lengths, game):
    """Snapshots and checkpoints every 10 steps, evaluations every 15, 30 steps, 4 steps per call
    (robust-w's defenders also start after step 5). Compiled calls start on multiples of 4 and hold
    none of those steps but as their last; the steps between run one by one, eagerly; and the run
    is the one-step-at-a-time run, bit for bit."""
    common = [f"game.name={game}", "run.seed=2", "run.steps=30", "run.snapshot_every=10", "run.checkpoint_every=10",
              "run.keep_checkpoints=10", "run.log_every=3", "eval.every=15", "eval.samples=200", "eval.mode_samples=200",
              "eval.metrics=[\"modes\"]", "robust.warmup=5", "robust.steps=2", "run.compile_unit=round"]
    Trainer(cfg_of(*common, "run.compile=false"), tmp_path / "one").run()
    Trainer(cfg_of(*common, "run.compile=true", "run.steps_per_call=4"), tmp_path / "four").run()
    # Calls of 4: steps 1-8 and 17-28 (ns); 1-4 and 17-28 (robust-w: 5-8 would hold step 5).
    assert call_lengths == ([4] * 5 if game == "ns" else [4] * 4)
    assert_same_state(final_state(tmp_path / "one"), final_state(tmp_path / "four"))
    for step in (10, 20):
        assert_same_state(checkpoint.read(tmp_path / "one" / "checkpoints" / f"step-{step:08d}.pt"),
                          checkpoint.read(tmp_path / "four" / "checkpoints" / f"step-{step:08d}.pt"))
        assert np.array_equal(np.load(tmp_path / "one" / "samples" / f"step-{step:08d}.npy"),
                              np.load(tmp_path / "four" / "samples" / f"step-{step:08d}.npy"))
    rows = metric_rows(tmp_path / "four" / "metrics.jsonl")
    assert rows == metric_rows(tmp_path / "one" / "metrics.jsonl")
    assert [r["step"] for r in rows if "eval" in r] == [15, 30]

    # A run resumed from step 20 calls as the straight run did from there.
    del call_lengths[:]
    (tmp_path / "four" / "checkpoints" / "step-00000030.pt").unlink()
    Trainer.resume(tmp_path / "four").run()
    assert call_lengths == [4, 4]
    assert_same_state(final_state(tmp_path / "one"), final_state(tmp_path / "four"))
