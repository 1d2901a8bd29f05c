"""The ``gangames`` command."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import torch
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from gangames import config as config_io
from gangames.errors import ConfigError, DivergedError, GanGamesError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Train GANs as games, and measure which game works.")
# Markup off: paths, names, descriptions and error texts reach the terminal as written (a
# "[robust]" in a description is text, not a style tag); styles are given as rich Text, and appear
# only on a terminal.
console = Console(markup=False, highlight=False)
errors = Console(stderr=True, markup=False, highlight=False)

EXIT_USER_ERROR, EXIT_DIVERGED, EXIT_INTERRUPTED = 2, 3, 130


def reports_errors(command):
    """Print a user error as one line and exit with a status code, instead of a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except DivergedError as err:
            errors.print(Text.assemble(("diverged:", "bold red"), f" {err}"), soft_wrap=True)
            raise typer.Exit(EXIT_DIVERGED) from None
        except GanGamesError as err:
            errors.print(Text.assemble(("error:", "bold red"), f" {err}"), soft_wrap=True)
            raise typer.Exit(EXIT_USER_ERROR) from None

    return wrapper


def build_config(config_file: Optional[Path], settings: dict, overrides: list[str]):
    """Defaults <- config file <- explicit flags <- --set overrides."""
    from gangames.api import make_config

    return config_io.apply_overrides(make_config(config_file, **settings), overrides or [])


Set = Annotated[Optional[list[str]], typer.Option("--set", help="Override a config field: --set game.penalty_weight=5 (repeatable).")]


@app.command()
@reports_errors
def train(
    game: Annotated[Optional[str], typer.Option(help="Game to play (see `gangames list`).")] = None,
    data: Annotated[Optional[str], typer.Option(help="Data preset (see `gangames list`) or a data file (.npy, .npz, .csv, image folder).")] = None,
    steps: Annotated[Optional[int], typer.Option(help="Total training steps (generator updates).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Run seed: players, data and noise derive from it.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Run folder to create.")] = None,
    config: Annotated[Optional[Path], typer.Option(help="TOML config file.")] = None,
    set_: Set = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue the run in this folder from its last checkpoint.")] = None,
    compile_: Annotated[Optional[bool], typer.Option("--compile/--no-compile", help="torch.compile the game step.")] = None,
    device: Annotated[Optional[str], typer.Option(help="cpu or cuda.")] = None,
    eval_every: Annotated[Optional[int], typer.Option(help="Evaluate the metrics every K steps.")] = None,
    progress: Annotated[Optional[bool], typer.Option("--progress/--no-progress", help="Show a progress bar.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Delete an existing run in --out first.")] = False,
):
    """Train a generator against a discriminator as one game."""
    from gangames.training.run_dir import RunDir
    from gangames.training.trainer import Trainer

    runtime = {"run.compile": compile_, "run.device": device, "run.progress": progress, "eval.every": eval_every}
    if resume is not None:
        given = {"--game": game, "--data": data, "--seed": seed, "--out": out, "--config": config, "--set": set_}
        extra = [flag for flag, value in given.items() if value]
        if extra:
            raise GanGamesError(f"--resume continues a run with its own config; drop {', '.join(extra)}")
        trainer = Trainer.resume(resume, steps=steps, runtime=_runtime(runtime))
    else:
        if out is None:
            raise GanGamesError("train needs --out RUN_DIR (or --resume RUN_DIR)")
        from gangames.api import data_settings

        settings = {"game.name": game, "run.steps": steps, "run.seed": seed, **runtime,
                    **(data_settings(data, out) if data else {})}
        cfg = build_config(config, settings, set_)
        if overwrite:
            RunDir(out).remove()
        trainer = Trainer(cfg, out)
    console.print(Text.assemble((trainer.cfg.game.name, "bold"), " on ", (trainer.cfg.data.preset, "bold"),
                                f", seed {trainer.cfg.run.seed}, steps {trainer.step} -> {trainer.cfg.run.steps}, "
                                f"run folder {trainer.run_dir.path}"))
    result = trainer.run()
    if result.compile_seconds:
        console.print(f"compiled in {result.compile_seconds:.1f} s")
    if result.status == "interrupted":
        errors.print(f"interrupted at step {result.step}; checkpoint written. "
                     f"Continue with: gangames train --resume {result.path}")
        raise typer.Exit(EXIT_INTERRUPTED)
    console.print(f"finished step {result.step} in {result.seconds:.1f} s ({result.steps_per_second:.0f} steps/s): {result.path}")


