"""gangames from Python: train, evaluate, compare and report, on your own networks and data.

    import gangames

    run = gangames.train(game="auction", generator=make_g, discriminator=make_d, data=x,
                         steps=2000, out="runs/a", config={"auction": {"players": 4}})
    run.eval                     # None until evaluated; run.evaluate() computes and writes eval.json
    samples = run.sample(1000)   # (players, 1000, *shape), or (1000, *shape) for one pair
    gangames.compare(["ns", "wgan-gp", "auction"], data=x, seeds=3, steps=2000, out="runs/cmp")

``generator`` / ``discriminator``: a factory (a function of no arguments returning a fresh
``nn.Module``; docs/library.md gives the shapes), or a built-in net's name. ``data``: a preset's
name, a file (.npy, .npz, .csv, an image folder), an array or tensor of samples (N, *shape), or a
``torch.utils.data.Dataset`` (its items, or their first elements). Data given in memory is written
once to ``OUT/data.npz`` so that the run folder is complete: a resumed run, ``gangames evaluate``
and worker processes read it from there. ``config``: nested dict, a ``Config``, or a TOML file;
the same keys as on the command line. The command line is a thin layer over these functions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gangames import config as config_io
from gangames.config import Config
from gangames.errors import ConfigError, DataError
from gangames.plugins import reference

Factory = Callable[[], torch.nn.Module]
SUFFIXES = {".npy": "array", ".npz": "array", ".csv": "csv", ".gz": "idx", ".idx": "idx"}


# -- configs -----------------------------------------------------------------------------------
def make_config(config: Config | dict | str | Path | None = None, **settings: Any) -> Config:
    """Defaults <- ``config`` (a Config, a nested dict or a TOML file) <- ``settings`` given as
    dotted keys (``{"run.steps": 100}``); ``None`` values are left out."""
    if config is None:
        cfg = Config()
    elif isinstance(config, Config):
        cfg = config_io.from_dict({}, config)
    elif isinstance(config, dict):
        cfg = config_io.from_dict(config)
    else:
        cfg = config_io.load(config)
    flags: dict = {}
    for dotted, value in settings.items():
        if value is not None:
            section, key = dotted.split(".")
            flags.setdefault(section, {})[key] = value
    return config_io.from_dict(flags, cfg)


def _net(value: Factory | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if not callable(value):
        raise ConfigError(f"a generator or discriminator is a factory (a function returning an nn.Module) or a "
                          f"net's name, got {type(value).__name__}")
    return reference(value)


# -- data ----------------------------------------------------------------------------------------
def _materialise(data) -> tuple[np.ndarray, np.ndarray | None]:
    """An array or tensor (N, *shape), or a Dataset whose items are samples or (sample, label)."""
    if torch.is_tensor(data):
        return data.detach().cpu().numpy(), None
    if isinstance(data, np.ndarray):
        return data, None
    if isinstance(data, torch.utils.data.Dataset):
        try:
            items = [data[i] for i in range(len(data))]
        except TypeError:
            raise DataError("a Dataset given as data needs __len__ and __getitem__ (an iterable one: convert it "
                            "to a tensor first)") from None
        if not items:
            raise DataError("the Dataset given as data is empty")
        labelled = isinstance(items[0], (tuple, list))
        samples = [torch.as_tensor(item[0] if labelled else item) for item in items]
        labels = np.asarray([int(item[1]) for item in items]) if labelled and len(items[0]) > 1 else None
        return torch.stack(samples).numpy(), labels
    raise DataError(f"data must be a preset name, a file, an array, a tensor or a Dataset; got {type(data).__name__}")


def _write_data(data, folder: Path) -> Path:
    """In-memory data as OUT/data.npz (once: the same data again reuses the file, other data is refused)."""
    from gangames.io import atomic_open
    from gangames.training.run_dir import DATA_FILE

    samples, labels = _materialise(data)
    if samples.ndim < 2 or len(samples) < 2:
        raise DataError(f"data given in memory must be (N, *shape) with N >= 2, got shape {samples.shape}")
    digest = hashlib.sha256(np.ascontiguousarray(samples).tobytes()).hexdigest()[:16]
    path = folder / DATA_FILE
    if path.exists():
        with np.load(path) as saved:
            if str(saved["fingerprint"]) != digest:
                raise DataError(f"{path} holds other data than the data given now; use another output folder")
        return path
    arrays = {"x": samples, "fingerprint": np.array(digest)}
    if labels is not None:
        arrays["labels"] = labels
    with atomic_open(path, "wb") as handle:
        np.savez(handle, **arrays)
    return path


def data_settings(data, folder: Path) -> dict:
    """The [data] keys for ``data`` (see the module doc), writing in-memory data into ``folder``."""
    from gangames.data.presets import PRESETS

    if data is None:
        return {}
    if isinstance(data, str) and data in PRESETS:
        return {"data.preset": data}
    if isinstance(data, (str, Path)):
        path = Path(data).expanduser()
        if not path.exists():
            raise DataError(f"data {str(data)!r} is neither a data preset nor an existing file "
                            f"(presets: {', '.join(sorted(PRESETS))})")
        preset = "image-folder" if path.is_dir() else SUFFIXES.get(path.suffix.lower())
        if preset is None:
            raise DataError(f"{path}: cannot tell its format from the suffix; expected .npy, .npz, .csv, an IDX "
                            "file or a folder of images (or name a preset with config data.preset)")
        return {"data.preset": preset, "data.path": str(path.resolve())}
    folder.mkdir(parents=True, exist_ok=True)
    return {"data.preset": "array", "data.path": str(_write_data(data, folder).resolve())}


# -- runs ----------------------------------------------------------------------------------------
@dataclass
class Run:
    """A run folder, as Python sees it."""

    path: Path
    status: str = ""
    seconds: float = 0.0
    _loaded: Any = field(default=None, repr=False)

    @property
    def folder(self):
        from gangames.training.run_dir import RunDir

        return RunDir(self.path)

    @property
    def config(self) -> Config:
        return self.folder.load_config()

    @property
    def metrics(self) -> list[dict]:
        """The rows of metrics.jsonl (losses every run.log_every steps, evaluations, auctions)."""
        return self.folder.metrics()

    @property
    def eval(self) -> dict | None:
        return self.folder.read_eval()

    @property
    def info(self) -> dict:
        return self.folder.read_info()

    def evaluate(self, num: int | None = None, metrics: list[str] | None = None, step: int | None = None) -> dict:
        return evaluate(self.path, num=num, metrics=metrics, step=step)

    def sample(self, num: int = 1000, seed: int = 0, step: int | None = None) -> np.ndarray:
        """Generator samples in the data's units from the newest (or named) checkpoint:
        (players, num, *shape), or (num, *shape) for one pair; a conditional game's sample i is of
        class i mod K."""
        from gangames.data.presets import to_data_space
        from gangames.training.restore import load_run

        if num < 1:
            raise ConfigError(f"num must be >= 1, got {num}")
        from gangames.training.evaluation import balanced_labels

        run = load_run(self.path, step)
        z = run.game.players.latent((run.game.players.count, num), torch.Generator().manual_seed(seed))
        y = balanced_labels(run.game.players, num, z.device)  # a conditional game: every class in turn
        samples = np.asarray(to_data_space(run.data, run.game.sample(z, y).cpu().numpy()), dtype=np.float32)
        return samples[0] if len(samples) == 1 else samples

    def resume(self, steps: int | None = None, **runtime) -> "Run":
        """Continue to ``steps`` (bit-identical to an uninterrupted run on the same machine)."""
        return resume(self.path, steps, **runtime)


def load(path: str | Path, generator: Factory | None = None, discriminator: Factory | None = None) -> Run:
    """An existing run folder. Give back the factories of a run whose networks came from functions
    that cannot be imported by name (a lambda, a function defined inside another)."""
    from gangames.plugins import _LOCAL
    from gangames.training.run_dir import RunDir

    folder = RunDir(path)
    if not folder.is_run():
        raise ConfigError(f"{path} is not a gangames run folder")
    text = folder.read_config_dict()
    for role, given in (("generator", generator), ("discriminator", discriminator)):
        recorded = text.get(role, {}).get("net", "")
        if given is not None and recorded.startswith("python:"):
            _LOCAL[recorded] = given
    return Run(folder.path, folder.read_info().get("status", ""))


def _default_out(game: str) -> Path:
    return Path("runs") / f"{game}-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"


def train(game: str | None = None, data=None, *, generator: Factory | str | None = None,
          discriminator: Factory | str | None = None, steps: int | None = None, seed: int | None = None,
          out: str | Path | None = None, config: Config | dict | str | Path | None = None, overwrite: bool = False,
          progress: bool | None = None, compile: bool | None = None, device: str | None = None) -> Run:
    """Train one run into ``out`` (a new folder) and return it (see the module doc)."""
    from gangames.training.run_dir import RunDir
    from gangames.training.trainer import Trainer

    base = make_config(config)
    out = Path(out) if out is not None else _default_out(game or base.game.name)
    if overwrite:
        RunDir(out).remove()
    elif RunDir(out).exists():
        raise ConfigError(f"{out} already holds a run; resume it (gangames.resume) or choose another out")
    cfg = make_config(base, **{"game.name": game, "run.steps": steps, "run.seed": seed, "run.progress": progress,
                               "run.compile": compile, "run.device": device, "generator.net": _net(generator),
                               "discriminator.net": _net(discriminator), **data_settings(data, out)})
    trainer = Trainer(cfg, out)
    result = trainer.run()
    return Run(result.path, result.status, result.seconds)


def resume(path: str | Path, steps: int | None = None, **runtime) -> Run:
    """Continue a run from its newest good checkpoint; ``runtime``: ``progress``, ``compile``, ``device``."""
    from gangames.training.trainer import Trainer

    trainer = Trainer.resume(path, steps=steps, runtime={f"run.{k}": v for k, v in runtime.items() if v is not None})
    result = trainer.run()
    return Run(result.path, result.status, result.seconds)


def evaluate(run: Run | str | Path, num: int | None = None, metrics: list[str] | None = None,
             step: int | None = None) -> dict:
    """Evaluate a run's newest (or named) checkpoint against fresh real samples; writes RUN/eval.json."""
    from gangames.training.evaluation import evaluate_run

    return evaluate_run(run.path if isinstance(run, Run) else run, num=num, metrics=metrics, step=step)


