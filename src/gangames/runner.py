"""Run many training runs on this machine: worker processes, each with a fair share of the threads.

A run whose folder already holds a finished, evaluated run is not trained again; a run that was
stopped part-way resumes from its last checkpoint. So a reproduction or comparison that was
interrupted picks up where it stopped, and nothing already written is lost.
"""

from __future__ import annotations

import concurrent.futures as futures
import ctypes
import math
import multiprocessing
import os
import shutil
import signal
import sys
import traceback
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import torch

from gangames import config as config_io
from gangames.config import Config


@dataclass
class Task:
    name: str
    cfg: Config
    out: Path
    metrics: list[str] = field(default_factory=list)  # evaluated at the end (empty: the data's defaults)
    eval_samples: int | None = None


@dataclass
class Outcome:
    name: str
    out: Path
    status: str  # finished | failed | diverged
    eval: dict | None = None
    error: str | None = None
    seconds: float = 0.0


def _train_seconds(folder) -> float:
    """The run's training seconds over all its sessions (run.json): a resumed run's trainer counts only its own."""
    return float(folder.read_info().get("train_seconds", 0.0))


def cores() -> int:
    """The cores free for new runs: the affinity mask less what other gangames processes hold."""
    from gangames.threads import cores as mask, held_by_others

    return max(1, mask() - sum(held_by_others().values()))


def run_task(task: Task, threads: int) -> Outcome:
    """Train (or resume, or skip) one run and evaluate its last checkpoint. Never raises."""
    from gangames.errors import DivergedError
    from gangames.training.evaluation import evaluate_run
    from gangames.training.run_dir import RunDir
    from gangames.training.trainer import Trainer

    from gangames.threads import claim

    claim(threads, fixed=True)
    out = Path(task.out)
    folder = RunDir(out)
    try:
        # One writer per folder: a trial retried while its first trainer still runs (a coordinator
        # that lost it, an orphaned worker) waits for it, then finds it finished or resumes it.
        with folder.lock(wait=math.inf):
            if folder.exists():
                check_same_run(folder.load_config(), task.cfg, out)
            if folder.finished_and_evaluated():
                return Outcome(task.name, out, "finished", folder.read_eval(), seconds=_train_seconds(folder))
            if folder.exists() and folder.has_checkpoint():
                trainer = Trainer.resume(out, steps=task.cfg.run.steps)
            else:
                if folder.exists():  # created but no checkpoint yet: start over
                    shutil.rmtree(out)
                trainer = Trainer(task.cfg, out)
            result = trainer.run()
            if result.status != "finished":  # interrupted: checkpointed, to be resumed
                return Outcome(task.name, out, result.status, seconds=_train_seconds(folder))
            evaluation = evaluate_run(out, num=task.eval_samples, metrics=task.metrics or None)
            return Outcome(task.name, out, result.status, evaluation, seconds=_train_seconds(folder))
    except DivergedError as err:
        return Outcome(task.name, out, "diverged", error=str(err))
    except Exception as err:  # a failed run is recorded, and the others go on
        return Outcome(task.name, out, "failed", error=f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}")


RUNTIME = ("progress", "compile", "compile_after", "device", "threads", "steps")  # may differ between a run and its resumption


def check_same_run(existing: Config, requested: Config, out: Path) -> None:
    """Refuse to reuse a run folder that holds another experiment."""
    from gangames import build
    from gangames.errors import GanGamesError

    a, b = config_io.to_dict(build.resolve(existing)), config_io.to_dict(build.resolve(requested))
    for side in (a, b):
        for key in RUNTIME:
            side["run"].pop(key, None)
    if a != b:
        diff = sorted(f"{s}.{k}" for s in a for k in set(a[s]) | set(b.get(s, {})) if a[s].get(k) != b.get(s, {}).get(k))
        raise GanGamesError(f"{out} holds a run with a different config ({', '.join(diff[:5])}); use another folder")


def payload(task: Task, threads: int) -> tuple:
    """A task as plain data, to cross a process (or machine) boundary. Its config names the modules
    that registered what it uses (run.plugins): the other process imports them before reading it."""
    from gangames import build

    data = config_io.to_dict(task.cfg)
    data["run"]["plugins"] = build.resolve(task.cfg).run.plugins
    return (task.name, data, str(task.out), task.metrics, task.eval_samples, threads)


def run_payload(data: tuple) -> Outcome:
    global _busy
    name, cfg_dict, out, metrics, samples, threads = data
    if _parent_gone or _orphaned():  # a task queued before the parent died: nobody will read its outcome
        _exit_orphan()
    if _stopped is not None and _stopped.is_set():  # queued before the coordinator stopped: not started
        return Outcome(name, Path(out), "interrupted", error="not started: the command was stopped")
    _busy = True
    try:
        return run_task(Task(name, config_io.from_dict(cfg_dict), Path(out), metrics, samples), threads)
    finally:
        _busy = False
        if _parent_gone:
            _exit_orphan()


def run_many(tasks: list[Task], workers: int | None = None, on_done=None) -> list[Outcome]:
    """Run ``tasks`` in ``workers`` processes (default: one per core), in the given order. A worker
    that dies mid-run (killed by the system, kill -9) is survived as in a sweep (``LocalExecutor``)."""
    workers = max(1, min(workers or cores(), len(tasks) or 1))
    if workers == 1:  # in this process, with every core (LocalExecutor shares them among its workers)
        from gangames.threads import release

        outcomes = []
        try:
            for task in tasks:
                outcomes.append(run_task(task, cores()))
                if on_done:
                    on_done(outcomes[-1])
        finally:
            release(share=True)  # the tasks ran in this process: its share ends with them
        return outcomes
    results: dict[int, Outcome] = {}
    executor = LocalExecutor(workers)
    try:
        pending = {executor.submit(task): i for i, task in enumerate(tasks)}
        while pending:
            done = executor.next_done(pending)
            if done is None:  # a worker died: its tasks were submitted again
                continue
            future, outcome = done
            results[pending.pop(future)] = outcome
            if on_done:
                on_done(outcome)
    except BaseException:
        # Ctrl-C (or an error): the queued runs are dropped; the running ones got the Ctrl-C too, so
        # they checkpoint and stop (a rerun resumes them), or, when only this process was signalled,
        # they finish.
        executor.close(cancel=True)
        raise
    executor.close()
    return [results[i] for i in range(len(tasks))]


