"""Where the trials of a sweep run: local worker processes, or an existing Dask distributed cluster.

Both survive a worker killed mid-trial: the trial runs again on another worker and resumes from its
run's last checkpoint. A trial that has killed ``MAX_KILLS`` workers is given up, with its reason,
and the sweep goes on (Dask counts with its ``allowed-failures`` setting, default 3).
"""

from __future__ import annotations

import concurrent.futures as futures
import multiprocessing
import os
from concurrent.futures.process import BrokenProcessPool

from gangames.runner import Outcome, Task, cores, die_with_parent, payload, run_payload

MAX_KILLS = 3


class LocalExecutor:
    """Worker processes on this machine, each with a fair share of its cores as torch threads."""

    def __init__(self, workers: int | None = None):
        self.slots = max(1, workers or cores())
        self.threads = max(1, cores() // self.slots)
        self.tasks: dict = {}  # future -> task
        self.kills: dict[str, int] = {}
        self.workers: set[int] = set()  # pids of every worker this executor started
        self.pool = self._pool()

    def _pool(self):
        return futures.ProcessPoolExecutor(self.slots, mp_context=multiprocessing.get_context("spawn"),
                                           initializer=die_with_parent)

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
        """Stop. With ``cancel``, queued trials are dropped and running ones finish (on Ctrl-C the
        workers receive it too: their runs checkpoint and stop at the end of the current step)."""
        self.pool.shutdown(wait=True, cancel_futures=cancel)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DaskExecutor:
    """Trials as tasks on a running Dask scheduler (which may itself run on Slurm, PBS or Kubernetes).

    The workers need gangames installed and the sweep's output folder on a shared filesystem.
    """

    def __init__(self, address: str, threads: int = 1):
        from distributed import Client

        self.client = Client(address, timeout="30s")
        info = self.client.scheduler_info()
        self.slots = max(1, sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()))
        self.threads = threads
        self.tasks: dict = {}

    def submit(self, task: Task):
        future = self.client.submit(run_payload, payload(task, self.threads), pure=False, key=f"gangames-{task.name}")
        self.tasks[future] = task
        return future

    def next_done(self, pending, timeout: float | None = None) -> tuple[object, Outcome] | None:
        from distributed import wait
        from distributed.scheduler import KilledWorker

        try:
            done, _ = wait(list(pending), timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return None
        if not done:
            return None
        future = next(iter(done))
        task = self.tasks.pop(future)
        try:
            return future, future.result()
        except KilledWorker as err:  # the scheduler gave up on it after allowed-failures deaths
            return future, Outcome(task.name, task.out, "failed", error=f"killed workers until Dask gave up: {err}")

    def close(self, cancel: bool = False) -> None:
        self.client.close()
