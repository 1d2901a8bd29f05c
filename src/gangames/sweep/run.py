"""Run a sweep: claim the study's waiting runs, propose configurations when none is waiting, hand
the runs to an executor, keep their heartbeats, retry the runs other coordinators lost."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from optuna.trial import TrialState

from gangames.sweep.executors import DaskExecutor, LocalExecutor
from gangames.sweep.spec import SweepSpec
from gangames.sweep.study import Sweep, failed, make_storage, storage_url


def default_storage(out: Path) -> str:
    return storage_url(Path(out) / "study.db")


class Heartbeats:
    """A thread that stamps ``heartbeat`` on the trials this coordinator is running, every
    ``interval`` seconds, through its own connection to the storage."""

    def __init__(self, storage: str, interval: float):
        self.storage, self.interval = make_storage(storage), interval
        self.trial_ids: set[int] = set()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True, name="gangames-heartbeats")
        self.thread.start()

    def _beat(self) -> None:
        while not self.stop.wait(self.interval):
            with self.lock:
                ids = list(self.trial_ids)
            for trial_id in ids:
                try:
                    self.storage.set_trial_user_attr(trial_id, "heartbeat", time.time())
                except Exception:  # finished meanwhile, or the database is briefly away: next beat
                    pass

    def add(self, trial_id: int) -> None:
        with self.lock:
            self.trial_ids.add(trial_id)

    def remove(self, trial_id: int) -> None:
        with self.lock:
            self.trial_ids.discard(trial_id)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


def run_sweep(spec: SweepSpec, out: str | Path, storage: str | None = None, workers: int | None = None,
              scheduler: str | None = None, retry_interrupted: bool = False, on_done=None) -> dict:
    """Returns what this call found and did: ``complete`` (runs finished before), ``failed``
    (recorded failures before), ``retried`` (interrupted or lost runs enqueued again), ``ran``.

    Several coordinators (machines) may run one sweep on a shared storage at once. A run whose
    coordinator stopped (Ctrl-C) is enqueued again at the next start; one whose coordinator died
    (kill -9, a lost machine) once its heartbeat is ``stale_after`` seconds old, by any coordinator.
    ``retry_interrupted`` retries every RUNNING run at once (when you know no coordinator is alive).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    storage = storage or default_storage(out)
    sweep = Sweep(spec, storage)
    before = sweep.runs.get_trials(deepcopy=False)
    counts = {"complete": sum(t.state == TrialState.COMPLETE for t in before),
              "failed": sum(map(failed, before)),
              "retried": sweep.reap(set(), spec.stale_after, everything=retry_interrupted), "ran": 0}
    counts["retried"] += sweep.restore()
    executor = DaskExecutor(scheduler) if scheduler else LocalExecutor(workers)
    beats = Heartbeats(storage, spec.heartbeat)
    in_flight: dict = {}
    last_reap = time.monotonic()
    try:
        while True:
            while len(in_flight) < executor.slots:
                claimed = sweep.claim()
                if claimed is None and sweep.propose():
                    claimed = sweep.claim()
                if claimed is None:
                    break
                trial, fixed = claimed
                beats.add(trial._trial_id)
                in_flight[executor.submit(sweep.task_for(trial, fixed, out))] = trial
            if time.monotonic() - last_reap > spec.heartbeat:
                counts["retried"] += sweep.reap({t.number for t in in_flight.values()}, spec.stale_after)
                last_reap = time.monotonic()
                continue
            if not in_flight:
                if sweep.runs.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                    time.sleep(min(spec.heartbeat, 5.0))  # another coordinator's runs: theirs, or lost
                    counts["retried"] += sweep.reap(set(), spec.stale_after)
                    continue
                break
            done = executor.next_done(in_flight, timeout=spec.heartbeat)
            if done is None:
                continue
            future, outcome = done
            trial = in_flight.pop(future)
            beats.remove(trial._trial_id)
            sweep.record(trial, outcome)
            counts["ran"] += 1
            if on_done:
                on_done(outcome)
    except BaseException:
        for trial in in_flight.values():  # interrupted here: enqueued again at the next start
            try:
                sweep.runs.tell(trial, state=TrialState.FAIL)
            except Exception:
                pass
        executor.close(cancel=True)
        raise
    finally:
        beats.close()
    executor.close()
    return counts
