"""Stacked Fashion-MNIST (1 000 modes) for every image game, with the toolkit's options, at a real budget.

Each run trains one game (or a labelled variant: a game with toolkit options on top) on
``stacked-fashion-mnist``, three independently drawn Fashion-MNIST images as the R, G and B channels,
and is scored on ``SAMPLES`` samples: the modes covered (each channel classified by the shipped
``fashion-cnn``, a mode is the triple of classes) and the KL divergence of the modes' histogram to the
uniform one, with FID and KID in that classifier's features. Every game plays under one shared
setting (``SETTING``, stated in the table); each penalty keeps its game's own paper weight. The table
gives each label's mean over seeds with its 95 % interval, and each label against NS-GAN paired by
seed; the published Stacked MNIST rows (DCGAN, PacDCGAN4) are printed beside as the reference.
"""

from __future__ import annotations

import math
from pathlib import Path

from gangames import statistics
from gangames.reproduce import labels
from gangames.reproduce.stats import mean_std
from gangames.runner import Outcome, Task

DATA = "stacked-fashion-mnist"
# The toolkit's options, each a labelled variant of NS-GAN (one option at a time, so that each
# difference to plain NS-GAN is that option's), and all three together.
EMA = ["generator.ema=0.999", "generator.ema_rampup=true"]
SN = ["discriminator.spectral_norm=true"]
DIFFAUGMENT = ["data.augment=color,translation"]
VARIANTS = {"ns+ema": ("ns", EMA), "ns+sn": ("ns", SN), "ns+diffaugment": ("ns", DIFFAUGMENT),
            "ns+sn+ema+diffaugment": ("ns", [*SN, *EMA, *DIFFAUGMENT])}
# The images issue's five games, r3gan, then the toolkit's variants; cheapest first, so that a run
# stopped part-way has the most labels finished.
GAMES = ("ns", "r3gan", "gan-gp", "ns+ema", "ns+sn", "ns+diffaugment", "ns+sn+ema+diffaugment", "wgan-gp",
         "auction", "robust-w")
BASELINE = "ns"
# Gao & Tembine's claim on images: the robust game (feature mode) against a JS game (ns) and against
# WGAN-GP, its gamma -> infinity limit; at the same step (the last) on every score, and in training
# seconds, what the same steps cost. Runs evaluate at the last step only, so "faster per second"
# reads as: a better score at the same steps for no more seconds.
CLAIM, CLAIM_BASELINES = "robust-w", ("ns", "wgan-gp")
SAMPLES = 26_000  # 26 per mode: what the modes count needs to see a uniform generator's every mode
METRICS = ["stacked_modes", "fid", "kid"]
KEYS = {"stacked_modes": True, "stacked_kl": False, "fid": False, "kid": False}  # metric: higher is better

# Published Stacked MNIST rows (PacGAN's Table 3, the VEEGAN setting): modes of 1000, KL to uniform.
PUBLISHED = {"DCGAN": (99.0, 3.40), "PacDCGAN4": (1000.0, 0.07)}

# The shared setting: small DCGAN players that a 2-core CPU trains for thousands of steps (widths
# [16, 32], 64 critic features into a head of one 64 layer, z of 64), one Adam for every game, batch
# 64; the robust game in feature mode, the auction of four NS pairs (docs/images.md).
SETTING = ["data.batch_size=64", "generator.hidden=[16,32]", "generator.latent_dim=64", "discriminator.hidden=[16,32]",
           "discriminator.features=64", "generator.lr=2e-4", "discriminator.lr=2e-4", "generator.beta1=0.5",
           "discriminator.beta1=0.5", "generator.beta2=0.9", "discriminator.beta2=0.9", "game.defaults=paper",
           "robust.mode=feature", "robust.gamma=5", "robust.warmup=500", "auction.players=4", "auction.period=100",
           "auction.lot_size=64"]


def plan(out: Path, seeds: int, steps: int, games=GAMES, overrides: list[str] | None = None, compile_: bool = False,
         samples: int = SAMPLES, metrics: list[str] = METRICS) -> list[Task]:
    """Every label, ``seeds`` seeds each, under ``SETTING`` (then ``overrides``), evaluated by
    ``metrics`` on ``samples`` samples at the last step."""
    tasks = []
    for label in games:
        for seed in range(seeds):
            cfg = labels.config(label, VARIANTS, [
                f"data.preset={DATA}", f"run.steps={steps}", f"run.seed={seed}", "run.progress=false",
                f"run.compile={'true' if compile_ else 'false'}", f"run.checkpoint_every={max(steps // 5, 1)}",
                "run.snapshot_size=64", f"run.label={label}", *SETTING], overrides)
            tasks.append(Task(f"{label}/seed{seed}", cfg, out / label / f"seed{seed}", list(metrics), eval_samples=samples))
    return tasks