def _runtime(values: dict) -> dict:
    """Runtime-only settings that may change on resume (they do not alter the numbers)."""
    return {k: v for k, v in values.items() if v is not None}


@app.command()
@reports_errors
def sample(
    run_dir: Annotated[Path, typer.Argument(help="A run folder.")],
    num: Annotated[int, typer.Option(help="Number of samples per player.")] = 1000,
    output: Annotated[Path, typer.Option(help="Output .npy file.")] = Path("samples.npy"),
    seed: Annotated[int, typer.Option(help="Seed of the latent draws.")] = 0,
    step: Annotated[Optional[int], typer.Option(help="Checkpoint step (default: newest).")] = None,
):
    """Write generator samples as float32 .npy: (num, dim), or (players, num, dim) for several players."""
    from gangames.api import load
    from gangames.io import save_npy

    run = load(run_dir)
    samples = run.sample(num, seed=seed, step=step)
    save_npy(output, samples)
    console.print(f"wrote {output} with shape {tuple(samples.shape)} from step {step or run.info.get('step')}")


@app.command()
@reports_errors
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="A run folder.")],
    num: Annotated[Optional[int], typer.Option(help="Samples per player (default: eval.samples).")] = None,
    metrics: Annotated[Optional[str], typer.Option(help="Comma-separated metric names (default: the data's).")] = None,
    step: Annotated[Optional[int], typer.Option(help="Checkpoint step (default: newest).")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
):
    """Evaluate a run's checkpoint against fresh real samples; writes RUN_DIR/eval.json."""
    import json

    from gangames.api import evaluate as evaluate_run

    names = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
    result = evaluate_run(run_dir, num=num, metrics=names, step=step)
    if json_:
        console.print_json(json.dumps(result))
        return
    table = Table(title=f"{run_dir} at step {result['step']} ({result['samples']} samples per player)",
                  title_justify="left")
    several = result["players"] > 1
    table.add_column("metric")
    table.add_column("mean" if several else "value", justify="right")
    if several:
        table.add_column("worst player", justify="right")
    for key, value in result["metrics"].items():
        if "/" in key:
            continue
        row = [key, f"{value:.4g}"]
        if several:
            row.append(f"{result['metrics'][key + '/worst']:.4g}")
        table.add_row(*row)
    console.print(table)
    for key, trace in result.get("trace", {}).items():
        console.print(f"trace {key}: fell at {trace['decreased_fraction']:.0%} of {trace['points'] - 1} intervals, "
                      f"{trace['first']:.4g} -> {trace['last']:.4g}")
    console.print(f"wrote {Path(run_dir) / 'eval.json'}")


reproduce_app = typer.Typer(no_args_is_help=True, help="Reproduce the papers' experiments.")
app.add_typer(reproduce_app, name="reproduce")

Workers = Annotated[Optional[int], typer.Option(help="Parallel training processes (default: one per core).")]
Compile = Annotated[bool, typer.Option("--compile/--no-compile", help="torch.compile every run's game step.")]


def _report_outcome(outcome) -> None:
    tail = f" ({outcome.error.splitlines()[0]})" if outcome.error else ""
    console.print(f"  {outcome.status:<9} {outcome.name}{tail}")


def _write_results(out: Path, summary: dict, table: str) -> None:
    from gangames.io import write_json, write_text

    write_json(out / "results.json", summary)
    write_text(out / "results.md", table)
    console.print(table, soft_wrap=True)
    console.print(f"wrote the results into {out} (results.md, results.json)")


def _run_reproduction(tasks: list, out: Path, workers: int | None) -> list:
    from gangames.runner import run_many

    console.print(f"{len(tasks)} runs into {out}")
    return run_many(tasks, workers, on_done=_report_outcome)


