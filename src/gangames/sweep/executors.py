"""Where the trials of a sweep run: local worker processes (``runner.LocalExecutor``, which every
command that trains many runs on one machine uses), or an existing Dask distributed cluster.

Both survive a worker killed mid-trial: the trial runs again on another worker and resumes from its
run's last checkpoint. A trial that has killed ``MAX_KILLS`` workers is given up, with its reason,
and the sweep goes on (Dask counts with its ``allowed-failures`` setting, default 3).
"""

from __future__ import annotations

from gangames.runner import MAX_KILLS, LocalExecutor, Outcome, Task, payload, run_payload

__all__ = ["MAX_KILLS", "DaskExecutor", "LocalExecutor"]


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
