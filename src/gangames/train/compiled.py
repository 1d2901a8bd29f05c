"""Compile a whole game step (all gradient computations and optimiser updates) into one graph."""

from __future__ import annotations

import os
from pathlib import Path

import torch


def cache_dir() -> Path:
    return Path(os.environ.get("GANGAMES_CACHE", Path.home() / ".cache" / "gangames"))


def compile_step(step):
    """``torch.compile`` of a game's step, with a persistent on-disk cache of compiled kernels.

    ``trace_autograd_ops`` lets the compiler trace ``torch.autograd.grad`` (the players' gradients
    and the gradient penalties) into the graph instead of breaking the graph at each call.
    """
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache_dir() / "inductor"))
    torch._dynamo.config.trace_autograd_ops = True
    return torch.compile(step, fullgraph=True, dynamic=False)