@reproduce_app.command("bid-picture")
@reports_errors
def reproduce_bid_picture(
    out: Annotated[Path, typer.Option(help="Folder for the runs and the results table.")] = Path("runs/bid-picture"),
    seeds: Annotated[int, typer.Option(help="Seeds per setting.")] = 10,
    ns_steps: Annotated[int, typer.Option(help="Training steps of the NS-GAN players.")] = 5_000,
    wgan_steps: Annotated[int, typer.Option(help="Training steps of the WGAN players (5 critic steps each).")] = 3_000,
    players: Annotated[int, typer.Option(help="N pairs.")] = 4,
    variants: Annotated[str, typer.Option(help="Player games to compare, comma-separated.")] = "ns,wgan",
    quick: Annotated[bool, typer.Option(help="A small smoke-size version: 3 seeds, 300 steps.")] = False,
    workers: Workers = None,
    set_: Set = None,
    compile_: Compile = True,
):
    """Auction vs classical training of N pairs, NS-GAN and WGAN players, on the 8-mode ring."""
    from gangames.reproduce import bid_picture

    if quick:
        seeds, ns_steps, wgan_steps = 3, 300, 300
    steps = {"ns": ns_steps, "wgan": wgan_steps}
    chosen = [v.strip() for v in variants.split(",") if v.strip()]
    tasks = bid_picture.plan(out, seeds, {v: steps.get(v, ns_steps) for v in chosen}, players, set_, compile_)
    outcomes = _run_reproduction(tasks, out, workers)
    summary = bid_picture.summarise(outcomes)
    _write_results(out, summary, bid_picture.markdown(summary))


@app.command()
@reports_errors
def sweep(
    spec: Annotated[Path, typer.Argument(help="Sweep spec (TOML).")],
    out: Annotated[Optional[Path], typer.Option(help="Folder for the trials' runs (default: runs/sweeps/NAME).")] = None,
    storage: Annotated[Optional[str], typer.Option(help="Optuna storage: a database URL (postgresql://... for many "
                                                        "coordinators), journal:PATH (a journal file on a shared "
                                                        "filesystem) or a SQLite file path (default: OUT/study.db).")] = None,
    workers: Workers = None,
    scheduler: Annotated[Optional[str], typer.Option(help="Run trials on this Dask scheduler (tcp://host:8786).")] = None,
    retry_interrupted: Annotated[bool, typer.Option(
        "--retry-interrupted",
        help="Rerun every trial left RUNNING at once, without waiting for its heartbeat to go stale (only when "
             "no other coordinator is alive).")] = False,
):
    """Run many training runs from one spec; results live in an Optuna study."""
    from gangames.sweep.run import run_sweep
    from gangames.sweep.spec import load

    sweep_spec = load(spec)
    out = out or Path("runs") / "sweeps" / sweep_spec.name
    counts = run_sweep(sweep_spec, out, storage, workers, scheduler, retry_interrupted, on_done=_report_outcome)
    console.print(f"sweep {sweep_spec.name}: {counts['ran']} trials run now ({counts['retried']} retried); before: "
                  f"{counts['complete']} complete, {counts['failed']} failed. "
                  f"Results: gangames sweep-results {storage or out / 'study.db'}")


