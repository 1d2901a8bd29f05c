"""The bar for the tuned defaults (gangames/defaults.py): every game of the first family, run as a new
user runs it (``gangames train --game G --data D --steps 10000``, nothing set), on PacGAN's two 2-D
mixtures, 5 seeds. A game meets the bar on a data set when the median over seeds covers at least
``BAR[data]`` modes with at least that fraction of high-quality samples (2 500 samples, PacGAN's
statistics). ``gangames reproduce defaults`` runs it; docs/defaults.md holds the measurement.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from gangames.reproduce import pacgan
from gangames.runner import Outcome, Task

GAMES = ("minimax", "ns", "wgan", "wgan-gp", "gan-gp", "dragan-ns")  # Fedus et al.'s family
DATASETS = ("ring8-pacgan", "grid25")
BAR = {"ring8-pacgan": (7, 0.80), "grid25": (20, 0.60)}  # median modes, median high-quality fraction
SEEDS = 5
STEPS = 10_000


def plan(out: Path, seeds: int = SEEDS, steps: int = STEPS, games=GAMES, datasets=DATASETS,
         overrides: list[str] | None = None, compile_: bool = True) -> list[Task]:
    """Each game at its defaults (no shared setting: only the steps, the seed and the sample count)."""
    return pacgan.plan(out, seeds, steps, games, datasets, overrides, compile_, setting=[])


def meets(data: str, modes: float, hq: float) -> bool:
    least_modes, least_hq = BAR[data]
    return bool(modes >= least_modes and hq >= least_hq)


def summarise(outcomes: list[Outcome]) -> dict:
    """Per data set and game: every seed's modes and high-quality fraction, their medians, the bar."""
    results: dict = {}
    for o in outcomes:
        data, game, seed = pacgan.trial_of(o)
        row = pacgan.scores(o)[""]
        results.setdefault(data, {}).setdefault(game, []).append(
            {"seed": seed, "status": o.status, "modes": row["modes"], "hq": row["hq"]})
    summary: dict = {"bar": BAR, "samples": pacgan.SAMPLES, "results": {}}
    for data, by_game in results.items():
        for game, rows in by_game.items():
            rows.sort(key=lambda r: r["seed"])
            modes = statistics.median(r["modes"] for r in rows)
            hq = statistics.median(r["hq"] for r in rows)
            summary["results"].setdefault(data, {})[game] = {
                "seeds": rows, "median": {"modes": modes, "hq": hq}, "meets_bar": meets(data, modes, hq)}
    return summary


def markdown(summary: dict) -> str:
    bars = "; ".join(f"{d}: ≥ {m} modes and ≥ {100 * h:.0f} % high quality" for d, (m, h) in summary["bar"].items())
    lines = [f"Each game at its defaults; {summary['samples']} samples per seed; median over seeds (bar: {bars}).", "",
             "| data | game | seeds | modes (median; per seed) | high quality (median; per seed) | meets the bar |",
             "|---|---|---|---|---|---|"]
    for data, by_game in summary["results"].items():
        for game, entry in by_game.items():
            rows, med = entry["seeds"], entry["median"]
            done = sum(r["status"] == "finished" for r in rows)
            per_modes = ", ".join(f"{r['modes']:g}" for r in rows)
            per_hq = ", ".join(f"{100 * r['hq']:.0f}" for r in rows)
            lines.append(f"| {data} | {game} | {done if done == len(rows) else f'{done} of {len(rows)}'} | "
                         f"{med['modes']:g} ({per_modes}) | {100 * med['hq']:.1f} % ({per_hq}) | "
                         f"{'yes' if entry['meets_bar'] else 'no'} |")
    short = sorted({g for by_game in summary["results"].values() for g, e in by_game.items() if not e["meets_bar"]})
    lines += ["", f"Short of the bar on some data set: {', '.join(short) if short else 'none'}."]
    return "\n".join(lines) + "\n"
