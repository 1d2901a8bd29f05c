"""Reproduce The Bid Picture (Shim et al. 2024): auction vs classical training of N pairs.

For each player game (NS-GAN, WGAN) and seed, the same N pairs (same seeds, same budget) train with
and without auctions on the 8-mode mixture. Each pair is evaluated on 10k samples: the mean
log-likelihood of its samples under the true mixture (the paper's statistic); modes and hq by
PacGAN's rule on the first 2500. The two arms are paired: same seeds, and (the auction drawing
from its own stream) the same minibatches and latents in the independent stage. The table also
gives mean +- std over seeds of the players' mean and of the worst player, what each arm paid
(updates per player, training seconds), and a paired one-sided Wilcoxon signed-rank test that the
auction lifts the worst player.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from gangames.config import Config, apply_overrides
from gangames.reproduce.stats import fmt, mean_std, paired_wilcoxon
from gangames.runner import Outcome, Task
from gangames.training.run_dir import RunDir

PAPER = {  # papers.md §4(f): mean log-likelihood and worst model, auction vs classical
    "ns": {"auction": (-3.235, -4.995), "classical": (-3.530, -6.414)},
    "wgan": {"auction": (-0.478, -2.691), "classical": (-0.651, -4.756)},
}
METRICS = ["log_likelihood", "modes"]


def plan(out: Path, seeds: int, steps: dict[str, int], players: int = 4, overrides: list[str] | None = None,
         compile_: bool = True) -> list[Task]:
    tasks = []
    for variant, n_steps in steps.items():
        for seed in range(seeds):
            for mode in ("auction", "classical"):
                cfg = apply_overrides(Config(), [
                    "game.name=auction", f"auction.players={players}", f"auction.player_game={variant}",
                    f"auction.enabled={'true' if mode == 'auction' else 'false'}", f"run.steps={n_steps}",
                    f"run.seed={seed}", "run.progress=false", f"run.compile={'true' if compile_ else 'false'}",
                    f"run.checkpoint_every={max(n_steps // 4, 1)}", "data.preset=ring8", "game.defaults=paper",
                    *(overrides or [])])
                tasks.append(Task(f"{variant}/{mode}/seed{seed}", cfg, out / variant / mode / f"seed{seed}",
                                  METRICS, eval_samples=10_000))
    return tasks


def updates(run: Path) -> tuple[float, float]:
    """Discriminator and generator updates per player (mean over players) that a run took: the
    independent stage's, plus the alignment steps of the auction arm (run.json, from the optimisers'
    per-player step counts)."""
    counts = RunDir(run).read_info().get("updates", {})
    d = np.add(counts.get("discriminator", [math.nan]), counts.get("auxiliary", [0]))
    return float(np.mean(d)), float(np.mean(counts.get("generator", [math.nan])))


COLUMNS = ("mean_ll", "worst_ll", "modes", "worst_modes", "hq", "d_updates", "g_updates", "seconds")


def summarise(outcomes: list[Outcome]) -> dict:
    """Per player game: per mode the seeds' numbers, their mean +- std, and the paired tests."""
    by: dict = {}
    for o in outcomes:
        variant, mode, seed = o.name.split("/")
        m = (o.eval or {}).get("metrics", {})
        d_updates, g_updates = updates(o.out) if o.status == "finished" else (math.nan, math.nan)
        row = {"seed": int(seed[4:]), "status": o.status, "mean_ll": m.get("log_likelihood", math.nan),
               "worst_ll": m.get("log_likelihood/worst", math.nan), "modes": m.get("modes", math.nan),
               "worst_modes": m.get("modes/worst", math.nan), "hq": m.get("hq", math.nan),
               "d_updates": d_updates, "g_updates": g_updates, "seconds": o.seconds}
        by.setdefault(variant, {}).setdefault(mode, []).append(row)
    summary = {}
    for variant, modes in by.items():
        entry = {"seeds": modes}
        for mode, rows in modes.items():
            rows.sort(key=lambda r: r["seed"])
            entry[mode] = {k: mean_std([r[k] for r in rows]) for k in COLUMNS}
        if "auction" in modes and "classical" in modes:
            a, c = modes["auction"], modes["classical"]
            entry["p_worst_ll"] = paired_wilcoxon([r["worst_ll"] for r in a], [r["worst_ll"] for r in c])
            entry["p_mean_ll"] = paired_wilcoxon([r["mean_ll"] for r in a], [r["mean_ll"] for r in c])
        summary[variant] = entry
    return summary


def markdown(summary: dict) -> str:
    lines = ["| players | training | mean log-lik. | worst player log-lik. | modes ≥ 1 of 2500 (mean) | "
             "modes ≥ 1 of 2500 (worst) | hq (mean) | D / G updates per player | training s | paper: mean / worst |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for variant, entry in summary.items():
        for mode in ("auction", "classical"):
            if mode not in entry:
                continue
            rows = entry["seeds"][mode]
            paper = PAPER.get(variant, {}).get(mode)
            cost = entry[mode]
            lines.append(f"| {variant} | {mode} ({len(rows)} seeds) | {fmt([r['mean_ll'] for r in rows], 2)} | "
                         f"{fmt([r['worst_ll'] for r in rows], 2)} | {fmt([r['modes'] for r in rows], 2)} | "
                         f"{fmt([r['worst_modes'] for r in rows], 2)} | {fmt([r['hq'] for r in rows], 3)} | "
                         f"{cost['d_updates'][0]:.0f} / {cost['g_updates'][0]:.0f} | {cost['seconds'][0]:.1f} | "
                         f"{'%.3f / %.3f' % paper if paper else ''} |")
    lines.append("")
    for variant, entry in summary.items():
        if "p_worst_ll" in entry:
            lines.append(f"- {variant}: one-sided paired Wilcoxon signed-rank p (auction > classical): "
                         f"worst player {entry['p_worst_ll']:.4f}, mean {entry['p_mean_ll']:.4f}")
    return "\n".join(lines) + "\n"