@app.command("sweep-results")
@reports_errors
def sweep_results(
    study: Annotated[str, typer.Argument(help="The study: its SQLite file or a database URL.")],
    study_name: Annotated[Optional[str], typer.Option(help="Which study, if the storage holds several.")] = None,
    csv_: Annotated[Optional[Path], typer.Option("--csv", help="CSV file to write (default: beside a SQLite file).")] = None,
):
    """Print one row per trial (game, hyperparameters, seed, metrics, status), the search's best so
    far, the parameters' importance and the repeated configurations; write CSV."""
    from gangames.sweep.results import load_study, summary, write_csv

    loaded = load_study(study, study_name)
    found = summary(loaded)
    table = found["rows"]
    columns: list[str] = []
    for row in table:
        columns += [k for k in row if k not in columns and k not in ("run", "key")]
    view = Table(title=f"study {loaded.study_name}: {len(table)} trials", title_justify="left")
    for column in columns:
        view.add_column(column, overflow="fold")
    for row in table:
        view.add_row(*[_cell(row.get(c)) for c in columns])
    console.print(view)
    if found["search"]:
        done = [r for r in found["search"] if r["value"] is not None]
        pick_best = max if loaded.direction.name == "MAXIMIZE" else min
        best = pick_best(done, key=lambda r: r["value"]) if done else None
        console.print(f"search: {len(found['search'])} configurations ({sum(r['phase'] == 'narrow' for r in found['search'])} "
                      f"narrowed), {len(done)} settled; best {found['objective']} (games' mean): "
                      + (f"{_cell(best['value'])} at {best['config']}" if best else "none yet"))
    if found["importance"]:
        console.print("importance (fANOVA): " + ", ".join(f"{k} {v:.2f}" for k, v in found["importance"].items()))
    if found["repeats"]:
        repeated = Table(title=f"repeated over seeds: {found['objective']}, paired difference to the first game",
                         title_justify="left")
        for column in ("config", "game", "seeds", "mean", "difference [95 %]", "verdict"):
            repeated.add_column(column)
        for r in found["repeats"]:
            shown = "baseline" if r["difference"] is None else f"{_cell(r['difference'])} [{_cell(r['low'])}, {_cell(r['high'])}]"
            repeated.add_row(r["config"], r["game"], str(r["seeds"]), _cell(r["mean"]), shown, r["verdict"])
        console.print(repeated)
    target = csv_ or (Path(study).with_suffix(".csv") if "://" not in study and not study.startswith("journal:")
                      else Path(f"{loaded.study_name}.csv"))
    write_csv(table, target)
    console.print(f"wrote {target}")


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


@reproduce_app.command("pacgan")
@reports_errors
def reproduce_pacgan(
    out: Annotated[Path, typer.Option(help="Folder for the runs and the results table.")] = Path("runs/pacgan"),
    trials: Annotated[int, typer.Option(help="Trials (seeds) per game and data set.")] = 10,
    steps: Annotated[int, typer.Option(help="Training steps of every run.")] = 10_000,
    games: Annotated[Optional[str], typer.Option(help="Comma-separated games (default: minimax, ns, wgan-gp, gan-gp, "
                                                      "dragan-ns, r3gan, robust-w, robust-w(gamma=50), auction).")] = None,
    quick: Annotated[bool, typer.Option(help="Smoke size: 2 trials, 300 steps.")] = False,
    workers: Workers = None,
    set_: Set = None,
    compile_: Compile = True,
):
    """PacGAN's Table 1 protocol: every game on its 2-D ring and grid, modes, high quality and reverse KL
    on 2 500 samples, the published GAN and PacGAN4 rows beside."""
    from gangames.reproduce import pacgan

    if quick:
        trials, steps = 2, 300
    chosen = _game_names(games, pacgan.GAMES, pacgan.VARIANTS)
    tasks = pacgan.plan(out, trials, steps, chosen, overrides=set_, compile_=compile_)
    summary = pacgan.summarise(_run_reproduction(tasks, out, workers))
    _write_results(out, summary, pacgan.markdown(summary))


@reproduce_app.command("stacked")
@reports_errors
def reproduce_stacked(
    out: Annotated[Path, typer.Option(help="Folder for the runs and the results table.")] = Path("runs/stacked"),
    seeds: Annotated[int, typer.Option(help="Seeds per game or variant.")] = 3,
    steps: Annotated[int, typer.Option(help="Training steps of every run.")] = 5_000,
    games: Annotated[Optional[str], typer.Option(help="Comma-separated games and variants (default: ns, r3gan, gan-gp, "
                                                      "ns+ema, ns+sn, ns+diffaugment, ns+sn+ema+diffaugment, wgan-gp, "
                                                      "auction, robust-w).")] = None,
    quick: Annotated[bool, typer.Option(help="Smoke size: 1 seed, 30 steps, 1 000 samples.")] = False,
    workers: Workers = None,
    set_: Set = None,
    compile_: Annotated[bool, typer.Option("--compile/--no-compile", help="torch.compile every run (default: eager; "
                                                                          "these image steps compile for minutes).")] = False,
):
    """Stacked Fashion-MNIST (1 000 modes): every image game and the toolkit's options on NS-GAN, modes
    and KL with intervals over seeds, FID/KID, the published Stacked MNIST rows beside."""
    from gangames.reproduce import stacked

    samples = stacked.SAMPLES
    if quick:
        seeds, steps, samples = 1, 30, 1_000
    chosen = _game_names(games, stacked.GAMES, stacked.VARIANTS)
    tasks = stacked.plan(out, seeds, steps, chosen, overrides=set_, compile_=compile_, samples=samples)
    summary = stacked.summarise(_run_reproduction(tasks, out, workers), samples)
    _write_results(out, summary, stacked.markdown(summary))


