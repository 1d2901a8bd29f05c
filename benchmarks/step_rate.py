"""Training speed of the gangames trainer against plain reference loops, all measured in one process.

The reference is each game written the usual way (``gangames.reference``: nn.Sequential players,
torch.optim, backward()), with the same networks, batch and data. Measurements are interleaved
(reference, ours, ...) and the median of the repeats is reported, so that a change in the machine's
load hits both sides alike. Compilation time is excluded from every rate and printed separately.

    python benchmarks/step_rate.py                       # all sections, eager and compiled
    python benchmarks/step_rate.py --sections games --games ns,wgan-gp --seconds 3 --repeats 5
    python benchmarks/step_rate.py --device cuda         # the same on a GPU, when there is one

Sections: machine (matrix-multiply rate), games (two-player games vs the reference), auction
(N players vs N pairs in a loop, and vs one pair), images (DCGAN images/s), stacked (not run by
default: one step of the Stacked Fashion-MNIST command's setting per game, robust-w against ns and
wgan-gp), user-modules (the same players as a user's nn.Modules under torch.func vmap vs the
built-in stacked ones), memory (peak RSS),
concurrency (not run by default: 1, 2 and 4 training processes side by side, with the default thread
budget and with every process taking every core),
profile (not run by default: where a compiled step's time goes, and the ratio to the reference that
its matrix products alone allow), overhead (not run by default: the cost of a compiled call and of its
kernel launches, with players too small to compute anything), compile (not run by default: each game's
cold compile in a fresh process, the machine's one-time part apart, and a sweep's next trial), units
(not run by default: the games of several critic steps compiled per round and per player update).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from gangames import build
from gangames.config import Config, apply_overrides
from gangames.games.registry import GAMES
from gangames.reference import ReferenceGame, plain_copy
from gangames.training.trainer import Trainer

sys.path.insert(0, str(Path(__file__).parent))
import jax_reference  # noqa: E402  (benchmarks/jax_reference.py, beside this script)

# The one-pair games, those of the two-player family first (games with their own section after).
TWO_PLAYER = sorted((g for g, entry in GAMES.items() if not entry.pairs_of_players),
                    key=lambda g: GAMES[g].section is not None)


# Every benchmark plays each game's paper settings (no tuned defaults, so no generator average: the
# step the JAX peer and the plain reference write out), compiled as one graph per round unless a
# section says otherwise (run.compile_unit; the ``units`` section compares the two).
PAPER = ["run.progress=false", "game.defaults=paper", "run.compile_unit=round"]


def resolved(game: str, batch: int, device: str = "cpu", extra: list[str] | None = None) -> Config:
    return build.resolve(apply_overrides(Config(), [f"game.name={game}", f"data.batch_size={batch}",
                                                    f"run.device={device}", *PAPER, *(extra or [])]))


# -- the machine -----------------------------------------------------------------------------------
def cpu_name() -> str:
    """The CPU's model name, with its family and model numbers (virtual machines often report only
    the vendor's name, and the numbers tell the generations apart)."""
    fields = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    if "model name" not in fields:
        return "CPU"
    return f"{fields['model name']} (family {fields.get('cpu family', '?')}, model {fields.get('model', '?')})"


def matmul_rate(device: str, seconds: float = 1.0) -> float:
    """GFLOP/s of float32 matrix products at the shapes of the MLP players and a large square one."""
    best = 0.0
    for shape in ((8, 256, 128, 128), (1, 2048, 128, 128), (1, 1024, 1024, 1024)):
        p, m, k, n = shape
        a, b = torch.randn(p, m, k, device=device), torch.randn(p, k, n, device=device)
        torch.bmm(a, b)
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            torch.bmm(a, b)
            count += 1
        if device == "cuda":
            torch.cuda.synchronize()
        best = max(best, 2 * p * m * k * n * count / (time.perf_counter() - start) / 1e9)
    return best


class CountFlops(TorchDispatchMode):
    """Adds up torch's FLOP formulas (matrix products, convolutions) of every op that runs, the
    backward passes included. (torch's FlopCounterMode installs module hooks that the gradient
    penalties' autograd.grad calls do not support.)"""

    total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


def flops_per_step(cfg: Config, compiled: bool = True) -> float:
    """Floating-point operations of one training step (step 1: no auction, no warm-up skip once
    robust.warmup is 0). ``compiled``: as the compiled step computes it (the code's compile-only
    forms, run eagerly here so that every operation is counted); else as the eager step does."""
    data = build.build_data(cfg)
    game = build.build_game_for(cfg, data, cfg.run.device)
    rng = torch.Generator(device=cfg.run.device).manual_seed(0)
    inputs = game.draw(data, cfg.data.batch_size, rng, 1)
    with mock.patch.object(torch.compiler, "is_compiling", lambda: compiled), CountFlops() as counter:
        game.step(inputs)
    return float(counter.total)


