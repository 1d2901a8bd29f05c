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

_held: set[str] = set()  # the lock files this process holds


class FolderBusy(GanGamesError):
    """Another process holds the run folder."""


def _who(path: str | Path) -> dict:
    """What the last holder wrote into the lock file ({} if nothing readable)."""
    try:
        who = json.loads(Path(path).read_text())
        return who if isinstance(who, dict) else {}
    except (OSError, ValueError):
        return {}


def holder(path: Path) -> str:
    who = _who(path)
    return f"pid {who['pid']} on {who['host']}" if "pid" in who and "host" in who else "another process"


@contextlib.contextmanager
def exclusive(path: str | Path, what: str, wait: float = 0.0, poll: float = 0.2):
    """Hold ``path``'s lock for the block. ``wait`` seconds (inf: until free) before giving up with
    a one-line :class:`FolderBusy`."""
    path = Path(path)
    key = str(path.resolve())
    if key in _held:  # re-entrant: the outer block releases it
        yield
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
    _held.add(key)
    try:
        yield
    finally:
        _held.discard(key)
        handle.close()  # closing the descriptor releases the lock


def holder_pid(path: str | Path) -> int | None:
    """The pid that last took the lock (it may have died since), or None."""
    try:
        return int(_who(path)["pid"])
    except (KeyError, ValueError, TypeError):
        return None