@reproduce_app.command("defaults")
@reports_errors
def reproduce_defaults(
    out: Annotated[Path, typer.Option(help="Folder for the runs and the results table.")] = Path("runs/defaults"),
    seeds: Annotated[int, typer.Option(help="Seeds per game and data set.")] = 5,
    steps: Annotated[Optional[int], typer.Option(help="Training steps of every run (default: each data set's bar: "
                                                      "10 000 on the mixtures, 5 000 on digits).")] = None,
    games: Annotated[Optional[str], typer.Option(help="Comma-separated games (default: each data set's: the first "
                                                      "family on the mixtures, ns on digits).")] = None,
    data: Annotated[Optional[str], typer.Option(help="Comma-separated data sets (default: ring8-pacgan, grid25, "
                                                     "digits).")] = None,
    quick: Annotated[bool, typer.Option(help="Smoke size: 2 seeds, 300 steps.")] = False,
    workers: Workers = None,
    set_: Set = None,
    compile_: Compile = True,
):
    """The tuned defaults' bar: each game at its defaults on PacGAN's ring and grid (modes and
    high-quality fraction) and on digits (classifier IS and recall), medians over seeds against the
    bar of docs/defaults.md."""
    from gangames.reproduce import tuned

    if quick:
        seeds, steps = 2, 300
    datasets = _names(data, tuned.DATASETS, "data set", tuned.DATASETS)
    chosen = _games(games, tuned.GAMES) if games else None
    tasks = tuned.plan(out, seeds, steps, chosen, datasets, overrides=set_, compile_=compile_)
    if not tasks:
        held = "; ".join(f"{d}: {', '.join(tuned.BARS[d].games)}" for d in datasets)
        raise ConfigError(f"no data set's bar holds {', '.join(chosen or [])} (the bars' games: {held})")
    summary = tuned.summarise(_run_reproduction(tasks, out, workers))
    _write_results(out, summary, tuned.markdown(summary))


def _games(text: str | None, default) -> list[str]:
    """The games a comma-separated option names (every name checked before anything runs), or ``default``."""
    from gangames.games.registry import GAMES

    return _names(text, default, "game", GAMES)


def _game_names(text: str | None, default, variants: dict) -> list[str]:
    """The games and labelled variants a --games option names (an unknown one: one line, before
    anything runs), or ``default``."""
    from gangames.games.registry import GAMES

    return _names(text, default, "game", {**GAMES, **variants})


def _names(text: str | None, default, kind: str, choices) -> list[str]:
    """The names a comma-separated option gives, each one of ``choices`` (an unknown one: one line,
    before anything runs), or ``default``."""
    from gangames.errors import pick

    chosen = [n.strip() for n in text.split(",") if n.strip()] if text else list(default)
    for name in chosen:
        pick(kind, name, choices)
    return chosen