MAX_KILLS = 3


class LocalExecutor:
    """Worker processes on this machine, each with a fair share of its cores as torch threads."""

    def __init__(self, workers: int | None = None):
        self.slots = max(1, workers or cores())
        self.threads = max(1, cores() // self.slots)
        self.tasks: dict = {}  # future -> task
        self.kills: dict[str, int] = {}
        self.workers: set[int] = set()  # pids of every worker this executor started
        self.context = multiprocessing.get_context("spawn")
        self.stopped = self.context.Event()  # set on close(cancel=True): a task not yet started is not started
        self.pool = self._pool()

    def _pool(self):
        return futures.ProcessPoolExecutor(self.slots, mp_context=self.context, initializer=start_worker,
                                           initargs=(self.stopped,))

    def submit(self, task: Task):
        try:
            future = self.pool.submit(run_payload, payload(task, self.threads))
        except BrokenProcessPool as err:  # a worker died since the last wait: recovered there
            future = futures.Future()
            future.set_exception(err)
        self.tasks[future] = task
        self.workers |= set(getattr(self.pool, "_processes", None) or {})
        return future

    def next_done(self, pending, timeout: float | None = None) -> tuple[object, Outcome] | None:
        done, _ = futures.wait(list(pending), timeout=timeout, return_when=futures.FIRST_COMPLETED)
        if not done:
            return None
        future = next(iter(done))
        try:
            return future, future.result()
        except BrokenProcessPool:
            return self._recover(pending)

    def _recover(self, pending) -> tuple[object, Outcome] | None:
        """A worker died: the pool is gone with every task in it. The task whose run lost its
        writer (the lock file names the dead pid) is charged with the kill; all are submitted again
        to a new pool under their old futures' keys (the caller's ``pending`` is updated in place)."""
        from gangames.training.lock import holder_pid
        from gangames.training.run_dir import RunDir

        self.pool.shutdown(wait=True, cancel_futures=True)  # the broken pool's workers are reaped
        self.pool = self._pool()
        given_up = None
        for future in list(pending):
            task = self.tasks.pop(future)
            pid = holder_pid(RunDir(task.out).lock_file)
            if pid in self.workers and not _alive(pid):
                self.kills[task.name] = self.kills.get(task.name, 0) + 1
            trial = pending.pop(future)
            if self.kills.get(task.name, 0) >= MAX_KILLS and given_up is None:
                given_up = (trial, Outcome(task.name, task.out, "failed",
                                           error=f"killed {MAX_KILLS} workers (its process died each time); given up"))
                continue
            pending[self.submit(task)] = trial
        if given_up is not None:
            marker = futures.Future()
            marker.set_result(given_up[1])
            pending[marker] = given_up[0]
            return marker, given_up[1]
        return None

    def close(self, cancel: bool = False) -> None:
        """Stop. With ``cancel``, queued trials are dropped, not started one after another while the
        pool drains (those already handed to the pool's queue see ``stopped`` and return at once),
        and running ones finish (on Ctrl-C the workers receive it too: their runs checkpoint and
        stop at the end of the current step; a rerun resumes them)."""
        if cancel:
            self.stopped.set()
        self.pool.shutdown(wait=True, cancel_futures=cancel)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_parent: int | None = None  # the process that started this pool worker (set by die_with_parent)
_stopped = None  # set by the coordinator when it stops: a task not yet started is not started
_parent_gone = False  # ... and it has died
_busy = False  # this worker is running a task
PARENT_DIED = signal.SIGUSR1


def start_worker(stopped) -> None:
    """A pool worker's set-up: the coordinator's stop flag, and dying with it (below)."""
    global _stopped
    _stopped = stopped
    die_with_parent()


def die_with_parent() -> None:
    """When the process that started this pool worker dies (kill -9 included), the worker's run
    checkpoints and stops as on one Ctrl-C, and the worker exits: no orphan keeps training a run
    that a rerun will resume, and none waits for a next task forever while holding its share of the
    cores (gangames.threads: every later run on the machine took fewer threads and warned that the
    cores were taken). Linux tells the worker with a signal each time its parent thread ends, so a
    multi-threaded parent's death can signal it several times: only the first counts (several
    SIGINTs would abort the run without its final checkpoint, as a second Ctrl-C does)."""
    global _parent
    _parent = os.getppid()
    signal.signal(PARENT_DIED, _on_parent_death)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, PARENT_DIED)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if _orphaned():  # the parent died before the signal was asked for
        _exit_orphan()


def _on_parent_death(signum, frame) -> None:
    global _parent_gone
    if _parent_gone:
        return
    _parent_gone = True
    if not _busy:
        _exit_orphan()
    signal.raise_signal(signal.SIGINT)  # the run's trainer checkpoints and stops; run_payload then exits


def _orphaned() -> bool:
    return _parent is not None and os.getppid() != _parent


def _exit_orphan() -> None:
    """End an orphaned worker now (its run has checkpointed; the kernel drops its thread claim)."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(0)