# -- rates -----------------------------------------------------------------------------------------
def reference_game(cfg: Config, players, p: int = 0) -> ReferenceGame:
    """Player ``p`` of stacked ``players`` as the plainly written game of ``cfg``."""
    g, d, game = cfg.generator, cfg.discriminator, cfg.game
    return ReferenceGame(plain_copy(players.generator, p), plain_copy(players.discriminator, p), game.loss,
                         game.penalty, game.penalty_weight, game.disc_steps, game.clip,
                         (g.optimizer, g.lr, g.beta1, g.beta2), (d.optimizer, d.lr, d.beta1, d.beta2),
                         game.dragan_scale)


def reference_rate(cfg: Config, steps: int, pairs: int = 1) -> float:
    """Rounds/s of ``pairs`` reference pairs trained one after another in a plain eager loop."""
    device = cfg.run.device
    data = build.build_data(cfg)
    players = build.build_players(cfg, data, list(range(pairs)), device)
    game = cfg.game
    refs = [reference_game(cfg, players, p) for p in range(pairs)]
    centres = torch.as_tensor(data.centres, dtype=torch.float32, device=device)
    batch, k, penalty = cfg.data.batch_size, game.disc_steps, game.penalty

    def real_batch():
        return centres[torch.randint(len(centres), (batch,), device=device)] + data.sigma * torch.randn(batch, 2, device=device)

    start = time.perf_counter()
    for _ in range(steps):
        for ref in refs:
            real = torch.stack([real_batch() for _ in range(k)])
            noise = {}
            if penalty == "interpolate":
                noise = {"epsilon": torch.rand(k, batch, 1, device=device)}
            elif penalty == "dragan":
                noise = {"uniform": torch.rand(k, batch, 2, device=device), "alpha": torch.rand(k, batch, 1, device=device)}
            ref.step(real, torch.randn(k, batch, 2, device=device), torch.randn(batch, 2, device=device), noise)
    if device == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - start)