@reproduce_app.command("robust-w")
@reports_errors
def reproduce_robust_w(
    out: Annotated[Path, typer.Option(help="Folder for the runs, the table and the plot.")] = Path("runs/robust-w"),
    seeds: Annotated[int, typer.Option(help="Seeds per game and data set.")] = 5,
    steps: Annotated[int, typer.Option(help="Training steps of every run.")] = 3000,
    gammas: Annotated[str, typer.Option(help="Two values of the robust game's gamma.")] = "5,50",
    eval_every: Annotated[int, typer.Option(help="Steps between W2 evaluations.")] = 100,
    thresholds: Annotated[str, typer.Option(help="W2 thresholds of the steps-to-threshold columns.")] = "ring8=0.5,grid25=1.0",
    quick: Annotated[bool, typer.Option(help="Smoke size: 2 seeds, 200 steps.")] = False,
    workers: Workers = None,
    set_: Set = None,
    compile_: Compile = True,
):
    """The robust game (two gammas) against NS-GAN and WGAN-GP on ring8 and grid25: W2 over steps and seconds."""
    from gangames.reproduce import robust_w

    if quick:
        seeds, steps, eval_every = 2, 200, 50
    pair = tuple(float(g) for g in gammas.split(","))
    tasks = robust_w.plan(out, seeds, steps, gammas=pair, eval_every=eval_every,
                          warmup=min(500, steps // 6), overrides=set_, compile_=compile_)
    outcomes = _run_reproduction(tasks, out, workers)
    try:
        limits = {k: float(v) for k, v in (item.split("=") for item in thresholds.split(","))}
    except ValueError:
        raise GanGamesError(f"--thresholds expects DATA=W2,DATA=W2, got {thresholds!r}") from None
    summary = robust_w.summarise(outcomes, limits)
    robust_w.plot(summary, out / "w2.png")
    _write_results(out, summary, robust_w.markdown(summary))


@reproduce_app.command("many-paths")
@reports_errors
def reproduce_many_paths(
    out: Annotated[Path, typer.Option(help="Folder for the runs, tables and plots.")] = Path("runs/many-paths"),
    size: Annotated[str, typer.Option(help="quick (minutes) or full (hours on 2 cores).")] = "full",
    part: Annotated[str, typer.Option(help="line, sweep or all.")] = "all",
    trials: Annotated[Optional[int], typer.Option(help="Sweep configurations per data set (default: the size's).")] = None,
    sweep_steps: Annotated[Optional[int], typer.Option(help="Training steps of a sweep run (default: the size's).")] = None,
    sweep_data: Annotated[Optional[str], typer.Option(help="Comma-separated data sets of the sweep (default: ring8, and "
                                                           "grid25 at full size); an image set (digits) is scored by "
                                                           "FID and KID.")] = None,
    workers: Workers = None,
    compile_: Compile = True,
):
    """The line in d dimensions and the hyperparameter-robustness sweep of Fedus et al."""
    from gangames.data.presets import PRESETS
    from gangames.errors import pick
    from gangames.io import write_json, write_text
    from gangames.reproduce import many_paths
    from gangames.runner import run_many
    from gangames.sweep.results import load_study, rows, write_csv
    from gangames.sweep.run import run_sweep

    pick("size", size, ("quick", "full"))
    pick("part", part, ("line", "sweep", "all"))
    quick = size == "quick"
    sweep_presets = _names(sweep_data, many_paths.SWEEP_DATA[:1] if quick else many_paths.SWEEP_DATA, "data set", PRESETS)
    if part in ("line", "all"):
        dims = (2, 10) if quick else (2, 10, 100, 1000)
        steps = {d: 1000 for d in dims} if quick else {2: 10_000, 10: 10_000, 100: 10_000, 1000: 20_000}
        tasks = many_paths.line_plan(out, dims, 2 if quick else 10, steps, compile_=compile_)
        console.print(f"line experiment: {len(tasks)} runs into {out / 'line'}")
        table = many_paths.line_summary(run_many(tasks, workers, on_done=_report_outcome))
        write_json(out / "line.json", table)
        write_text(out / "line.md", many_paths.line_markdown(table))
        console.print(many_paths.line_markdown(table), soft_wrap=True)
    if part in ("sweep", "all"):
        tables, text = {}, []
        for preset in sweep_presets:
            spec = many_paths.robustness_spec(preset, trials or (4 if quick else 30),
                                              sweep_steps or (300 if quick else 2000))
            folder = out / "sweep" / preset
            console.print(f"robustness sweep on {preset} into {folder}")
            run_sweep(spec, folder, workers=workers, on_done=_report_outcome)
            tables[preset] = rows(load_study(folder / "study.db"))
            write_csv(tables[preset], folder / "trials.csv")
            text.append(many_paths.robustness_markdown(preset, tables[preset]))
        write_text(out / "sweep.md", "\n".join(text))
        many_paths.robustness_plot(tables, out / "sweep.png")
        console.print("\n".join(text), soft_wrap=True)
    console.print(f"wrote the tables and plots into {out}")


@app.command()
@reports_errors
def compare(
    data: Annotated[str, typer.Option(help="Data preset (see `gangames list`) or a data file (.npy, .npz, .csv).")] = "ring8",
    games: Annotated[str, typer.Option(help="Comma-separated games.")] = "ns,wgan-gp,gan-gp,dragan-ns,robust-w,auction",
    seeds: Annotated[int, typer.Option(help="Seeds per game.")] = 2,
    steps: Annotated[Optional[int], typer.Option(help="Training steps of every run.")] = None,
    out: Annotated[Path, typer.Option(help="Folder for the runs and report.html.")] = Path("runs/compare"),
    config: Annotated[Optional[Path], typer.Option(help="A TOML config shared by every run.")] = None,
    set_: Set = None,
    workers: Workers = None,
    compile_: Annotated[Optional[bool], typer.Option("--compile/--no-compile")] = None,
    baseline: Annotated[Optional[str], typer.Option(help="The game every other is compared with (default: the first).")] = None,
):
    """Train every game on the same data and seeds (in parallel), then print which game works and
    write one HTML report."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from gangames.api import compare as compare_games

    names = [g.strip() for g in games.split(",") if g.strip()]
    config_with_set = build_config(config, {}, set_)
    total = len(names) * seeds
    bar = Progress(TextColumn("runs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("eta"),
                   TimeRemainingColumn(), console=console, transient=True)

    def done(outcome) -> None:
        bar.advance(task)
        if outcome.status != "finished":
            _report_outcome(outcome)

    console.print(f"{total} runs into {out}")
    with bar:
        task = bar.add_task("runs", total=total)
        result = compare_games(names, data, seeds=seeds, steps=steps, out=out, config=config_with_set,
                               workers=workers, compile=compile_, title=f"{', '.join(names)} on {data}",
                               baseline=baseline, on_done=done)
    if result.failed:
        errors.print(f"{len(result.failed)} runs did not finish: {', '.join(result.failed)}")
    for h in result.headlines():
        print_headline(h)
    console.print(f"report: {result.report.resolve()}", soft_wrap=True)


def print_headline(h) -> None:
    """The report's ranked table in the terminal, and its sentences."""
    from gangames.reporting.headline import WHICH, cell

    shown = h.metrics[:4]  # the report has them all
    table = Table(title=f"{h.data}, {WHICH[h.which]}: mean over seeds; below, the paired difference to {h.baseline} "
                        "[95 % interval] and the verdict", title_justify="left")
    table.add_column("game")
    table.add_column("seeds", justify="right")
    for m in shown:
        table.add_column(f"{m} {'↑' if h.higher(m) else '↓'}", justify="right")
    for rank, g in enumerate(h.ranked, start=1):
        table.add_row(f"{rank}. {g.label}", str(h.seeds[g.label]), *["\n".join(cell(h, g.label, m)) for m in shown])
    console.print(table)
    for metric, line in zip(h.metrics, h.sentences):
        if metric in shown:
            console.print(f"- {line}", soft_wrap=True)


@app.command()
@reports_errors
def report(
    sources: Annotated[list[str], typer.Argument(help="Run folders (or folders of runs), or sweeps: a study.db, a "
                                                      "journal file or a database URL.")],
    out: Annotated[Path, typer.Option(help="The HTML file to write.")] = Path("report.html"),
    title: Annotated[str, typer.Option(help="The page title.")] = "gangames report",
    baseline: Annotated[Optional[str], typer.Option(help="The game every other is compared with (default: the first).")] = None,
):
    """Write one self-contained HTML report from existing runs or sweeps; print its headline."""
    from gangames.api import headlines, report as write_report
    from gangames.sweep.results import is_storage

    path = write_report(sources, out, title, baseline)
    runs = [s for s in sources if not is_storage(s)]
    for h in headlines(runs, "last", baseline) if runs else []:
        print_headline(h)
    console.print(f"report: {path.resolve()}", soft_wrap=True)


@app.command(name="list")
def list_():
    """List the games, data presets and metrics."""
    from gangames import defaults
    from gangames.data.presets import PRESETS
    from gangames.games.registry import GAMES
    from gangames.metrics.registry import METRICS

    for title, entries in (("games", {k: v.description + defaults.note(k) for k, v in GAMES.items()}),
                           ("data presets", {k: v.description for k, v in PRESETS.items()}),
                           ("metrics", {k: f"[{v.applies}] {v.description}" for k, v in METRICS.items()})):
        table = Table(title=title, show_header=False, title_justify="left")
        for name, description in entries.items():
            table.add_row(Text(name, style="bold"), description)
        console.print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
