"""Checkpoints: every player's parameters, optimiser state and all random states, written atomically.

Files are ``checkpoints/step-XXXXXXXX.pt``; the newest ``keep`` are kept. Loading takes the newest
checkpoint that reads back whole, so a corrupt or truncated file costs one interval, not the run.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import torch

from gangames.errors import CheckpointError
from gangames.io import atomic_open

FORMAT = 3  # 2: per-player optimiser step counts, critics with a head, games' own random streams;
#            3: the run's data, latent and noise streams
_NAME = re.compile(r"^step-(\d{8,})\.pt$")
REQUIRED = ("format", "step", "modules", "optimizers", "rng")


def checkpoint_path(folder: Path, step: int) -> Path:
    return folder / f"step-{step:08d}.pt"


def list_checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """(step, path) of every checkpoint file, oldest first."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return sorted(found)


def save(folder: Path, state: dict, keep: int) -> Path:
    """Write ``state`` atomically, then delete all but the newest ``keep`` checkpoints."""
    path = checkpoint_path(folder, state["step"])
    with atomic_open(path, "wb") as handle:
        torch.save({"format": FORMAT, **state}, handle)
    for _, old in list_checkpoints(folder)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def read(path: Path) -> dict:
    """Load one checkpoint; raise CheckpointError if it is not a whole gangames checkpoint."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a damaged file
        raise CheckpointError(f"checkpoint {path} is unreadable ({type(err).__name__}: {str(err)[:120]})") from None
    if not isinstance(state, dict) or any(k not in state for k in REQUIRED):
        raise CheckpointError(f"checkpoint {path} is not a gangames checkpoint (missing keys)")
    if state["format"] != FORMAT:
        raise CheckpointError(f"checkpoint {path} has format {state['format']}, this version reads {FORMAT}")
    return state


def load_latest(folder: Path, at_step: int | None = None) -> dict:
    """The newest readable checkpoint (or the one at ``at_step``), warning about any skipped."""
    found = list_checkpoints(folder)
    if at_step is not None:
        found = [(s, p) for s, p in found if s == at_step]
        if not found:
            raise CheckpointError(f"no checkpoint at step {at_step} in {folder}")
    for _, path in reversed(found):
        try:
            return read(path)
        except CheckpointError as err:
            warnings.warn(f"{err}; trying an older checkpoint", stacklevel=2)
    raise CheckpointError(f"no usable checkpoint in {folder}")
