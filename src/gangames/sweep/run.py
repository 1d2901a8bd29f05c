"""Run a sweep: enqueue its trials in the study, then hand them to an executor until none is left."""

from __future__ import annotations

from pathlib import Path

from gangames.sweep.executors import DaskExecutor, LocalExecutor
from gangames.sweep.spec import SweepSpec
from gangames.sweep.study import claim, enqueue, open_study, record, storage_url, task_for


def default_storage(out: Path) -> str:
    return storage_url(Path(out) / "study.db")


def run_sweep(spec: SweepSpec, out: str | Path, storage: str | None = None, workers: int | None = None,
              scheduler: str | None = None, retry_interrupted: bool | None = None, on_done=None) -> dict:
    """Returns the counts of trials found and enqueued, plus ``ran`` (trials run by this call).

    ``retry_interrupted`` (default: only for SQLite, where no other machine can be running them)
    fails trials left RUNNING by an interrupted sweep and enqueues them again; their runs resume
    from their last checkpoints.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    storage = storage or default_storage(out)
    study = open_study(spec, storage)
    if retry_interrupted is None:
        retry_interrupted = storage_url(storage).startswith("sqlite")
    counts = enqueue(study, spec, retry_interrupted)
    executor = DaskExecutor(scheduler) if scheduler else LocalExecutor(workers)
    in_flight: dict = {}
    counts["ran"] = 0
    try:
        while True:
            while len(in_flight) < executor.slots:
                claimed = claim(study)
                if claimed is None:
                    break
                trial, fixed = claimed
                task = task_for(trial, fixed, spec, out)
                in_flight[executor.submit(task)] = trial
            if not in_flight:
                break
            future, outcome = executor.next_done(in_flight)
            record(study, in_flight.pop(future), spec, outcome)
            counts["ran"] += 1
            if on_done:
                on_done(outcome)
    except BaseException:
        executor.close(cancel=True)
        raise
    executor.close()
    return counts
