"""One writer per run folder: an exclusive ``flock`` on a lock file, held while a run trains or is
evaluated.

The kernel drops the lock when its process dies (kill -9 included), so a crashed trainer never
leaves a folder locked, and a lock file left behind means nothing by itself. The lock is re-entrant
within a process (the runner holds it around a trainer that takes it again). On a shared filesystem
it needs working ``flock`` (local disks, NFSv4, Lustre and GPFS with locking on).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from pathlib import Path

from gangames.errors import GanGamesError

_held: dict[str, list] = {}  # path -> [file, depth], the locks this process holds


class FolderBusy(GanGamesError):
    """Another process holds the run folder."""


def holder(path: Path) -> str:
    try:
        who = json.loads(path.read_text())
        return f"pid {who['pid']} on {who['host']}"
    except (OSError, ValueError, KeyError):
        return "another process"


@contextlib.contextmanager
def exclusive(path: str | Path, what: str, wait: float = 0.0, poll: float = 0.2):
    """Hold ``path``'s lock for the block. ``wait`` seconds (inf: until free) before giving up with
    a one-line :class:`FolderBusy`."""
    path = Path(path)
    key = str(path.resolve())
    if key in _held:
        _held[key][1] += 1
        try:
            yield
        finally:
            _held[key][1] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.close()
                raise FolderBusy(f"{what} is in use by {holder(path)} (lock {path}); "
                                 "two trainers never write one run folder") from None
            time.sleep(poll)
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}))
    handle.flush()
    _held[key] = [handle, 1]
    try:
        yield
    finally:
        del _held[key]
        handle.close()  # closing the descriptor releases the lock


def holder_pid(path: str | Path) -> int | None:
    """The pid that last took the lock (it may have died since), or None."""
    try:
        return int(json.loads(Path(path).read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