def summarise(outcomes: list[Outcome], samples: int = SAMPLES) -> dict:
    """Per label (an auction's mean and worst player as two): each seed's scores, the mean with its
    95 % interval over seeds, and the paired difference to ``BASELINE`` on every metric."""
    by_label: dict[str, list[dict]] = {}
    for o in outcomes:
        label, seed = o.name.split("/")
        for which, scores in labels.scores(label, VARIANTS, o.eval, KEYS).items():
            run = {"seed": int(seed.removeprefix("seed")), "status": o.status, "seconds": o.seconds, **scores}
            by_label.setdefault(labels.named(label, which), []).append(run)
    results = {}
    for name, runs in by_label.items():
        runs.sort(key=lambda r: r["seed"])
        finished = [r for r in runs if r["status"] == "finished"]
        results[name] = {"seeds": runs, "mean": {}, "interval": {}}
        for key in KEYS:
            values = [r[key] for r in finished if not math.isnan(r[key])]
            results[name]["mean"][key] = mean_std(values)[0]
            results[name]["interval"][key] = statistics.paired_interval(values)  # of the mean over seeds
    against = []
    for key, higher in KEYS.items():
        values = {name: {r["seed"]: r[key] for r in entry["seeds"] if r["status"] == "finished"}
                  for name, entry in results.items()}
        if BASELINE in values:
            against += [vars(d) for d in statistics.compare_to_baseline(values, BASELINE, key, higher)]
    return {"setting": SETTING, "samples": samples, "results": results, "against_baseline": against,
            "claim": claim(results)}


def claim(results: dict) -> list[dict]:
    """``CLAIM`` against each of ``CLAIM_BASELINES``, paired by seed, on every score and on training
    seconds (lower is better); Holm across all these comparisons together."""
    found = []
    for baseline in CLAIM_BASELINES:
        if CLAIM not in results or baseline not in results:
            continue
        for key, higher in {**KEYS, "seconds": False}.items():
            values = {name: {r["seed"]: r[key] for r in results[name]["seeds"] if r["status"] == "finished"}
                      for name in (CLAIM, baseline)}
            found += [{"higher_is_better": higher, **vars(d)}
                      for d in statistics.compare_to_baseline(values, baseline, key, higher)]
    return statistics.holm_verdicts(found)


def _interval(entry: dict, key: str, digits: int) -> str:
    mean, (low, high) = entry["mean"][key], entry["interval"][key]
    if math.isnan(mean):
        return "n/a"
    if math.isnan(low):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def markdown(summary: dict) -> str:
    lines = [f"Stacked Fashion-MNIST, every label under one setting ({' '.join(summary['setting'])}); "
             f"{summary['samples']} samples per run at its last step; mean over seeds [95 % interval of the mean: "
             "Student's t below 6 seeds]; FID and KID in fashion-cnn features, not comparable with "
             "Inception FIDs; seconds: each run's training time with the other worker beside it.", "",
             "| label | seeds | modes of 1000 ↑ | KL to uniform ↓ | FID ↓ | KID ↓ | seconds per run |",
             "|---|---|---|---|---|---|---|"]
    for name, (modes, kl) in PUBLISHED.items():
        lines.append(f"| **{name} (published, Stacked MNIST)** | | {modes:.0f} | {kl:.2f} | | | |")
    for name, entry in summary["results"].items():
        runs = entry["seeds"]
        done = sum(r["status"] == "finished" for r in runs)
        seconds = mean_std([r["seconds"] for r in runs if r["status"] == "finished"])[0]
        lines.append(f"| {name} | {done if done == len(runs) else f'{done} of {len(runs)}'} | "
                     f"{_interval(entry, 'stacked_modes', 0)} | {_interval(entry, 'stacked_kl', 2)} | "
                     f"{_interval(entry, 'fid', 0)} | {_interval(entry, 'kid', 1)} | "
                     f"{'n/a' if math.isnan(seconds) else f'{seconds:.0f}'} |")
    if summary["against_baseline"]:
        lines += ["", f"Against {BASELINE}, paired by seed (difference of the means [95 % interval]; a verdict needs "
                  f"{statistics.MIN_SEEDS_FOR_A_TEST} seeds and a Holm-corrected Wilcoxon p < 0.05):", "",
                  "| label | modes | KL | FID | KID |", "|---|---|---|---|---|"]
        by_name: dict[str, dict] = {}
        for d in summary["against_baseline"]:
            by_name.setdefault(d["game"], {})[d["metric"]] = d
        for name, found in by_name.items():
            cells = []
            for key in KEYS:
                d = found.get(key)
                if d is None or d["n"] == 0:
                    cells.append("n/a")
                    continue
                cells.append(statistics.difference_text(d) + (f" ({d['verdict']})" if d["verdict"] in ("better", "worse") else ""))
            lines.append(f"| {name} | {' | '.join(cells)} |")
    if summary.get("claim"):
        lines += ["", f"Gao & Tembine's claim, {CLAIM} against {' and '.join(CLAIM_BASELINES)} paired by seed, at the "
                  "same (last) step and in training seconds for those steps (difference [95 % interval]; Wilcoxon, "
                  "Holm across every line below):", ""]
        lines += [statistics.claim_line(d) for d in summary["claim"]]
    return "\n".join(lines) + "\n"
