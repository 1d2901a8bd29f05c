"""Where the trials of a sweep run: local worker processes, or an existing Dask distributed cluster."""

from __future__ import annotations

import concurrent.futures as futures
import multiprocessing

from gangames.runner import Outcome, Task, cores, payload, run_payload


class LocalExecutor:
    """Worker processes on this machine, each with a fair share of its cores as torch threads."""

    def __init__(self, workers: int | None = None):
        self.slots = max(1, workers or cores())
        self.threads = max(1, cores() // self.slots)
        self.pool = futures.ProcessPoolExecutor(self.slots, mp_context=multiprocessing.get_context("spawn"))

    def submit(self, task: Task):
        return self.pool.submit(run_payload, payload(task, self.threads))

    def next_done(self, pending) -> tuple[object, Outcome]:
        done, _ = futures.wait(list(pending), return_when=futures.FIRST_COMPLETED)
        future = next(iter(done))
        return future, future.result()

    def close(self, cancel: bool = False) -> None:
        """Stop. With ``cancel``, queued trials are dropped and running ones finish (on Ctrl-C the
        workers receive it too: their runs checkpoint and stop at the end of the current step)."""
        self.pool.shutdown(wait=True, cancel_futures=cancel)


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

    def submit(self, task: Task):
        return self.client.submit(run_payload, payload(task, self.threads), pure=False, key=f"gangames-{task.name}")

    def next_done(self, pending) -> tuple[object, Outcome]:
        from distributed import wait

        done, _ = wait(list(pending), return_when="FIRST_COMPLETED")
        future = next(iter(done))
        return future, future.result()

    def close(self, cancel: bool = False) -> None:
        self.client.close()
