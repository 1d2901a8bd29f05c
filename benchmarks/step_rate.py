"""Training steps per second of the gangames trainer against a plain reference loop, same process.

The reference is each game written the usual way (``gangames.reference``: nn.Sequential players,
torch.optim, backward()), with the same networks, batch and data. Measurements are interleaved
(reference, ours, reference, ours, ...) and the median of the repeats is reported, so that a
change in the machine's load hits both sides alike.

    python benchmarks/step_rate.py                      # every two-player game, eager
    python benchmarks/step_rate.py --compile            # also the compiled trainer
    python benchmarks/step_rate.py --games ns,wgan-gp --seconds 3 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from gangames import build
from gangames.config import Config, apply_overrides
from gangames.games.registry import GAMES
from gangames.reference import ReferenceGame, plain_copy
from gangames.train.trainer import Trainer


def resolved(game: str, batch: int) -> Config:
    return build.resolve(apply_overrides(Config(), [f"game.name={game}", f"data.batch_size={batch}", "run.progress=false"]))


def reference_pairs(cfg: Config, count: int) -> list:
    """``count`` pairs written the usual way, with the players' initial weights."""
    data = build.build_data(cfg)
    players = build.build_players(cfg, data, list(range(count)))
    g, d, game = cfg.generator, cfg.discriminator, cfg.game
    return [ReferenceGame(plain_copy(players.generator, p), plain_copy(players.discriminator, p), game.loss,
                          game.penalty, game.penalty_weight, game.disc_steps, game.clip,
                          (g.optimizer, g.lr, g.beta1, g.beta2), (d.optimizer, d.lr, d.beta1, d.beta2),
                          game.dragan_scale) for p in range(count)]


def reference_rate(cfg: Config, steps: int, pairs: int = 1) -> float:
    """Rounds/s of ``pairs`` reference pairs trained one after another in a plain eager loop."""
    data = build.build_data(cfg)
    refs = reference_pairs(cfg, pairs)
    centres = torch.as_tensor(data.centres, dtype=torch.float32)
    batch, k, penalty = cfg.data.batch_size, cfg.game.disc_steps, cfg.game.penalty

    def real_batch():
        return centres[torch.randint(len(centres), (batch,))] + data.sigma * torch.randn(batch, 2)

    start = time.perf_counter()
    for _ in range(steps):
        for ref in refs:
            real = torch.stack([real_batch() for _ in range(k)])
            noise = {}
            if penalty == "interpolate":
                noise = {"epsilon": torch.rand(k, batch, 1)}
            elif penalty == "dragan":
                noise = {"uniform": torch.rand(k, batch, 2), "alpha": torch.rand(k, batch, 1)}
            ref.step(real, torch.randn(k, batch, 2), torch.randn(batch, 2), noise)
    return steps / (time.perf_counter() - start)


def trainer_rate(cfg: Config, steps: int, compile_: bool, workdir: Path) -> tuple[float, float]:
    cfg = apply_overrides(cfg, [f"run.steps={steps}", f"run.compile={str(compile_).lower()}",
                                f"run.checkpoint_every={steps}", f"run.snapshot_every={steps}"])
    result = Trainer(cfg, Path(tempfile.mkdtemp(dir=workdir))).run()
    return result.steps_per_second, result.compile_seconds


def auction_table(args, workdir: Path) -> None:
    """The auction game with N players (one stacked computation) against N pairs in a plain loop."""
    n = args.players
    print(f"\nauction, N = {n} {args.auction_game} players, auction every 100 steps (rounds/s: one step of all N)")
    header = f"{'game':<18} {'N pairs, loop':>14} {'ours eager':>11} {'ratio':>6}"
    if args.compile:
        header += f" {'ours compiled':>14} {'ratio':>6} {'compile s':>10}"
    print(header + f" {'1 pair, ours':>13} {'N/1 time':>9}")
    cfg = build.resolve(apply_overrides(Config(), [
        "game.name=auction", f"auction.players={n}", f"auction.player_game={args.auction_game}",
        f"data.batch_size={args.batch}", "run.progress=false"]))
    single = resolved(args.auction_game, args.batch)
    steps = max(20, int(reference_rate(cfg, 3, n) * args.seconds))
    loop, eager, compiled, one, compile_s = [], [], [], [], 0.0
    for _ in range(args.repeats):
        loop.append(reference_rate(cfg, steps, n))
        eager.append(trainer_rate(cfg, steps, False, workdir)[0])
        if args.compile:
            rate, seconds = trainer_rate(cfg, steps, True, workdir)
            compiled.append(rate)
            compile_s = max(compile_s, seconds)
            one.append(trainer_rate(single, steps * n, True, workdir)[0])
        else:
            one.append(trainer_rate(single, steps * n, False, workdir)[0])
    r, e, o = statistics.median(loop), statistics.median(eager), statistics.median(one)
    best = statistics.median(compiled) if args.compile else e
    line = f"{'auction N=' + str(n):<18} {r:>14.1f} {e:>11.1f} {e / r:>6.2f}"
    if args.compile:
        line += f" {best:>14.1f} {best / r:>6.2f} {compile_s:>10.1f}"
    print(line + f" {o:>13.1f} {o / best:>9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--games", default=",".join(GAMES))
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=2.0, help="approximate length of one measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--compile", action="store_true", help="also time the compiled trainer")
    parser.add_argument("--players", type=int, default=8, help="N of the auction benchmark")
    parser.add_argument("--auction-game", default="ns", help="the game each auction pair plays")
    parser.add_argument("--no-two-player", action="store_true", help="skip the two-player table")
    parser.add_argument("--no-auction", action="store_true", help="skip the auction table")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, ring8; "
          f"median of {args.repeats} interleaved repeats\n")
    header = f"{'game':<10} {'reference':>10} {'ours eager':>11} {'ratio':>6}"
    if args.compile:
        header += f" {'ours compiled':>14} {'ratio':>6} {'compile s':>10}"
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_two_player:
            two_player_table(args, Path(tmp), header)
        if not args.no_auction:
            auction_table(args, Path(tmp))


def two_player_table(args, tmp: Path, header: str) -> None:
    print(header + "   (steps/s)")
    for game in args.games.split(","):
        cfg = resolved(game, args.batch)
        probe = reference_rate(cfg, 5)
        steps = max(20, int(probe * args.seconds))
        ref, eager, compiled, compile_s = [], [], [], 0.0
        for _ in range(args.repeats):
            ref.append(reference_rate(cfg, steps))
            eager.append(trainer_rate(cfg, steps, False, tmp)[0])
            if args.compile:
                rate, seconds = trainer_rate(cfg, steps, True, tmp)
                compiled.append(rate)
                compile_s = max(compile_s, seconds)
        r, e = statistics.median(ref), statistics.median(eager)
        line = f"{game:<10} {r:>10.0f} {e:>11.0f} {e / r:>6.2f}"
        if args.compile:
            c = statistics.median(compiled)
            line += f" {c:>14.0f} {c / r:>6.2f} {compile_s:>10.1f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
