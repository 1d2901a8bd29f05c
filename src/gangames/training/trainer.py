"""The trainer shared by every game: seeds, the step loop, logs, snapshots, checkpoints, resume.

It knows nothing of a particular game. A game provides ``draw`` (the random inputs of one step),
``step`` (one round of play, returning per-player statistics), ``steps`` (several rounds, one
call) and ``compiled_steps``, ``ends_call`` (steps a call must end on), ``sample``, ``modules`` and
``optimizers`` (what a checkpoint must hold).
"""

from __future__ import annotations

import dataclasses
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gangames import build
from gangames.config import Config
from gangames.data.presets import data_info, to_data_space
from gangames.errors import DivergedError, GanGamesError
from gangames.games.registry import GAMES
from gangames.io import image_grid
from gangames.seeds import SNAPSHOT, Streams, derive_seed
from gangames.threads import claim as claim_threads, release as release_threads
from gangames.training import checkpoint
from gangames.training.compiled import GuardedCompile, compile_function, remember_compiled
from gangames.training.evaluation import Evaluator, balanced_labels
from gangames.training.progress import Progress
from gangames.training.run_dir import RunDir, now
from gangames.training.tensorboard import TensorBoardLog


PLAYER_OF = {"d_loss": "discriminator", "g_loss": "generator", "penalty": "discriminator"}
REFERENCE_SAMPLES = 3000


@dataclass
class RunResult:
    status: str  # finished | interrupted
    step: int
    path: Path
    seconds: float
    steps_per_second: float
    compile_seconds: float = 0.0


