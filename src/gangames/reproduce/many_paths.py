"""Reproduce Fedus et al. (2018), *Many Paths to Equilibrium*.

1. The line in d dimensions: data on a line, the generator an affine line that starts off it, so the
   JS divergence is log 2 (no gradient) until the lines meet. Which games still find it, and does the
   (smoothed) divergence fall at every step on the way?
2. Hyperparameter robustness: a random sweep of paired configurations (learning rate, beta1,
   discriminator steps), every game on the same configurations; the distribution of each metric
   per game, not only its best run.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from gangames.config import Config, apply_overrides
from gangames.io import read_jsonl
from gangames.metrics.divergence import decrease_fraction
from gangames.reproduce.stats import mean_std
from gangames.runner import Outcome, Task
from gangames.sweep.spec import parse

LINE_GAMES = ("ns", "minimax", "gan-gp", "dragan-ns", "wgan-gp")
SWEEP_GAMES = ("ns", "gan-gp", "dragan-ns", "wgan-gp")

# papers.md §3(d): D = MLP 2 x 64, LeakyReLU 0.2; Adam(1e-3, (0.5, 0.999)); batch 128. One
# discriminator step for every game, so that all play on the same compute.
LINE_COMMON = ["data.preset=line-d", "discriminator.hidden=[64]", "discriminator.activation=leaky_relu",
               "generator.lr=1e-3", "discriminator.lr=1e-3", "generator.beta1=0.5", "discriminator.beta1=0.5",
               "generator.beta2=0.999", "discriminator.beta2=0.999", "game.disc_steps=1", "data.batch_size=128",
               'eval.metrics=["line", "js", "w2"]', "eval.samples=1000"]


def line_plan(out: Path, dims, seeds: int, steps: dict[int, int], games=LINE_GAMES, compile_: bool = True,
              overrides: list[str] | None = None) -> list[Task]:
    """One run per dimension and game, whose ``seeds`` independent pairs (own initialisation, own
    minibatches, same data line) train as one stacked computation: the `independent` game."""
    tasks = []
    for d in dims:
        n = steps[d]
        for game in games:
            cfg = apply_overrides(Config(), [
                "game.name=independent", f"auction.player_game={game}", f"auction.players={seeds}",
                f"data.dim={d}", f"data.line_start={2.0 if d == 2 else 0.0}", f"run.steps={n}",
                "run.progress=false", f"run.compile={'true' if compile_ else 'false'}",
                f"run.checkpoint_every={max(n // 4, 1)}", f"eval.every={max(n // 20, 1)}",
                *LINE_COMMON, *(overrides or [])])
            tasks.append(Task(f"d{d}/{game}", cfg, out / "line" / f"d{d}" / game, ["line", "js", "w2"],
                              eval_samples=1000))
    return tasks


def _per_player(metrics: dict, key: str, players: int) -> list[float]:
    value = metrics.get(f"{key}/players", metrics.get(key))
    return list(value) if isinstance(value, list) else [value] * players


def line_summary(outcomes: list[Outcome], tolerance: float = 1e-4) -> dict:
    """Per dimension and game: which pairs (seeds) solved the line, and how the divergences moved."""
    table: dict = {}
    for o in outcomes:
        dim, game = o.name.split("/")
        entry = table.setdefault(dim, {}).setdefault(game, [])
        if o.status != "finished" or not o.eval:
            entry.append({"status": o.status, "solved": False, "angle": math.nan, "offset": math.nan,
                          "js_fell": math.nan, "w2_fell": math.nan, "js_first": math.nan, "js_last": math.nan,
                          "trace": {}})
            continue
        players = o.eval["players"]
        rows = [r for r in read_jsonl(Path(o.out) / "metrics.jsonl") if "eval" in r]
        final = o.eval["metrics"]
        solved, angle, offset = (_per_player(final, k, players) for k in ("solved", "angle", "offset"))
        for p in range(players):
            js = [_per_player(r["eval"], "js", players)[p] for r in rows]
            w2 = [_per_player(r["eval"], "w2", players)[p] for r in rows]
            entry.append({"status": o.status, "solved": bool(solved[p]), "angle": angle[p], "offset": offset[p],
                          "js_fell": decrease_fraction(js, tolerance), "w2_fell": decrease_fraction(w2, tolerance),
                          "js_first": js[0] if js else math.nan, "js_last": js[-1] if js else math.nan,
                          "trace": {"step": [r["step"] for r in rows], "js": js, "w2": w2,
                                    "angle": [_per_player(r["eval"], "angle", players)[p] for r in rows]}})
    return table


def line_markdown(table: dict) -> str:
    games = list(dict.fromkeys(g for by_game in table.values() for g in by_game))
    lines = ["| d | " + " | ".join(games) + " |", "|---|" + "---|" * len(games)]
    for dim, by_game in table.items():
        cells = []
        for game in games:
            runs = by_game.get(game, [])
            solved = sum(r["solved"] for r in runs)
            cells.append(f"{solved}/{len(runs)}")
        lines.append(f"| {dim[1:]} | " + " | ".join(cells) + " |")
    lines += ["", "Share of the evaluation intervals in which the smoothed JS divergence (h = 0.1) and W2 fell, "
              "mean over seeds (runs that solved the line / all runs):", "",
              "| d | game | solved | JS fell (solved runs) | W2 fell (solved runs) | JS first -> last (solved runs) |",
              "|---|---|---|---|---|---|"]
    for dim, by_game in table.items():
        for game, runs in by_game.items():
            solved = [r for r in runs if r["solved"]]
            js_fell, w2_fell = mean_std([r["js_fell"] for r in solved])[0], mean_std([r["w2_fell"] for r in solved])[0]
            first, last = mean_std([r["js_first"] for r in solved])[0], mean_std([r["js_last"] for r in solved])[0]
            cell = lambda v, f: "–" if math.isnan(v) else f.format(v)  # noqa: E731
            lines.append(f"| {dim[1:]} | {game} | {len(solved)}/{len(runs)} | {cell(js_fell, '{:.0%}')} | "
                         f"{cell(w2_fell, '{:.0%}')} | {cell(first, '{:.3f}')} -> {cell(last, '{:.3f}')} |")
    return "\n".join(lines) + "\n"


SWEEP_DATA = ("ring8", "grid25")
SWEEP_BASELINE = "ns"
# What the sweep scores, per kind of data: PacGAN's coverage, W2 and hq on the mixtures; FID and KID
# in the shipped classifier's features on images, the paper's image scores (its FID is Inception's).
# Each kind's objective, and (metric, higher is better, log axis) for its plot.
SWEEP_SCORES = {"mixture": (["modes", "w2", "kde_log_likelihood"], "modes"), "images": (["fid", "kid"], "fid")}
# The paper's batch on its image data sets (papers.md §3(c)); the mixtures keep their presets' 256.
SWEEP_BATCH = {"images": 64}
SWEEP_PLOTS = {"mixture": (("modes", True, False), ("w2", False, True)), "images": (("fid", False, True), ("kid", False, True))}


def sweep_kind(preset: str) -> str:
    """``images`` or ``mixture``: which scores the sweep takes on a data preset."""
    from gangames.config import DataConfig
    from gangames.data.presets import PRESETS

    return "images" if PRESETS[preset].kind_of(DataConfig(preset=preset)) == "images" else "mixture"


def robustness_spec(preset: str, trials: int, steps: int, games=SWEEP_GAMES, seed: int = 0, samples: int = 2500):
    """papers.md §3(c): lr log-uniform [1e-5, 1e-2] shared by G and D, beta1 uniform [0, 1),
    discriminator steps 1..5; beta2 fixed per game (0.9 for WGAN-GP, 0.999 otherwise: F6); on
    images batch 64 and FID/KID, on the mixtures the preset's batch and PacGAN's coverage."""
    kind = sweep_kind(preset)
    metrics, objective = SWEEP_SCORES[kind]
    data = {"preset": preset, **({"batch_size": SWEEP_BATCH[kind]} if kind in SWEEP_BATCH else {})}
    return parse({
        "sweep": {"name": f"many-paths-{preset}", "games": list(games), "seeds": [0], "trials": trials, "seed": seed,
                  "sampler": "random",  # the paper's protocol: the distribution over a random search
                  "metrics": metrics, "objective": objective, "eval_samples": samples},
        "base": {"data": data, "run": {"steps": steps, "checkpoint_every": max(steps // 2, 1)},
                 "game": {"defaults": "paper"}},  # the paper's settings where the sweep sets none
        "space": {"generator.lr": {"loguniform": [1e-5, 1e-2]}, "generator.beta1": {"uniform": [0.0, 1.0]},
                  "game.disc_steps": {"int": [1, 5]}},
        "tie": {"discriminator.lr": "generator.lr", "discriminator.beta1": "generator.beta1"},
    })


def paired_with_baseline(table: list[dict], metric: str, higher_is_better: bool,
                         baseline: str = SWEEP_BASELINE) -> dict[str, tuple[int, int, int]]:
    """Per game, configuration by configuration against ``baseline``: (better, worse, configurations
    both played). A run that did not finish (or left no score) loses to one that did; two such tie."""
    from gangames.sweep.results import scored

    unscored = -math.inf if higher_is_better else math.inf
    by_game: dict[str, dict] = {}
    for row in table:
        value = scored(row, metric)
        by_game.setdefault(row["game"], {})[row["config"]] = unscored if value is None else value
    if baseline not in by_game:
        return {}
    found = {}
    for game, scores in by_game.items():
        if game == baseline:
            continue
        pairs = [(scores[c], by_game[baseline][c]) for c in scores if c in by_game[baseline]]
        sign = 1 if higher_is_better else -1
        found[game] = (sum(sign * (a - b) > 0 for a, b in pairs if a != b),
                       sum(sign * (a - b) < 0 for a, b in pairs if a != b), len(pairs))
    return found


def _best(table: list[dict], game: str, metric: str, higher_is_better: bool) -> str:
    from gangames.sweep.results import scored

    done = [r for r in table if r["game"] == game and scored(r, metric) is not None]
    if not done:
        return "–"
    best = (max if higher_is_better else min)(done, key=lambda r: r[metric])
    return (f"{metric} {best[metric]:.3g} (lr {best.get('generator.lr', math.nan):.1e}, β1 "
            f"{best.get('generator.beta1', math.nan):.2f}, {best.get('game.disc_steps', '?')} D steps)")


def robustness_markdown(preset: str, table: list[dict]) -> str:
    if sweep_kind(preset) == "images":
        return _image_robustness_markdown(preset, table)
    from gangames.sweep.results import distribution

    lines = [f"**{preset}** ({len(table)} trials)", "",
             "| game | finished | modes: median [q1, q3] | share with >= 7 modes | W2: median [q1, q3] | hq: median |",
             "|---|---|---|---|---|---|"]
    modes = distribution(table, "modes", threshold=7)
    w2 = distribution(table, "w2")
    hq = distribution(table, "hq")
    for game, entry in modes.items():
        if "median" not in entry:
            lines.append(f"| {game} | 0/{entry['trials']} | – | 0% | – | – |")
            continue
        lines.append(f"| {game} | {entry['finished']}/{entry['trials']} | {entry['median']:.1f} [{entry['q1']:.1f}, "
                     f"{entry['q3']:.1f}] | {entry['share_at_least']:.0%} | {w2[game]['median']:.3f} "
                     f"[{w2[game]['q1']:.3f}, {w2[game]['q3']:.3f}] | {hq[game]['median']:.3f} |")
    paired = paired_with_baseline(table, "modes", higher_is_better=True)
    if paired:
        lines += ["", f"Against {SWEEP_BASELINE}, configuration by configuration: " + "; ".join(
            f"{game} covers more modes in {b} and fewer in {w} of {n}" for game, (b, w, n) in paired.items()) + "."]
    return "\n".join(lines) + "\n"


def _image_robustness_markdown(preset: str, table: list[dict]) -> str:
    from gangames.sweep.results import distribution

    fid, kid = distribution(table, "fid"), distribution(table, "kid")
    paired = paired_with_baseline(table, "fid", higher_is_better=False)
    quartiles = lambda e: (f"{e['median']:.1f} [{e['q1']:.1f}, {e['q3']:.1f}]" if "median" in e else "–")  # noqa: E731
    lines = [f"**{preset}** ({len(table)} trials; FID and KID in the shipped classifier's features, lower is better; "
             f"against {SWEEP_BASELINE}: configurations where the game's FID is lower / higher than {SWEEP_BASELINE}'s, "
             "a run that did not finish losing to one that did)", "",
             f"| game | finished | FID: median [q1, q3] | KID: median [q1, q3] | best configuration | "
             f"FID against {SWEEP_BASELINE}: lower / higher |", "|---|---|---|---|---|---|"]
    for game, entry in fid.items():
        against = "{} / {} of {}".format(*paired[game]) if game in paired else "–"
        lines.append(f"| {game} | {entry['finished']}/{entry['trials']} | {quartiles(entry)} | {quartiles(kid[game])} | "
                     f"{_best(table, game, 'fid', False)} | {against} |")
    return "\n".join(lines) + "\n"


def robustness_plot(tables: dict[str, list[dict]], path: Path) -> None:
    """Every configuration's final scores (modes and W2, or FID and KID), per game: sorted curves (the paper's style)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(tables), 2, figsize=(11, 3.6 * len(tables)), squeeze=False)
    for row, (preset, table) in enumerate(tables.items()):
        for col, (metric, higher, log) in enumerate(SWEEP_PLOTS[sweep_kind(preset)]):
            ax = axes[row, col]
            for i, game in enumerate(dict.fromkeys(r["game"] for r in table)):
                values = [r.get(metric, math.nan) if r["status"] == "finished" else math.nan
                          for r in table if r["game"] == game]
                fill = -np.inf if higher else np.inf
                ordered = np.sort(np.nan_to_num(np.array(values, dtype=float), nan=fill))
                ordered = ordered[::-1] if higher else ordered
                ax.plot(np.arange(1, len(ordered) + 1), ordered, marker="o", ms=3, color=f"C{i}", label=game)
            ax.set_xlabel("configurations, best to worst (failed runs last)")
            ax.set_ylabel(f"{metric} on {preset}")
            if log:
                ax.set_yscale("log")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