# -- comparisons and reports ---------------------------------------------------------------------
@dataclass
class Comparison:
    out: Path
    runs: list[Run]
    report: Path
    failed: list[str]
    baseline: str | None = None

    def headlines(self, which: str = "last") -> list:
        """The ranked tables (reporting/headline.py), one per data set: ``which`` is last or best."""
        return headlines([r.path for r in self.runs if r.folder.is_run()], which, self.baseline)


def headlines(sources: list[str | Path], which: str = "last", baseline: str | None = None) -> list:
    """The report's ranked tables of the runs in ``sources``, one per data set."""
    from gangames.reporting.collect import find_runs, group
    from gangames.reporting.headline import headline

    by_data: dict[str, list] = {}
    for g in group(find_runs(list(sources))):
        by_data.setdefault(g.data, []).append(g)
    found = [headline(gs, which, baseline) for gs in by_data.values()]
    return [h for h in found if h is not None]


def plan_comparison(games: list[str], data=None, *, seeds: int = 2, steps: int | None = None,
                    out: str | Path = "runs/compare", config: Config | dict | str | Path | None = None,
                    generator: Factory | str | None = None, discriminator: Factory | str | None = None,
                    compile: bool | None = None, workers: int | None = None) -> list:
    """The comparison's runs (``runner.Task``), the costliest first, every config checked."""
    from gangames import build
    from gangames.games.registry import GAMES
    from gangames.runner import Task, cores

    out = Path(out)
    base = make_config(config)
    nets = {"generator.net": _net(generator), "discriminator.net": _net(discriminator)}
    several = (workers or cores()) > 1
    for role, net in nets.items():
        if several and isinstance(net, str) and net.startswith("python:"):
            raise ConfigError(f"{role}: {net.split('#')[0]} cannot reach worker processes (a lambda or a function "
                              "defined inside another); define it at the top level of a module, or use workers=1")
    shared = data_settings(data, out)
    costed = []
    for name in games:
        for seed in range(seeds):
            cfg = make_config(base, **{"game.name": name, "run.seed": seed, "run.progress": False, "run.steps": steps,
                                       "run.compile": compile, **nets, **shared})
            resolved = build.resolve(cfg)  # also fails on a bad name before anything starts
            if cfg.eval.every == 0 and _kind(resolved) == "vectors":  # curves of the metrics (cheap)
                cfg.eval.every = max(resolved.run.steps // 10, 1)
            cost = resolved.run.steps * GAMES[name].cost(resolved)
            costed.append((cost, Task(f"{name}/seed{seed}", cfg, out / name / f"seed{seed}")))
    return [task for _, task in sorted(costed, key=lambda pair: -pair[0])]


def _kind(cfg: Config) -> str:
    from gangames.data.presets import PRESETS

    return PRESETS[cfg.data.preset].kind_of(cfg.data)


def compare(games: list[str] | str, data=None, *, seeds: int = 2, steps: int | None = None,
            out: str | Path = "runs/compare", config: Config | dict | str | Path | None = None,
            generator: Factory | str | None = None, discriminator: Factory | str | None = None,
            workers: int | None = None, compile: bool | None = None, title: str | None = None,
            baseline: str | None = None, on_done: Callable | None = None) -> Comparison:
    """Train every game on the same data and seeds (in parallel worker processes), evaluate each
    run's last checkpoint and write OUT/report.html, whose headline compares every game with
    ``baseline`` (default: the first), paired by seed. Finished runs in ``out`` are reused."""
    from gangames.runner import run_many

    names = [g.strip() for g in games.split(",")] if isinstance(games, str) else list(games)
    tasks = plan_comparison(names, data, seeds=seeds, steps=steps, out=out, config=config, generator=generator,
                            discriminator=discriminator, compile=compile, workers=workers)
    outcomes = {o.name: o for o in run_many(tasks, workers, on_done=on_done)}  # (run costliest first)
    outcomes = [outcomes[f"{name}/seed{seed}"] for name in names for seed in range(seeds)]
    runs = [Run(o.out, o.status, o.seconds) for o in outcomes]
    written = [o.out for o in outcomes if Run(o.out).folder.is_run()]
    baseline = baseline or names[0]
    page = report(written, Path(out) / "report.html", title or f"{', '.join(names)}", baseline=baseline)
    return Comparison(Path(out), runs, page, [o.name for o in outcomes if o.status != "finished"], baseline)


def report(sources: list[str | Path] | str | Path, out: str | Path = "report.html", title: str = "gangames report",
           baseline: str | None = None) -> Path:
    """One self-contained HTML page from run folders (or folders holding runs) and sweeps (a study:
    its SQLite or journal file, or a database URL); its headline compares every game with
    ``baseline`` (a game's name or label; default: the first)."""
    from gangames.reporting.collect import find_runs
    from gangames.reporting.html import write_report
    from gangames.sweep.results import is_storage, load_study, summary
    from gangames.training.run_dir import RunDir

    paths, sweeps = [], {}
    for source in ([sources] if isinstance(sources, (str, Path)) else list(sources)):
        if is_storage(source):
            study = load_study(source)
            sweeps[study.study_name] = summary(study)
            paths += [Path(r["run"]) for r in sweeps[study.study_name]["rows"] if r.get("run") and RunDir(r["run"]).is_run()]
        else:
            paths.append(source)
    return write_report(find_runs(paths), out, title, sweeps, baseline)
