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

from gangames import config as config_io
from gangames.errors import DivergedError, GanGamesError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Train GANs as games, and measure which game works.")
console = Console()
errors = Console(stderr=True)

EXIT_USER_ERROR, EXIT_DIVERGED, EXIT_INTERRUPTED = 2, 3, 130


def reports_errors(command):
    """Print a user error as one line and exit with a status code, instead of a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except DivergedError as err:
            errors.print(f"[red]diverged:[/red] {err}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_DIVERGED) from None
        except GanGamesError as err:
            errors.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_USER_ERROR) from None

    return wrapper


def build_config(config_file: Optional[Path], settings: dict, overrides: list[str]):
    """Defaults <- config file <- explicit flags <- --set overrides."""
    cfg = config_io.load(config_file) if config_file else config_io.Config()
    flags = {}
    for dotted, value in settings.items():
        if value is not None:
            section, key = dotted.split(".")
            flags.setdefault(section, {})[key] = value
    cfg = config_io.from_dict(flags, cfg)
    return config_io.apply_overrides(cfg, overrides or [])


Set = Annotated[Optional[list[str]], typer.Option("--set", help="Override a config field: --set game.penalty_weight=5 (repeatable).")]


@app.command()
@reports_errors
def train(
    game: Annotated[Optional[str], typer.Option(help="Game to play (see `gangames list`).")] = None,
    data: Annotated[Optional[str], typer.Option(help="Data preset (see `gangames list`).")] = None,
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
    from gangames.train.trainer import Trainer

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
        settings = {"game.name": game, "data.preset": data, "run.steps": steps, "run.seed": seed, **runtime}
        cfg = build_config(config, settings, set_)
        if overwrite:
            remove_run(out)
        trainer = Trainer(cfg, out)
    console.print(f"[bold]{trainer.cfg.game.name}[/bold] on [bold]{trainer.cfg.data.preset}[/bold], "
                  f"seed {trainer.cfg.run.seed}, steps {trainer.step} -> {trainer.cfg.run.steps}, run folder {trainer.run_dir.path}")
    result = trainer.run()
    if result.compile_seconds:
        console.print(f"compiled in {result.compile_seconds:.1f} s")
    if result.status == "interrupted":
        errors.print(f"interrupted at step {result.step}; checkpoint written. "
                     f"Continue with: gangames train --resume {result.path}")
        raise typer.Exit(EXIT_INTERRUPTED)
    console.print(f"finished step {result.step} in {result.seconds:.1f} s ({result.steps_per_second:.0f} steps/s): {result.path}")


def remove_run(path: Path) -> None:
    """Delete a run folder, refusing anything that is not one (a typo must not delete a home folder)."""
    import shutil

    if path.exists():
        if not (path / "config.toml").exists() or not (path / "run.json").exists():
            raise GanGamesError(f"--overwrite: {path} is not a gangames run folder; not deleting it")
        shutil.rmtree(path)


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
    from gangames.io import save_npy
    from gangames.train.trainer import load_run

    if num < 1:
        raise GanGamesError(f"--num must be >= 1, got {num}")
    run = load_run(run_dir, step)
    rng = torch.Generator().manual_seed(seed)
    z = run.game.players.latent((run.game.players.count, num), rng)
    samples = run.game.sample(z).numpy().astype(np.float32)
    samples = samples[0] if samples.shape[0] == 1 else samples
    save_npy(output, samples)
    console.print(f"wrote {output} with shape {tuple(samples.shape)} from step {run.step}")


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

    from gangames.train.evaluation import evaluate_run

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


@app.command(name="list")
def list_():
    """List the games, data presets and metrics."""
    from gangames.data.synthetic import PRESETS
    from gangames.games.registry import GAMES, N_PLAYER_GAMES
    from gangames.metrics.registry import METRICS

    for title, entries in (("games", {**{k: v.description for k, v in GAMES.items()}, **N_PLAYER_GAMES}),
                           ("data presets", {k: v.description for k, v in PRESETS.items()}),
                           ("metrics", {k: f"[{v.applies}] {v.description}" for k, v in METRICS.items()})):
        table = Table(title=title, show_header=False, title_justify="left")
        for name, description in entries.items():
            table.add_row(f"[bold]{name}[/bold]", description)
        console.print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