class TimedTrainer:
    """One trainer, run in slices of ``steps``: each ``rate()`` continues it and returns the steps/s
    of that slice, as the trainer itself reports it (logging included, compilation excluded). The
    first slice (two calls of ``run.steps_per_call`` steps) compiles; its seconds are kept in
    ``compile_seconds``. Slices end on multiples of the steps per call, as a long run's steps are
    almost all in full calls."""

    def __init__(self, cfg: Config, compile_: bool, workdir: Path):
        per_call = cfg.run.steps_per_call  # cfg is resolved (``resolved``)
        # run.compile_after=0: cfg is resolved, where an unset run.compile gave the default run's
        # 1 000 eager steps first; without it the "compiled" slices timed eager steps.
        cfg = apply_overrides(cfg, [f"run.steps={2 * per_call}", f"run.compile={str(compile_).lower()}",
                                    "run.compile_after=0", "run.checkpoint_every=1000000000",
                                    "run.snapshot_every=1000000000", "eval.every=0"])
        self.trainer = Trainer(cfg, Path(tempfile.mkdtemp(dir=workdir)))
        self.per_call = per_call
        self.compile_seconds = self.trainer.run().compile_seconds

    def rate(self, steps: int) -> float:
        end = self.trainer.step + steps
        self.trainer.cfg.run.steps = -(-end // self.per_call) * self.per_call
        return self.trainer.run().steps_per_second


class Rounds:
    """Rates measured in interleaved rounds (every measurement once per round, in turn).

    The machine's speed drifts by tens of percent over minutes (shared hosts), so a ratio is taken
    within each round, where both sides ran seconds apart, and the median over rounds is reported
    with its range.
    """

    def __init__(self, measure: dict, repeats: int):
        self.samples: dict[str, list[float]] = {k: [] for k in measure}
        for _ in range(repeats):
            for name, fn in measure.items():
                self.samples[name].append(fn())

    def __getitem__(self, name: str) -> float:
        return statistics.median(self.samples[name])

    def ratios(self, a: str, b: str) -> list[float]:
        return [x / y for x, y in zip(self.samples[a], self.samples[b])]

    def ratio(self, a: str, b: str) -> float:
        return statistics.median(self.ratios(a, b))

    def best_ratio(self, a: str, b: str) -> float:
        """The best round of ``a`` over the best of ``b``: load on a shared host only ever slows a
        measurement down, so the fastest round of each is the least disturbed (as timeit reports
        the minimum). A check on the median, not a replacement for it."""
        return max(self.samples[a]) / max(self.samples[b])

    def spread(self, a: str, b: str) -> str:
        r = self.ratios(a, b)
        return f"{min(r):.2f}-{max(r):.2f}"


# -- sections --------------------------------------------------------------------------------------
def limit(args, flops: float):
    """A round's measurement of the machine: the steps/s its matrix-multiply rate allows for
    ``flops`` per step (so "% of rate" is a ratio within a round too)."""
    return lambda: matmul_rate(args.device, 0.3) * 1e9 / flops


def timed_game(game: str, args) -> tuple[Config, int]:
    """A two-player game's config (robust-w's defenders timed from the first step, no warm-up) and
    the number of steps the reference takes about ``args.seconds`` for."""
    cfg = resolved(game, args.batch, args.device, ["robust.warmup=0"])  # (ignored by the games without defenders)
    return cfg, max(20, int(reference_rate(cfg, 5) * args.seconds))


def jax_peer(cfg: Config):
    """The game's JAX step on the players' initial weights (benchmarks/jax_reference.py), after checking
    that it computes what the torch reference does; None (with the reason printed once) when JAX is
    absent, the game has no JAX form or the check fails."""
    if not jax_reference.available():
        return None
    if cfg.game.name not in jax_reference.SUPPORTED or cfg.run.device != "cpu":
        return None
    data = build.build_data(cfg)
    players = build.build_players(cfg, data, [0], cfg.run.device)
    gap = jax_reference.check(cfg, data, players, lambda: reference_game(cfg, players))
    if not gap < 1e-4:
        print(f"  ({cfg.game.name}: the JAX step differs from the reference by {gap:.2g} after 3 steps; not timed)")
        return None
    return jax_reference.JaxGame(cfg, data, plain_copy(players.generator), plain_copy(players.discriminator))


def games_section(args, workdir: Path) -> None:
    print(f"\ntwo-player games on ring8, batch {args.batch}: steps/s (median of {args.repeats} rounds); "
          "ratios to the reference (median, range over rounds); compiled: one round per call (run.steps_per_call); JAX: the same step in jax.jit + optax, ours = compiled / JAX")
    if not jax_reference.available():
        print("  (JAX is not installed: no JAX column; pip install -e \".[bench]\")")
    print(f"{'game':<10} {'reference':>10} {'eager':>7} {'ratio':>6} {'compiled':>9} {'ratio':>6} {'range':>10} "
          f"{'best/best':>10} {'JAX':>6} {'ours/JAX':>9} {'range':>10} {'compile s':>10} {'MFLOP eager':>12} "
          f"{'compiled':>9} {'% of rate':>10}")
    for game in args.games.split(","):
        cfg, steps = timed_game(game, args)
        flops, eager_flops = flops_per_step(cfg), flops_per_step(cfg, compiled=False)
        eager, compiled = TimedTrainer(cfg, False, workdir), TimedTrainer(cfg, True, workdir)
        peer = jax_peer(cfg)
        measure = {
            "limit": limit(args, flops),
            "reference": lambda: reference_rate(cfg, steps),
            "eager": lambda: eager.rate(steps),
            "compiled": lambda: compiled.rate(steps),
        }
        if peer is not None:
            measure["jax"] = lambda: peer.rate(steps)
        rounds = Rounds(measure, args.repeats)
        note = " *" if GAMES[game].section is not None else ""
        jax_cells = (f"{rounds['jax']:>6.0f} {rounds.ratio('compiled', 'jax'):>9.2f} {rounds.spread('compiled', 'jax'):>10}"
                     if peer is not None else f"{'-':>6} {'-':>9} {'-':>10}")
        print(f"{game:<10} {rounds['reference']:>10.0f} {rounds['eager']:>7.0f} {rounds.ratio('eager', 'reference'):>6.2f} "
              f"{rounds['compiled']:>9.0f} {rounds.ratio('compiled', 'reference'):>6.2f} "
              f"{rounds.spread('compiled', 'reference'):>10} {rounds.best_ratio('compiled', 'reference'):>10.2f} "
              f"{jax_cells} {compiled.compile_seconds:>10.1f} {eager_flops / 1e6:>12.1f} "
              f"{flops / 1e6:>9.1f} "
              f"{100 * rounds.ratio('compiled', 'limit'):>9.0f}%{note}", flush=True)
    if any(GAMES[g].section is not None for g in args.games.split(",")):
        print("* a game with its own players (robust-w's defenders): the reference column is the plain loop of its "
              "two-player base game (WGAN-GP's, with no defenders)")


def auction_section(args, workdir: Path) -> None:
    n = args.players
    cfg = resolved("auction", args.batch, args.device, [f"auction.players={n}", f"auction.player_game={args.auction_game}"])
    single = resolved(args.auction_game, args.batch, args.device)
    flops = flops_per_step(cfg)
    steps = max(20, int(reference_rate(cfg, 3, n) * args.seconds))
    eager, compiled, one = (TimedTrainer(cfg, False, workdir), TimedTrainer(cfg, True, workdir),
                            TimedTrainer(single, True, workdir))
    rounds = Rounds({
        "limit": limit(args, flops),
        "loop": lambda: reference_rate(cfg, steps, n),
        "eager": lambda: eager.rate(steps),
        "compiled": lambda: compiled.rate(steps),
        "single": lambda: one.rate(steps * n),
    }, args.repeats)
    print(f"\nauction game, N = {n} {args.auction_game} pairs, auction every 100 steps (rounds/s: one step of all N); "
          "N/1 floor: the N/1 time if the N pairs ran at the full matrix-multiply rate")
    print(f"{'N pairs, plain loop':>20} {'ours eager':>11} {'ratio':>6} {'ours compiled':>14} {'ratio':>6} {'range':>10} "
          f"{'best/best':>10} {'1 pair compiled':>16} {'N/1 time':>9} {'N/1 floor':>10} {'% of rate':>10} {'compile s':>10}")
    print(f"{rounds['loop']:>20.1f} {rounds['eager']:>11.1f} {rounds.ratio('eager', 'loop'):>6.2f} "
          f"{rounds['compiled']:>14.1f} {rounds.ratio('compiled', 'loop'):>6.2f} {rounds.spread('compiled', 'loop'):>10} "
          f"{rounds.best_ratio('compiled', 'loop'):>10.2f} "
          f"{rounds['single']:>16.1f} {rounds.ratio('single', 'compiled'):>9.2f} {rounds.ratio('single', 'limit'):>10.2f} "
          f"{100 * rounds.ratio('compiled', 'limit'):>9.0f}% {compiled.compile_seconds:>10.1f}", flush=True)


def images_section(args, workdir: Path) -> None:
    print("\nDCGAN players, NS-GAN, batch 64 (images/s = steps/s x 64)")
    print(f"{'data':<16} {'eager':>10} {'compiled':>10} {'ratio':>6} {'range':>10} {'compile s':>10}")
    for preset in ("digits", "fashion-mnist"):
        cfg = resolved("ns", 64, args.device, [f"data.preset={preset}"])
        eager, compiled = TimedTrainer(cfg, False, workdir), TimedTrainer(cfg, True, workdir)
        steps = 30 if preset == "fashion-mnist" else 100
        rounds = Rounds({"eager": lambda: eager.rate(steps), "compiled": lambda: compiled.rate(steps)}, args.repeats)
        print(f"{preset:<16} {64 * rounds['eager']:>10.0f} {64 * rounds['compiled']:>10.0f} "
              f"{rounds.ratio('compiled', 'eager'):>6.2f} {rounds.spread('compiled', 'eager'):>10} "
              f"{compiled.compile_seconds:>10.1f}", flush=True)


def stacked_section(args, workdir: Path) -> None:
    """The Stacked Fashion-MNIST command's setting (gangames.reproduce.stacked.SETTING), eager as it
    runs there: what one step of the robust game costs against NS-GAN and WGAN-GP (its defenders on
    from the first step), so that its scores can be read per second."""
    from gangames.reproduce import stacked

    print("\nStacked Fashion-MNIST setting (small DCGAN players, batch 64), eager: steps/s, ratios per round")
    steps = {"ns": 40, "wgan-gp": 12, "robust-w": 8}  # ~1-2 s a slice on 2 cores
    trainers = {g: TimedTrainer(resolved(g, 64, args.device, [f"data.preset={stacked.DATA}", *stacked.SETTING,
                                                               "robust.warmup=0"]), False, workdir) for g in steps}
    rounds = Rounds({g: (lambda g=g: trainers[g].rate(steps[g])) for g in steps}, args.repeats)
    print(f"{'game':<10} {'steps/s':>8} {'ns / game':>10} {'range':>12} {'wgan-gp / game':>15} {'range':>12}")
    for g in steps:
        print(f"{g:<10} {rounds[g]:>8.2f} {rounds.ratio('ns', g):>10.2f} {rounds.spread('ns', g):>12} "
              f"{rounds.ratio('wgan-gp', g):>15.2f} {rounds.spread('wgan-gp', g):>12}", flush=True)


# -- users' modules ---------------------------------------------------------------------------------
def user_generator() -> torch.nn.Module:
    """The built-in MLP generator's architecture as a plain module: 2 -> 3 x 128 ReLU -> 2."""
    nn = torch.nn
    return nn.Sequential(nn.Linear(2, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                         nn.Linear(128, 2))


class UserCritic(torch.nn.Module):
    """The built-in MLP critic's architecture: trunk 2 -> 2 x 128, head 128 -> 128 -> 1, LeakyReLU 0.2."""

    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.trunk = nn.Sequential(nn.Linear(2, 128), nn.LeakyReLU(0.2), nn.Linear(128, 128), nn.LeakyReLU(0.2))
        self.head = nn.Sequential(nn.Linear(128, 128), nn.LeakyReLU(0.2), nn.Linear(128, 1))

    def features(self, x):
        return self.trunk(x)

    def score_features(self, h):
        return self.head(h)

    def forward(self, x):
        return self.head(self.trunk(x))


def user_modules_section(args, workdir: Path) -> None:
    """The same players as a user's modules (torch.func vmap over stacked copies) and as the
    built-in stacked MLPs: P = 1 (ns) and P = 8 (eight independent ns pairs), eager and compiled."""
    from gangames.plugins import reference

    nets = [f"generator.net={reference(user_generator)}", f"discriminator.net={reference(UserCritic)}"]
    print(f"\nusers' modules vs the built-in stacked players, ns on ring8, batch {args.batch} (steps/s of all P "
          "pairs; time ratio = user / built-in, target <= 1.3)")
    print(f"{'P':>3} {'mode':<9} {'built-in':>9} {'user':>9} {'time ratio':>11} {'range':>10} {'compile s (user)':>17}")
    for players in (1, 8):
        base = ["auction.player_game=ns", f"auction.players={players}"] if players > 1 else []
        game = "independent" if players > 1 else "ns"
        builtin = resolved(game, args.batch, args.device, base)
        user = resolved(game, args.batch, args.device, base + nets)
        for compile_ in (False, True):
            a, b = TimedTrainer(builtin, compile_, workdir), TimedTrainer(user, compile_, workdir)
            steps = max(20, int(a.rate(10) * args.seconds))
            rounds = Rounds({"builtin": lambda: a.rate(steps), "user": lambda: b.rate(steps)}, args.repeats)
            print(f"{players:>3} {'compiled' if compile_ else 'eager':<9} {rounds['builtin']:>9.0f} {rounds['user']:>9.0f} "
                  f"{rounds.ratio('builtin', 'user'):>11.2f} {rounds.spread('builtin', 'user'):>10} "
                  f"{b.compile_seconds if compile_ else 0:>17.1f}", flush=True)


# Matrix products and convolutions as the profiler names them: torch's operators, and the C++ shims
# a compiled graph calls them through (inductor's cpp_wrapper).
MATMULS = ("aten::bmm", "aten::mm", "aten::baddbmm", "aten::addmm", "aten::convolution",
           "aten::convolution_backward", "aten::mkldnn_convolution",
           "aoti_torch_cpu_bmm_out", "aoti_torch_cpu_mm_out", "aoti_torch_cpu_baddbmm_out", "aoti_torch_cpu_addmm_out",
           "aoti_torch_cpu_convolution", "aoti_torch_cpu_convolution_backward")


@contextlib.contextmanager
def without_profiler_chatter():
    """torch's profiler (kineto) writes a 'USDT: ... profiler_start/stop' line to stderr at each
    start and stop, with no setting to turn it off: capture stderr and pass on everything else."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if not line.startswith("USDT:"):
                    sys.stderr.write(line)


def step_split(cfg: Config, steps: int = 60) -> dict[str, float]:
    """Milliseconds per compiled step: in matrix products, in the compiler's fused elementwise
    kernels, and the rest (Python, dispatch, dynamo's guards), from torch's profiler."""
    import torch._inductor.config as inductor_config
    from torch.profiler import ProfilerActivity, profile

    from gangames.training.compiled import compile_function

    data = build.build_data(cfg)
    game = build.build_game_for(cfg, data, cfg.run.device)
    with mock.patch.object(inductor_config.cpp, "enable_kernel_profile", True):
        # A graph compiled earlier in this process (the games section's) would serve this game too,
        # and it records no kernels: compile again, with them recorded.
        torch._dynamo.reset()
        play = game.compiled_steps(compile_function)
        rng = torch.Generator(device=cfg.run.device).manual_seed(0)
        per_call = cfg.run.steps_per_call
        steps = steps // per_call * per_call
        inputs = [game.draw(data, cfg.data.batch_size, rng, i) for i in range(1, steps + 2 * per_call + 1)]
        calls = [inputs[i:i + per_call] for i in range(0, len(inputs), per_call)]
        for rounds in calls[:2]:
            play(rounds)
        with without_profiler_chatter(), profile(activities=[ProfilerActivity.CPU]) as prof:
            start = time.perf_counter()
            for rounds in calls[2:]:
                play(rounds)
            wall = time.perf_counter() - start
    events = prof.key_averages()
    per_step = lambda keep: sum(e.self_cpu_time_total for e in events if keep(e.key)) / steps / 1e3  # noqa: E731
    matmul = per_step(lambda k: k in MATMULS)
    fused = per_step(lambda k: "cpp_fused" in k)
    return {"step": wall / steps * 1e3, "matmul": matmul, "fused": fused}


def profile_section(args) -> None:
    """Where a compiled step's time goes, and what that allows: ``bound`` is the ratio to the
    reference the step would reach if everything but its matrix products took no time."""
    print(f"\nwhere the compiled step's time goes (ms per step, under the profiler; median of {args.repeats} rounds, "
          "each round: reference, then ours); bound = reference step / matrix products")
    print(f"{'game':<10} {'reference':>10} {'compiled':>9} {'products':>9} {'elementwise':>12} {'rest':>6} "
          f"{'2x needs':>9} {'bound':>6}")
    for game in args.games.split(","):
        cfg, steps = timed_game(game, args)
        rows = []
        for _ in range(args.repeats):
            reference_ms = 1e3 / reference_rate(cfg, steps)
            rows.append({"reference": reference_ms, **step_split(cfg)})
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        bound = statistics.median(r["reference"] / r["matmul"] for r in rows)
        rest = med["step"] - med["matmul"] - med["fused"]
        print(f"{game:<10} {med['reference']:>10.2f} {med['step']:>9.2f} {med['matmul']:>9.2f} {med['fused']:>12.2f} "
              f"{rest:>6.2f} {med['reference'] / 2:>9.2f} {bound:>6.2f}", flush=True)


def overhead_section(args) -> None:
    """What entering compiled code and launching its kernels cost per step: an NS step of width-8
    players on a batch of 4, where the arithmetic is next to nothing, compiled with one or
    four rounds per call and its kernels launched from Python or from C++."""
    from gangames.training.compiled import compile_function

    cfg = resolved("ns", 4, args.device, ["generator.hidden=[8, 8, 8]", "discriminator.hidden=[8, 8]"])
    data = build.build_data(cfg)
    steps = 400

    def timed(calls_of: int, cpp_wrapper: bool):
        game = build.build_game_for(cfg, data, cfg.run.device)
        play = game.compiled_steps(lambda fn: compile_function(fn, cpp_wrapper))
        rng = torch.Generator(device=cfg.run.device).manual_seed(0)
        inputs = [game.draw(data, cfg.data.batch_size, rng, i) for i in range(1, steps + 1)]
        calls = [inputs[i:i + calls_of] for i in range(0, steps, calls_of)]
        play(calls[0])

        def us_per_step() -> float:
            start = time.perf_counter()
            for rounds in calls:
                play(rounds)
            return (time.perf_counter() - start) / steps * 1e6
        return us_per_step

    variants = {(n, cpp): timed(n, cpp) for n in (1, 4) for cpp in (False, True)}
    rounds = Rounds({f"{n}/{cpp}": fn for (n, cpp), fn in variants.items()}, args.repeats)
    print(f"\ncompiled NS step of width-8 players, batch 4: us per step (median of {args.repeats} rounds)")
    print(f"{'steps per call':>15} {'launch from Python':>19} {'from C++':>9}")
    for n in (1, 4):
        print(f"{n:>15} {rounds[f'{n}/False']:>19.0f} {rounds[f'{n}/True']:>9.0f}", flush=True)


def _compile_seconds(cache: str, device: str, game_name: str, batch: int, overrides: list[str], queue) -> None:
    os.environ["GANGAMES_CACHE"] = cache
    from gangames.training.compiled import compile_function, wait_for_set_up

    cfg = resolved(game_name, batch, device, ["robust.warmup=0", *overrides])  # robust-w: its defenders' graph
    data = build.build_data(cfg)
    game = build.build_game_for(cfg, data, cfg.run.device)
    compiled = []  # a game may compile several functions (the auction: its pairs' stage): as the trainer

    def compile_fn(fn):
        compiled.append(compile_function(fn, cpp_wrapper=cfg.run.device == "cpu"))
        return compiled[-1]

    play = game.compiled_steps(compile_fn)
    rng = torch.Generator(device=cfg.run.device).manual_seed(0)
    play([game.draw(data, cfg.data.batch_size, rng, i) for i in range(1, cfg.run.steps_per_call + 1)])
    wait_for_set_up()  # a machine's first compile: its helper process ends before the next measurement
    queue.put(sum(c.compile_seconds for c in compiled))


def fresh_compile(cache: str, device: str, game: str, batch: int, overrides: list[str] = ()) -> float:
    """Seconds to compile ``game``'s step in a new process using the cache folder ``cache`` (within one
    process dynamo would reuse a graph it has)."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_compile_seconds, args=(cache, device, game, batch, list(overrides), queue))
    process.start()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"compiling {game} failed in its process (exit code {process.exitcode})")
    return queue.get()


def compile_section(args) -> None:
    """Seconds to compile a game's step (as the trainer compiles it: ``run.steps_per_call`` rounds per
    call), each in a fresh process. The first compile on a machine also builds what inductor keeps for
    every later one (its probes of the CPU's vector instructions, a precompiled header): measured
    first, on a structure no row below shares (minimax at batch 64, empty cache). Then every game as
    a new structure on that machine (``cold``: what a new game, network or batch size costs); then NS
    with another learning rate and betas (a sweep's next trial: the cached graph) and NS with four
    rounds unrolled per call."""
    games = [g for g in args.games.split(",") if not GAMES[g].pairs_of_players or g == "auction"]
    print(f"\ncompile time in a fresh process (s), batch {args.batch}, one round per call unless said")
    with tempfile.TemporaryDirectory() as cache:
        first = fresh_compile(cache, args.device, "minimax", 64)
        print(f"{'first compile on this machine (minimax, batch 64, empty cache)':<64} {first:>7.1f}", flush=True)
        for game in games:
            print(f"{game + ': new structure':<64} {fresh_compile(cache, args.device, game, args.batch):>7.1f}", flush=True)
        other = ["generator.lr=3e-4", "discriminator.lr=2e-4", "generator.beta1=0.3", "discriminator.beta2=0.9"]
        for label, overrides in (("ns: other lr and betas (the graph above, cached)", other),
                                 ("ns: 4 rounds unrolled per call (new structure)", ["run.steps_per_call=4"])):
            print(f"{label:<64} {fresh_compile(cache, args.device, 'ns', args.batch, overrides):>7.1f}", flush=True)


def units_section(args, workdir: Path) -> None:
    """The games of several critic steps compiled as one graph per round and as one per player update
    (run.compile_unit): the cold compile of each in a fresh process, and the compiled rates in
    interleaved rounds, with their ratio within each round."""
    games = [g for g in args.games.split(",") if not GAMES[g].pairs_of_players and resolved(g, args.batch).game.disc_steps > 1]
    data = [f"data.preset={args.units_data}"]
    print(f"\ncompile unit (run.compile_unit), {args.units_data}, batch {args.batch}: cold compile in a fresh process (s) "
          f"and compiled steps/s (median of {args.repeats} interleaved rounds); update / round within each round")
    print(f"{'game':<10} {'round s':>8} {'update s':>9} {'s ratio':>8} {'round /s':>9} {'update /s':>10} {'ratio':>6} {'range':>12}")
    with tempfile.TemporaryDirectory() as cache:
        fresh_compile(cache, args.device, "minimax", 64)  # the machine's one-time part, before either unit
        for game in games:
            seconds = {unit: fresh_compile(cache, args.device, game, args.batch, [*data, f"run.compile_unit={unit}"])
                       for unit in ("round", "update")}
            cfg = resolved(game, args.batch, args.device, ["robust.warmup=0", *data])
            trainers = {unit: TimedTrainer(apply_overrides(cfg, [f"run.compile_unit={unit}"]), True, workdir)
                        for unit in ("round", "update")}
            steps = max(10, int(trainers["round"].rate(10) * args.seconds))  # about args.seconds a measurement
            rounds = Rounds({unit: (lambda t=t: t.rate(steps)) for unit, t in trainers.items()}, args.repeats)
            print(f"{game:<10} {seconds['round']:>8.1f} {seconds['update']:>9.1f} {seconds['update'] / seconds['round']:>8.2f} "
                  f"{rounds['round']:>9.0f} {rounds['update']:>10.0f} {rounds.ratio('update', 'round'):>6.2f} "
                  f"{rounds.spread('update', 'round'):>12}", flush=True)


def _peak_rss(overrides: list[str], queue) -> None:
    cfg = apply_overrides(Config(), [*PAPER, "run.steps=300", *overrides])
    Trainer(cfg, Path(tempfile.mkdtemp()) / "run").run()
    queue.put(peak_rss_mib())


def peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM; unlike ru_maxrss it is not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_section(args) -> None:
    print("\npeak resident memory of a whole training process (300 steps, fresh process, MiB)")
    context = multiprocessing.get_context("spawn")
    for label, overrides in (("ns on ring8", ["game.name=ns"]),
                             ("auction N=8 on ring8", ["game.name=auction", "auction.players=8"])):
        queue = context.Queue()
        process = context.Process(target=_peak_rss, args=([*overrides, f"run.device={args.device}"], queue))
        process.start()
        process.join()
        print(f"{label:<24} {queue.get():>8.0f}", flush=True)


# -- runs sharing a machine --------------------------------------------------------------------------
def _concurrent(count: int, threads: str, steps: int, workdir: Path) -> tuple[float, float]:
    """``count`` ``gangames train`` processes started together; their summed steps/s (compilation
    excluded, from run.json) and the wall time of the slowest."""
    import json
    import subprocess

    gangames = [sys.executable, "-c", "from gangames.cli import app; app(prog_name='gangames')"]
    env = {**os.environ, "GANGAMES_THREADS_DIR": str(workdir / "threads")}
    outs = [workdir / f"c{count}-{threads}-{i}-{time.time_ns()}" for i in range(count)]
    overrides = ["--set", "run.progress=false"] + (["--set", f"run.threads={threads}"] if threads != "default" else [])
    start = time.perf_counter()
    procs = [subprocess.Popen([*gangames, "train", "--game", "ns", "--data", "grid25", "--steps", str(steps),
                               "--compile", "--out", str(out), *overrides], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for out in outs]
    for proc in procs:
        proc.wait()
    wall = time.perf_counter() - start
    rates = [json.loads((out / "run.json").read_text())["sessions"][-1]["steps_per_second"] for out in outs]
    return float(sum(rates)), wall


def concurrency_section(args, workdir: Path) -> None:
    """1, 2 and 4 runs started side by side: the default thread budget (gangames/threads.py) against
    every run taking every core (torch's default before it)."""
    from gangames.threads import cores

    steps = max(1000, int(3000 * args.seconds))
    print(f"\nruns sharing the machine: K x `gangames train --game ns --data grid25 --steps {steps} --compile` "
          f"started together on {cores()} cores; total steps/s of the K runs (compilation excluded) and the wall "
          "time of the slowest; ratio = total / one run alone (default)")
    _concurrent(1, "default", 200, workdir)  # warm the compile cache
    alone, _ = _concurrent(1, "default", steps, workdir)
    print(f"{'runs':>4} {'threads':<22} {'total steps/s':>13} {'ratio':>6} {'wall s':>7}")
    for count in (1, 2, 4):
        for threads, label in (("default", "default (free cores)"), (str(cores()), f"{cores()} each (all cores)")):
            total, wall = _concurrent(count, threads, steps, workdir)
            print(f"{count:>4} {label:<22} {total:>13.0f} {total / alone:>6.2f} {wall:>7.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", default="machine,games,auction,images,user-modules,memory")
    parser.add_argument("--games", default=",".join(TWO_PLAYER))
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=1.0, help="approximate length of one measurement")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved rounds")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--players", type=int, default=8, help="N of the auction benchmark")
    parser.add_argument("--auction-game", default="ns", help="the game each auction pair plays")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--units-data", default="ring8", help="the data preset of the units section")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sections = args.sections.split(",")
    name = torch.cuda.get_device_name() if args.device == "cuda" else f"{cpu_name()}, {torch.get_num_threads()} threads"
    print(f"torch {torch.__version__} on {name}; {args.repeats} interleaved rounds of ~{args.seconds:g} s")
    print(f"matrix-multiply rate now (float32, best of the players' shapes and 1024^3): "
          f"{matmul_rate(args.device):.0f} GFLOP/s; '% of rate' uses the rate measured in each round")
    with tempfile.TemporaryDirectory() as tmp:
        if "games" in sections:
            games_section(args, Path(tmp))
        if "auction" in sections:
            auction_section(args, Path(tmp))
        if "images" in sections:
            images_section(args, Path(tmp))
        if "stacked" in sections:
            stacked_section(args, Path(tmp))
        if "user-modules" in sections:
            user_modules_section(args, Path(tmp))
        if "concurrency" in sections:
            concurrency_section(args, Path(tmp))
        if "units" in sections:
            units_section(args, Path(tmp))
        if "profile" in sections:
            profile_section(args)
        if "overhead" in sections:
            overhead_section(args)
    if "memory" in sections:
        memory_section(args)
    if "compile" in sections:
        compile_section(args)


if __name__ == "__main__":
    main()
