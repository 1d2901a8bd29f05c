"""Compile a whole game step (all gradient computations and optimiser updates) into one graph."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import torch

from gangames.training.run_dir import code_digest


def cache_dir() -> Path:
    return Path(os.environ.get("GANGAMES_CACHE", Path.home() / ".cache" / "gangames"))


def use_cache_dir() -> None:
    """Keep compiled kernels in our cache folder unless the user named one in TORCHINDUCTOR_CACHE_DIR.

    Importing torch._dynamo already sets that variable to torch's default, a temporary folder, so
    the default counts as unset: left there, every reboot would compile every configuration again.
    The C++ compiler's precompiled headers go with them: torch keeps those in its temporary folder
    whatever that variable says, and rebuilding them after a reboot added 9.6 s to the next compile
    (2 cores, docs/speed.md). They are keyed by the headers' text, the flags and the compiler, so
    any folder serves; a user's own TORCHINDUCTOR_CACHE_DIR leaves torch's choice for them too.
    """
    from torch._inductor import codecache
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    current = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    ours = current is None or os.path.abspath(current) == os.path.abspath(default_cache_dir())
    if ours:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(cache_dir() / "inductor")
    headers = Path(os.environ["TORCHINDUCTOR_CACHE_DIR"] if ours else default_cache_dir()) / "precompiled_headers"
    if hasattr(codecache, "_HEADER_DIR"):  # a private name of torch 2.13; without it torch's folder stays
        codecache._HEADER_DIR, codecache._HEADER_LOCK_DIR = str(headers), str(headers / "locks")


# What a compiled step's graph does not depend on: the run's length and bookkeeping, the evaluation,
# and the settings that enter the graph as tensors (the optimisers' hyperparameters, docs/speed.md).
_NOT_IN_GRAPH = {"run": ("seed", "steps", "label", "log_every", "snapshot_every", "snapshot_size", "checkpoint_every",
                         "keep_checkpoints", "compile", "compile_after", "threads", "progress", "tensorboard"),
                 "generator": ("lr", "beta1", "beta2", "eps"), "discriminator": ("lr", "beta1", "beta2", "eps"),
                 "eval": None}


def structure_key(cfg) -> str:
    """A name for the graphs a resolved config compiles to: equal configs up to the fields above share it,
    under the same torch and the same gangames code (another version of either traces other graphs).
    It errs towards telling structures apart (a setting that is in fact a graph input still splits it)."""
    from gangames.config import to_dict

    plain = to_dict(cfg)
    for section, fields in _NOT_IN_GRAPH.items():
        if fields is None:
            plain.pop(section, None)
        for name in fields or ():
            plain.get(section, {}).pop(name, None)
    text = json.dumps({"torch": torch.__version__, "gangames": code_digest(), "config": plain}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _marker(cfg) -> Path:
    return cache_dir() / "compiled" / structure_key(cfg)


def compiled_before(cfg) -> bool:
    """Whether a run of this structure compiled on this machine (its kernels are then in the cache)."""
    return _marker(cfg).exists()


def remember_compiled(cfg) -> None:
    marker = _marker(cfg)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()


def compile_function(step, cpp_wrapper: bool = True):
    """``torch.compile`` of a game's step, with a persistent on-disk cache of compiled kernels.

    ``trace_autograd_ops`` lets the compiler trace ``torch.autograd.grad`` (the players' gradients
    and the gradient penalties) into the graph instead of breaking the graph at each call.
    ``cpp_wrapper`` launches the graph's kernels from C++ rather than from generated Python: about
    40 us less per game step of the 2-D players on the CPU (benchmarks/README.md); the trainer
    turns it off on a GPU. Its launcher is then built apart from the kernels (``inductor_options``).
    """
    use_cache_dir()
    torch._dynamo.config.trace_autograd_ops = True
    # Every game object is its own graph: a process that trains many runs (a sweep worker, the
    # benchmark) needs more than dynamo's default of 8 per code object.
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 256)
    compiled = torch.compile(step, fullgraph=True, dynamic=False, options=inductor_options(cpp_wrapper))
    return GuardedCompile(step, compiled, before_first_call=set_up_machine_aside if cpp_wrapper else None)


def inductor_options(cpp_wrapper: bool) -> dict:
    """The compiler's settings for a game step. With the C++ launcher, inductor by default builds the
    launcher and the kernels as one file at -O3; built apart, the launcher (a long list of calls,
    nothing to optimise) is built at -O1 while the kernels keep -O3 (docs/speed.md: the compile time
    and step rate it gives)."""
    return {"cpp_wrapper": cpp_wrapper, "cpp_wrapper_build_separate": cpp_wrapper}


# A machine's first compile also builds what every later one reuses: inductor's probe of the CPU
# and the C++ compiler's precompiled headers, ~12 s of g++ on 2 cores (docs/speed.md), in turn with
# this process's tracing and code generation, which keep one core busy. A helper process compiling a
# tiny function with the same settings builds them on another core meanwhile; this process then
# finds them built (torch builds each under a file lock and skips one that exists).
_SET_UP = """
import json, sys, torch
from torch._inductor import codecache
codecache._HEADER_DIR, codecache._HEADER_LOCK_DIR = sys.argv[1], sys.argv[1] + "/locks"
torch.compile(lambda x: (x * 2).exp().sum(0), fullgraph=True, options=json.loads(sys.argv[2]))(torch.ones(4, 16))
"""
_set_up: list[subprocess.Popen] = []


def set_up_machine_aside() -> subprocess.Popen | None:
    """Start the helper process above, once per process, on a machine whose header folder is empty
    (none where torch has no such folder). Its failure costs nothing but the time it would save."""
    from torch._inductor import codecache

    headers = getattr(codecache, "_HEADER_DIR", None)
    if _set_up or headers is None or any(Path(headers).glob("*.gch")):
        return None
    try:
        helper = subprocess.Popen([sys.executable, "-c", _SET_UP, headers, json.dumps(inductor_options(True))],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        return None
    _set_up.append(helper)
    return helper


def wait_for_set_up() -> None:
    """Wait for the helper process, if this process started one (a benchmark that times the next
    compile in another process must not share the machine with it)."""
    for helper in _set_up:
        helper.wait()


# FailOnRecompileLimitHit is not a TorchDynamoException.
COMPILE_ERRORS = (torch._dynamo.exc.TorchDynamoException,
                  getattr(torch._dynamo.exc, "FailOnRecompileLimitHit", torch._dynamo.exc.TorchDynamoException))


class GuardedCompile:
    """A compiled function that falls back to the eager one if the compiler fails, and keeps
    account of the seconds spent compiling (calls that produced a new graph)."""

    def __init__(self, eager, compiled, before_first_call=None):
        self.eager, self.compiled = eager, compiled
        self.before_first_call = before_first_call  # called once, as the first call starts compiling
        self.failed: str | None = None
        self.compile_seconds = 0.0

    def __call__(self, *args):
        if self.failed:
            return self.eager(*args)
        if self.before_first_call is not None:
            self.before_first_call, prepare = None, self.before_first_call
            prepare()
        graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
        start = time.perf_counter()
        try:
            out = self.compiled(*args)
        except COMPILE_ERRORS as err:
            # Tracing fails before anything runs, so no state has changed: run this call eagerly.
            self.failed = f"{type(err).__name__}: {str(err).splitlines()[0][:160]}"
            warnings.warn(f"torch.compile failed ({self.failed}); running eagerly", stacklevel=2)
            return self.eager(*args)
        if torch._dynamo.utils.counters["stats"]["unique_graphs"] != graphs:
            self.compile_seconds += time.perf_counter() - start
        return out
