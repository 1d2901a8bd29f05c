"""The bar for the tuned defaults (gangames/defaults.py): each game run as a new user runs it
(``gangames train --game G --data D --steps N``, nothing set), 5 seeds per data set.

On PacGAN's two 2-D mixtures every game of the first family plays 10 000 steps and is scored on
2 500 samples by PacGAN's statistics (modes with at least one high-quality sample, the fraction of
high-quality samples); on digits NS-GAN plays 5 000 steps and is scored on 2 500 samples by the
classifier Inception Score and recall in the shipped digits classifier's features. A game meets the
bar on a data set when the median over seeds of every statistic reaches ``BARS[data].least``.
``gangames reproduce defaults`` runs it; docs/defaults.md holds the measurement.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from gangames.reproduce import pacgan
from gangames.runner import Outcome, Task

GAMES = ("minimax", "ns", "wgan", "wgan-gp", "gan-gp", "dragan-ns")  # Fedus et al.'s family
SEEDS = 5


@dataclass(frozen=True)
class Bar:
    games: tuple[str, ...]  # the games held to it
    steps: int
    metrics: tuple[str, ...]  # evaluated at the end of every run
    least: dict[str, float]  # statistic -> the least median over seeds that meets the bar
    labels: dict[str, str]  # statistic -> how the table names it
    percent: tuple[str, ...] = ()  # statistics that are fractions, printed as %


_MIXTURE = dict(games=GAMES, steps=10_000, metrics=tuple(pacgan.METRICS), labels={"modes": "modes", "hq": "high quality"},
                percent=("hq",))
BARS = {
    "ring8-pacgan": Bar(least={"modes": 7, "hq": 0.80}, **_MIXTURE),
    "grid25": Bar(least={"modes": 20, "hq": 0.60}, **_MIXTURE),
    "digits": Bar(games=("ns",), steps=5_000, metrics=("inception_score", "precision_recall"),
                  least={"is": 8.0, "recall": 0.5}, labels={"is": "classifier IS", "recall": "recall"}),
}
DATASETS = tuple(BARS)


def plan(out: Path, seeds: int = SEEDS, steps: int | None = None, games=None, datasets=DATASETS,
         overrides: list[str] | None = None, compile_: bool = True) -> list[Task]:
    """Each data set's games at their defaults: only the steps (the bar's unless given), the seed and
    the sample count are set. ``games`` narrows every data set's list to those it names."""
    tasks = []
    for data in datasets:
        bar = BARS[data]
        held = [g for g in bar.games if games is None or g in games]
        tasks += pacgan.plan(out, seeds, steps or bar.steps, held, (data,), overrides, compile_, setting=[],
                             metrics=list(bar.metrics))
    return tasks


def meets(data: str, medians: dict[str, float]) -> bool:
    return all(medians[key] >= least for key, least in BARS[data].least.items())


def summarise(outcomes: list[Outcome]) -> dict:
    """Per data set and game: every seed's statistics, their medians, the bar."""
    results: dict = {}
    played: dict[str, set] = {}  # the steps each data set's runs were evaluated at
    for o in outcomes:
        data, game, seed = pacgan.trial_of(o)
        if (o.eval or {}).get("step") is not None:
            played.setdefault(data, set()).add(o.eval["step"])
        metrics = (o.eval or {}).get("metrics", {})
        row = {key: metrics.get(key, math.nan) for key in BARS[data].least}
        results.setdefault(data, {}).setdefault(game, []).append({"seed": seed, "status": o.status, **row})
    summary: dict = {"bar": {d: BARS[d].least for d in results}, "steps": {d: sorted(played.get(d, ())) for d in results},
                     "samples": pacgan.SAMPLES, "results": {}}
    for data, by_game in results.items():
        for game, rows in by_game.items():
            rows.sort(key=lambda r: r["seed"])
            medians = {key: statistics.median(r[key] for r in rows) for key in BARS[data].least}
            summary["results"].setdefault(data, {})[game] = {
                "seeds": rows, "median": medians, "meets_bar": meets(data, medians)}
    return summary


def _value(bar: Bar, key: str, value: float, short: bool = False) -> str:
    """A statistic as the table prints it: fractions as % (one decimal, none when ``short``), the rest
    to two decimals without trailing zeros."""
    if key in bar.percent:
        return f"{100 * value:.{0 if short else 1}f} %"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def markdown(summary: dict) -> str:
    """One table per data set: each game's medians and per-seed values, and whether it meets the bar."""
    lines = [f"Each game at its defaults; {summary['samples']} samples per seed; median over seeds.", ""]
    for data, by_game in summary["results"].items():
        bar = BARS[data]
        least = " and ".join(f"≥ {_value(bar, k, v, short=True)} {bar.labels[k]}" for k, v in bar.least.items())
        steps = ", ".join(map(str, summary["steps"].get(data, []))) or "?"
        protocol = "" if summary["steps"].get(data) == [bar.steps] else f"; the bar's protocol: {bar.steps} steps"
        lines += [f"**{data}**, {steps} steps (bar: {least}{protocol}):", "",
                  "| game | seeds | " + " | ".join(f"{bar.labels[k]} (median; per seed)" for k in bar.least)
                  + " | meets the bar |", "|---|---|" + "---|" * len(bar.least) + "---|"]
        for game, entry in by_game.items():
            rows, med = entry["seeds"], entry["median"]
            done = sum(r["status"] == "finished" for r in rows)
            cells = [f"{_value(bar, k, med[k])} ({', '.join(_value(bar, k, r[k], short=True) for r in rows)})"
                     for k in bar.least]
            lines.append(f"| {game} | {done if done == len(rows) else f'{done} of {len(rows)}'} | "
                         + " | ".join(cells) + f" | {'yes' if entry['meets_bar'] else 'no'} |")
        lines.append("")
    short = sorted({f"{g} ({d})" for d, by_game in summary["results"].items() for g, e in by_game.items()
                    if not e["meets_bar"]})
    lines += [f"Short of the bar: {', '.join(short) if short else 'none'}."]
    return "\n".join(lines) + "\n"
