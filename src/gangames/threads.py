"""How many torch threads a run takes: never more cores than are free.

torch's default is one thread per core of the machine, in every process: two runs side by side
each spin up all the cores and their thread pools fight (measured: 9x slower; docs/speed.md). So a
run with ``run.threads = 0`` (the default) takes the cores of its CPU affinity mask (what Slurm,
taskset or a container grant it) minus the threads other gangames processes of this user already
hold on this machine, and at least one; it warns once when it starts on a machine whose cores are
taken. Each process records what it holds in a small file it keeps locked (``flock``) in
``$TMPDIR/gangames-threads-UID`` (``GANGAMES_THREADS_DIR``); the kernel drops the lock when the
process dies, so a file whose lock can be taken is stale and is removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import tempfile
from pathlib import Path

import torch

_mine: dict = {}  # this process's claim: {"threads": n, "fixed": bool, "handle": its locked file, if written}
_warned = False


def registry() -> Path:
    return Path(os.environ.get("GANGAMES_THREADS_DIR") or Path(tempfile.gettempdir()) / f"gangames-threads-{os.getuid()}")


def cores() -> int:
    """The cores this process may run on (its affinity mask), not the machine's count."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def held_by_others() -> dict[int, int]:
    """pid -> threads of the other live gangames processes of this user on this machine."""
    found = {}
    folder = registry()
    for path in folder.glob("*.json") if folder.is_dir() else []:
        if path.stem == str(os.getpid()):  # our own (locked by us, it would look held)
            continue
        try:
            with open(path) as handle:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:  # held: a live process
                    found[int(path.stem)] = int(json.loads(handle.read() or "{}").get("threads", 1))
                    continue
            path.unlink(missing_ok=True)  # nobody holds it: its process is gone
        except (OSError, ValueError):
            continue
    return found


def claim(requested: int = 0, fixed: bool = False) -> int:
    """Set this process's torch threads: ``requested`` if positive, else the free cores (at least
    one); record them for the other gangames processes. Returns the count. A ``fixed`` claim (a
    worker's share, given by its runner) is kept by later claims of 0 in the same process."""
    if requested <= 0 and _mine.get("fixed"):
        torch.set_num_threads(_mine["threads"])
        return _mine["threads"]
    with _registry_lock():  # runs started together see each other's claims
        return _claim(requested, fixed)


def _claim(requested: int, fixed: bool) -> int:
    global _warned
    others = held_by_others()
    free = cores() - sum(others.values())
    threads = requested if requested > 0 else max(1, free)
    if (requested > free or free < 1) and not _warned:
        _warned = True
        print(f"warning: the cores of this machine are taken ({sum(others.values())} threads held by "
              f"{len(others)} other gangames process(es) on {cores()} cores); this run uses {threads} "
              f"thread(s) and will be slower. Set run.threads to choose.", file=sys.stderr)
    torch.set_num_threads(threads)
    _mine.update(threads=threads, fixed=fixed)
    _record(threads)
    return threads


def release(share: bool = False) -> None:
    """Give this process's claim back (a run ended). A worker's fixed share stays until it exits,
    or until its runner gives it back (``share``: the runner that ran its tasks in this process)."""
    if not _mine or (_mine.get("fixed") and not share):
        return
    handle = _mine.pop("handle", None)
    _mine.clear()
    if handle is not None:
        try:
            Path(handle.name).unlink(missing_ok=True)
        finally:
            handle.close()


@contextlib.contextmanager
def _registry_lock():
    try:
        folder = registry()
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / ".lock", "a+")
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield


def _record(threads: int) -> None:
    """Write this process's count into its locked file (inside the registry lock, which made the
    folder)."""
    try:
        if "handle" not in _mine:
            handle = open(registry() / f"{os.getpid()}.json", "a+")
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            _mine["handle"] = handle
        handle = _mine["handle"]
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"threads": threads}))
        handle.flush()
    except OSError:  # a read-only or odd temp dir: the run goes on, unrecorded
        pass