def plain(value):
    """Tensors (and dicts of them) as JSON-ready numbers and nested lists; NaN stays NaN."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if torch.is_tensor(value):
        return value.detach().cpu().tolist()
    return value


def summarise(values: np.ndarray) -> float | list[float]:
    """One number per player: a scalar for a single pair, a list for several."""
    values = values.astype(float)
    return float(values[0]) if values.size == 1 else [float(v) for v in values]


class Trainer:
    """Train one run. ``Trainer(cfg, out)`` starts a run; ``Trainer.resume(out)`` continues one."""

    def __init__(self, cfg: Config, out: str | Path, *, _resuming: bool = False):
        self.cfg = build.resolve(cfg)
        self.run_dir = RunDir(out)
        run = self.cfg.run
        self.threads = claim_threads(run.threads)  # 0: the free cores (gangames/threads.py)
        self.device = torch.device(run.device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise GanGamesError("run.device is 'cuda' but no CUDA device is available; use run.device=cpu")
        self.data = build.build_data(self.cfg)
        self.game = build.build_game_for(self.cfg, self.data, self.device)
        self.streams = Streams.for_run(run.seed, self.device)  # data, latents, noise: docs/report.md
        snapshot_rng = torch.Generator(device=self.device).manual_seed(derive_seed(run.seed, SNAPSHOT))
        self.snapshot_latent = self.game.players.latent((self.game.players.count, run.snapshot_size), snapshot_rng)
        self.snapshot_labels = balanced_labels(self.game.players, run.snapshot_size, self.device)
        self.evaluator = Evaluator(self.cfg, self.data, self.game) if self.cfg.eval.every else None
        self.step = 0
        self._compiled: list[GuardedCompile] = []
        self._start, self._paused = time.perf_counter(), 0.0
        self._pending: list[dict[str, torch.Tensor]] = []
        self._interrupted = False
        self._elapsed_before = 0.0
        self.tensorboard = None
        if not _resuming:
            entry = GAMES[self.cfg.game.name]
            self.run_dir.create(self.cfg, {
                "seed": run.seed, "game": self.cfg.game.name, "data": self.cfg.data.preset, "command": sys.argv,
                "label": run.label or entry.label(self.cfg), "players": self.game.players.count,
                "panels": [dataclasses.asdict(panel) for panel in entry.panels], "data_info": data_info(self.data)})
            if self.data.kind == "vectors":  # real samples for the report's plots
                reference = self.data.sample(REFERENCE_SAMPLES, torch.Generator(device=self.device).manual_seed(0))
                self.run_dir.save_reference(np.asarray(to_data_space(self.data, reference.cpu().numpy()), np.float32))

    # -- resume ----------------------------------------------------------------------------------
    @classmethod
    def resume(cls, out: str | Path, steps: int | None = None, runtime: dict | None = None, **kwargs) -> "Trainer":
        """Continue from the newest good checkpoint. ``runtime`` may change settings that do not
        alter the game ({"run.progress": False, "run.compile": True, ...})."""
        run_dir = RunDir(out)
        cfg = run_dir.load_config()
        if steps is not None:
            cfg.run.steps = steps
        for dotted, value in (runtime or {}).items():
            section, key = dotted.split(".")
            setattr(getattr(cfg, section), key, value)
        trainer = cls(cfg, out, _resuming=True, **kwargs)
        trainer.load_state(checkpoint.load_latest(run_dir.checkpoints_dir))
        run_dir.truncate_metrics(trainer.step)
        trainer._elapsed_before = float(run_dir.read_info().get("train_seconds", 0.0))
        return trainer

    def state(self) -> dict:
        return {
            "step": self.step,
            "modules": {k: m.state_dict() for k, m in self.game.modules().items()},
            "optimizers": {k: o.state_dict() for k, o in self.game.optimizers().items()},
            "rng": {"streams": self.streams.state(), "torch": torch.get_rng_state(),
                    "game": {name: g.get_state() for name, g in self.game.streams().items()}},
        }

    def load_state(self, state: dict) -> None:
        for name, module in self.game.modules().items():
            module.load_state_dict(state["modules"][name])
        for name, opt in self.game.optimizers().items():
            opt.load_state_dict(state["optimizers"][name])
        self.streams.load(state["rng"]["streams"])
        torch.set_rng_state(state["rng"]["torch"])
        for name, stream in self.game.streams().items():
            stream.set_state(state["rng"]["game"][name])
        self.step = int(state["step"])

    # -- the loop --------------------------------------------------------------------------------
    def run(self) -> RunResult:
        """Train to ``run.steps`` holding the run folder's lock (a second trainer on the same folder
        gets a one-line error)."""
        claim_threads(self.cfg.run.threads)  # again: a run resumed or rerun in this process
        try:
            with self.run_dir.lock():
                return self._run()
        finally:
            release_threads()  # cores held only while training

    def _run(self) -> RunResult:
        run = self.cfg.run
        compiled = self._compiled = []

        def compile_fn(fn):
            # Kernels launched from C++ on the CPU, where that was measured to pay; on a GPU torch's
            # default launcher, the common and tested path (no GPU was available to measure ours).
            compiled.append(compile_function(fn, cpp_wrapper=self.device.type == "cpu"))
            return compiled[-1]

        steps_fn = self.game.compiled_steps(compile_fn) if run.compile else self.game.steps
        per_call = run.steps_per_call if run.compile else 1
        first_step = self.step
        info = self.run_dir.read_info()
        info.setdefault("sessions", []).append({"started": now(), "from_step": self.step, "compile": run.compile})
        info["status"] = "running"
        self.run_dir.write_info(info)

        if run.tensorboard and self.tensorboard is None:  # a resumed run purges the events after its step
            self.tensorboard = TensorBoardLog(self.run_dir.tensorboard_dir, purge_step=self.step + 1 if self.step else None)
        restore_sigint = self._catch_sigint()
        start = self._start = time.perf_counter()
        self._paused = 0.0
        status = "finished"
        try:
            with Progress(run.steps, self.step, enabled=run.progress) as progress:
                while self.step < run.steps:
                    if self._interrupted:
                        status = "interrupted"
                        break
                    eager = self.step < run.compile_after  # the first steps never wait for a compile
                    count = 1 if eager else self._call_length(per_call)
                    rounds = [self.game.draw(self.data, self.cfg.data.batch_size, self.streams, self.step + i)
                              for i in range(1, count + 1)]
                    for logs in (steps_fn if count == per_call and not eager else self.game.steps)(rounds):
                        self.step += 1
                        events = logs.pop("events", None)
                        self._pending.append(logs)
                        if events:
                            self.log({"step": self.step, **plain(events)})
                        self._after_step(progress)
            if self._pending:
                self._write_log_row()
            if self.step > first_step or status == "interrupted":
                self._checkpoint()
        except DivergedError:
            self._finish_info(info, "diverged", start, first_step, sum(c.compile_seconds for c in compiled))
            raise
        finally:
            restore_sigint()
            if self.tensorboard is not None:
                self.tensorboard.writer.flush()
            if any(c.compile_seconds for c in compiled) and not any(c.failed for c in compiled):
                remember_compiled(self.cfg)  # the next default run of this structure compiles from the cache
        compile_seconds = sum(c.compile_seconds for c in compiled)
        seconds = time.perf_counter() - start - compile_seconds  # the step rate excludes compilation
        self._finish_info(info, status, start, first_step, compile_seconds)
        rate = (self.step - first_step) / seconds if seconds > 0 else float("nan")
        return RunResult(status, self.step, self.run_dir.path, seconds, rate, compile_seconds)

    def _call_length(self, per_call: int) -> int:
        """Steps the next call plays: ``per_call`` from a multiple of it when nothing has to happen
        between them (a snapshot, checkpoint or evaluation, the run's end, the game's own stops),
        else one, played eagerly (a second graph for single steps would double the first compile).
        It depends on the step alone, so a resumed run calls as the uninterrupted one did."""
        run, first, last = self.cfg.run, self.step + 1, self.step + per_call
        if per_call == 1 or self.step % per_call or last > run.steps:
            return 1
        every = [run.snapshot_every, run.checkpoint_every] + ([self.cfg.eval.every] if self.evaluator else [])
        inside = range(first, last)  # the call's steps but its last
        stops = any(step % n == 0 for step in inside for n in every) or any(map(self.game.ends_call, inside))
        return 1 if stops else per_call

    def _after_step(self, progress: Progress) -> None:
        run, step = self.cfg.run, self.step
        if step % run.log_every == 0:
            row = self._write_log_row()
            progress.update(step, row)
        if step % run.snapshot_every == 0 or step == run.steps:
            self.snapshot()
        if self.evaluator is not None and step % self.cfg.eval.every == 0:
            seconds = self.train_seconds()
            paused = time.perf_counter()
            self.log({"step": step, "seconds": round(seconds, 4), "eval": self.evaluator()})
            self._paused += time.perf_counter() - paused
        if step % run.checkpoint_every == 0:
            self._checkpoint()

    def _write_log_row(self) -> dict:
        """Mean of each statistic over the steps since the last row; stops the run on NaN/inf."""
        stacked = {k: torch.stack([logs[k] for logs in self._pending]) for k in self._pending[0]}
        self._check_finite(stacked)
        row = {"step": self.step, "seconds": round(self.train_seconds(), 4)}
        row.update({k: summarise(v.mean(0).cpu().numpy()) for k, v in stacked.items()})
        self._pending.clear()
        self.log(row)
        return row

    def train_seconds(self) -> float:
        """Seconds spent training this run so far: without compilation and evaluations."""
        compiling = sum(c.compile_seconds for c in self._compiled)
        return self._elapsed_before + time.perf_counter() - self._start - self._paused - compiling

    def _check_finite(self, stacked: dict[str, torch.Tensor]) -> None:
        first = self.step - len(self._pending) + 1
        for name, values in stacked.items():  # values: (steps, players)
            bad = ~torch.isfinite(values)
            if bad.any():
                offset, player = (int(i) for i in bad.nonzero()[0])
                value = float(values[offset, player])
                self._diverged(name, first + offset, player, value)

    def _diverged(self, name: str, step: int, player: int, value: float) -> None:
        saved = checkpoint.list_checkpoints(self.run_dir.checkpoints_dir)
        keep = f"the last good checkpoint is step {saved[-1][0]}" if saved else "no checkpoint was written yet"
        who = PLAYER_OF.get(name, "a")
        raise DivergedError(
            f"{who} loss {name} became {value} at step {step} (player {player}); the run stopped and {keep}",
            step, player, name)

    def _checkpoint(self) -> None:
        if self._pending:
            self._check_finite({k: torch.stack([p[k] for p in self._pending]) for k in self._pending[0]})
        for name, module in self.game.modules().items():
            for pname, param in module.named_parameters():
                if not torch.isfinite(param).all():
                    player = int((~torch.isfinite(param)).flatten(1).any(1).nonzero()[0])
                    self._diverged(f"{name}.{pname}", self.step, player, float("nan"))
        checkpoint.save(self.run_dir.checkpoints_dir, self.state(), self.cfg.run.keep_checkpoints)

    @torch.no_grad()
    def snapshot(self) -> None:
        """Samples from fixed latents, in the data's units: .npy always; for images also a PNG grid per player."""
        samples = to_data_space(self.data, self.game.sample(self.snapshot_latent, self.snapshot_labels).cpu().numpy())
        images = self.data.kind == "images"
        self.run_dir.save_samples(self.step, np.asarray(samples, dtype=np.float32), images=images)
        if images and self.tensorboard is not None:
            self.tensorboard.grids(self.step, [image_grid(player[:64]) for player in samples])

    def log(self, row: dict) -> None:
        """One row of metrics.jsonl (and of the TensorBoard events, when on)."""
        self.run_dir.log(row)
        if self.tensorboard is not None:
            self.tensorboard.row(row)

    def _finish_info(self, info: dict, status: str, start: float, first_step: int, compile_seconds: float) -> None:
        seconds = time.perf_counter() - start - compile_seconds
        info["status"] = status
        info["step"] = self.step
        info["train_seconds"] = self._elapsed_before + seconds
        # Updates each player's networks took (per optimiser): what a comparison of games pays.
        info["updates"] = {name: [int(c) for c in opt.counts.flatten().tolist()]
                           for name, opt in self.game.optimizers().items()}
        info["sessions"][-1].update({"ended": now(), "to_step": self.step, "seconds": round(seconds, 3),
                                     "compile_seconds": round(compile_seconds, 3),
                                     "steps_per_second": round((self.step - first_step) / seconds, 2) if seconds > 0 else None})
        self.run_dir.write_info(info)

    # -- Ctrl-C ----------------------------------------------------------------------------------
    def _catch_sigint(self):
        """First Ctrl-C: finish the current step, checkpoint, stop. A second one aborts at once."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = signal.getsignal(signal.SIGINT)

        def handler(signum, frame):
            self._interrupted = True
            signal.signal(signal.SIGINT, previous)

        signal.signal(signal.SIGINT, handler)
        return lambda: signal.signal(signal.SIGINT, previous)

    def interrupt(self) -> None:
        """Ask the loop to stop after the current step, as Ctrl-C does."""
        self._interrupted = True
