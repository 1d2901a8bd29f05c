"""Cold compile time and compiled step rate of a game's step, at two (or more) revisions of gangames.

Did a change make the step compile faster, and what did it cost per step? Each revision is checked
out in a temporary git worktree (``.`` is the working tree as it is); each measurement is a fresh
Python process with an empty kernel cache, importing that revision's gangames; the revisions take
turns within each repeat, so that a change in the machine's load hits every revision alike. Before
each measurement an untimed process compiles a tiny function in that cache, which does what a
machine does once for all structures (inductor's probe of the CPU's vector instructions, ~2.2 s on
2 cores; from 2026-12-07 on, the precompiled headers, ~9.6 s, which earlier revisions keep in the
temporary folder): the time measured is a new structure's, as step_rate.py's ``compile`` section
measures it. (Until 2026-12-07 the probe was inside each measurement.)

    python benchmarks/compile_revisions.py --revisions HEAD~1,. --games ns,wgan-gp --repeats 2

Per game and revision: the cold compile (the seconds of the calls that produced a graph, as the
trainer counts them), how many times the compiler traced the step (``compile_attempt_*`` in
dynamo's metrics; 2 means it restarted its analysis once), and the compiled step rate over
``--seconds`` of calls after five warm-up calls (the random inputs drawn beforehand). ``--defaults``
picks the settings: ``tuned`` as ``gangames train`` plays them (on the mixtures: the generator's
moving average on), ``paper`` as step_rate.py does. Either at the default run length (2 000 steps),
where, from revisions with ``run.compile_unit`` (2026-12-07) on, the games of several critic steps
compile one graph per player update, not per round (step_rate.py's ``units`` section compares the two).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, os, sys, time
import torch
from gangames import build
from gangames.config import Config, apply_overrides
from gangames.training.compiled import compile_function

game_name, batch, defaults, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
cfg = build.resolve(apply_overrides(Config(), [f"game.name={game_name}", f"data.batch_size={batch}",
                                               "run.progress=false", f"game.defaults={defaults}", "robust.warmup=0"]))
data = build.build_data(cfg)
game = build.build_game_for(cfg, data, "cpu")
compiled = []

def compile_fn(fn):
    compiled.append(compile_function(fn, cpp_wrapper=True))
    return compiled[-1]

play = game.compiled_steps(compile_fn)
rng = torch.Generator().manual_seed(0)
rounds = [[game.draw(data, batch, rng, i)] for i in range(1, 201)]
play(rounds[0])
for i in range(1, 6):
    play(rounds[i])
calls, start = 0, time.perf_counter()
while time.perf_counter() - start < seconds:
    play(rounds[6 + calls % 194])
    calls += 1
rate = calls / (time.perf_counter() - start)
attempts = [k for k in torch._dynamo.utils.compilation_time_metrics if k.startswith("compile_attempt_")]
print(json.dumps({"compile": sum(c.compile_seconds for c in compiled), "rate": rate, "traced": len(attempts)}))
"""


# What a machine does once, before its first structure: a tiny function compiled as a game step is.
SET_UP = r"""
import torch
from gangames.training.compiled import compile_function
compile_function(lambda x: (x * 2).exp().sum(0), cpp_wrapper=True)(torch.ones(4, 16))
import gangames.training.compiled as compiled
getattr(compiled, "wait_for_set_up", lambda: None)()  # from 2026-12-07: the helper process it started
"""


def measure(src: Path, game: str, args) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        # Left unset, TORCHINDUCTOR_CACHE_DIR follows GANGAMES_CACHE (training/compiled.py's use_cache_dir)
        # and, from 2026-12-07 on, so do the precompiled headers; earlier revisions name the same folder.
        env = {key: value for key, value in os.environ.items() if key != "TORCHINDUCTOR_CACHE_DIR"}
        env.update(PYTHONPATH=str(src), GANGAMES_CACHE=cache)
        subprocess.run([sys.executable, "-c", SET_UP], env=env, capture_output=True, text=True, check=True)
        out = subprocess.run([sys.executable, "-c", CHILD, game, str(args.batch), args.defaults, str(args.seconds)],
                             env=env, capture_output=True, text=True)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        last = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit code {out.returncode}"
        raise SystemExit(f"{game} at {src} failed: {last}")
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", default="HEAD,.", help="git revisions, comma-separated; '.' = the working tree")
    parser.add_argument("--games", default="ns,wgan-gp")
    parser.add_argument("--defaults", default="tuned", choices=("tuned", "paper"))
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    revisions = args.revisions.split(",")
    with tempfile.TemporaryDirectory() as trees:
        sources = {}
        try:
            for rev in revisions:
                if rev == ".":
                    sources[rev] = ROOT / "src"
                    continue
                tree = Path(trees) / f"tree{len(sources)}"
                added = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), rev],
                                       capture_output=True, text=True)
                if added.returncode != 0:
                    raise SystemExit(f"cannot check out revision {rev!r}: {added.stderr.strip().splitlines()[-1]}")
                sources[rev] = tree / "src"
            print(f"cold compile and compiled rate, fresh process and empty cache each, batch {args.batch}, "
                  f"{args.defaults} settings, {args.repeats} repeats (median; each repeat in brackets)")
            print(f"{'game':<10} {'revision':<12} {'compile s':>10} {'repeats':>16} {'traced':>7} {'steps/s':>8} "
                  f"{'compile / first':>16} {'rate / first':>13}")
            for game in args.games.split(","):
                results = {rev: [] for rev in revisions}
                for _ in range(args.repeats):
                    for rev in revisions:
                        results[rev].append(measure(sources[rev], game, args))
                first = revisions[0]
                med = {rev: (statistics.median(r["compile"] for r in rows), statistics.median(r["rate"] for r in rows))
                       for rev, rows in results.items()}
                for rev, rows in results.items():
                    each = "[" + ", ".join(f"{r['compile']:.1f}" for r in rows) + "]"
                    traced = ",".join(sorted({str(r["traced"]) for r in rows}))
                    print(f"{game:<10} {rev:<12} {med[rev][0]:>10.1f} {each:>16} {traced:>7} {med[rev][1]:>8.0f} "
                          f"{med[rev][0] / med[first][0]:>16.2f} {med[rev][1] / med[first][1]:>13.2f}", flush=True)
        finally:
            for rev, src in sources.items():
                if rev != ".":
                    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(src.parent)],
                                   capture_output=True)


if __name__ == "__main__":
    main()
