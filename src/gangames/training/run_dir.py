"""A run folder, and the one place that knows its layout:

    RUN/config.toml        the fully resolved config (rerun with --config RUN/config.toml)
    RUN/run.json           versions, seed, command, status, timing; what a report needs to name and
                           draw the run without rebuilding it (label, players, data, panels, updates)
    RUN/metrics.jsonl      one row every run.log_every steps (and evaluations, auctions)
    RUN/eval.json          the last ``gangames evaluate``
    RUN/data.npz           data given from Python in memory (gangames.train(data=array)), and its fingerprint
    RUN/reference.npy      real samples (vector data), drawn at the start, for the report's plots
    RUN/samples/           generator samples from a fixed latent batch, step-XXXXXXXX.npy (and .png)
    RUN/checkpoints/       step-XXXXXXXX.pt, the newest run.keep_checkpoints
    RUN/tensorboard/       TensorBoard event files (run.tensorboard = true)
    .RUN.lock              next to the folder: held by the one process that trains or evaluates it
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import platform
import shutil
import sys
from importlib import metadata
from pathlib import Path

import numpy as np

from gangames import config as config_io
from gangames.config import Config
from gangames.errors import ConfigError, GanGamesError
from gangames.io import append_jsonl, image_grid, read_jsonl, save_npy, save_png, write_json, write_text

DATA_FILE = "data.npz"  # in a run folder, or in a comparison's folder for all its runs
PACKAGES = ("gangames", "torch", "numpy", "scipy", "pot", "optuna", "dask", "distributed", "matplotlib")


def versions() -> dict[str, str]:
    """The versions a run was made with; ``gangames_code`` tells apart two checkouts of one version."""
    found = {"python": sys.version.split()[0], "platform": platform.platform(), "gangames_code": code_digest()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


@functools.cache
def code_digest(package: Path = Path(__file__).resolve().parent.parent) -> str:
    """A digest of a package's Python sources (by default gangames' own), names and contents."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    config_file = property(lambda self: self.path / "config.toml")
    info_file = property(lambda self: self.path / "run.json")
    metrics_file = property(lambda self: self.path / "metrics.jsonl")
    eval_file = property(lambda self: self.path / "eval.json")
    reference_file = property(lambda self: self.path / "reference.npy")
    samples_dir = property(lambda self: self.path / "samples")
    checkpoints_dir = property(lambda self: self.path / "checkpoints")
    tensorboard_dir = property(lambda self: self.path / "tensorboard")
    lock_file = property(lambda self: self.path.parent / f".{self.path.name}.lock")

    def lock(self, wait: float = 0.0):
        """Hold the folder (a context manager): one process trains or evaluates it at a time."""
        from gangames.training.lock import exclusive

        return exclusive(self.lock_file, f"run folder {self.path}", wait)

    # -- what the folder holds ----------------------------------------------------------------
    def exists(self) -> bool:
        return self.config_file.exists()

    def is_run(self) -> bool:
        """A whole run folder (not merely a folder that happens to hold a config.toml)."""
        return self.config_file.exists() and self.info_file.exists()

    def has_checkpoint(self) -> bool:
        return self.checkpoints_dir.is_dir() and any(self.checkpoints_dir.glob("step-*.pt"))

    def finished_and_evaluated(self) -> bool:
        return self.eval_file.exists() and self.read_info().get("status") == "finished"

    def create(self, cfg: Config, info: dict) -> None:
        if self.exists():
            raise ConfigError(f"{self.path} already holds a run; resume it with --resume {self.path} or choose another --out")
        self.path.mkdir(parents=True, exist_ok=True)
        write_text(self.config_file, config_io.dumps(cfg))
        self.write_info({**info, "created": now(), "versions": versions(), "sessions": []})

    def remove(self) -> None:
        """Delete the run, refusing a folder that is not one (a typo must not delete a home folder)."""
        if self.path.exists():
            if not self.is_run():
                raise GanGamesError(f"{self.path} is not a gangames run folder; not deleting it")
            shutil.rmtree(self.path)

    # -- config and info ------------------------------------------------------------------------
    def load_config(self) -> Config:
        if not self.exists():
            raise GanGamesError(f"{self.path} is not a gangames run folder (no config.toml)")
        return config_io.load(self.config_file)

    def read_config_dict(self) -> dict:
        """The config as written, unvalidated (a report needs no plug-in to read a run's settings)."""
        import tomllib

        return tomllib.loads(self.config_file.read_text())

    def read_info(self) -> dict:
        try:
            return json.loads(self.info_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def write_info(self, info: dict) -> None:
        write_json(self.info_file, info)

    # -- metrics and evaluations ------------------------------------------------------------------
    def log(self, row: dict) -> None:
        append_jsonl(self.metrics_file, row)

    def metrics(self) -> list[dict]:
        return read_jsonl(self.metrics_file)

    def truncate_metrics(self, step: int) -> None:
        """Drop rows written after ``step`` (they belong to steps a resume will replay)."""
        rows = [r for r in self.metrics() if r.get("step", 0) <= step]
        write_text(self.metrics_file, "".join(json.dumps(r) + "\n" for r in rows))

    def read_eval(self) -> dict | None:
        try:
            return json.loads(self.eval_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def write_eval(self, result: dict) -> None:
        write_json(self.eval_file, result)

    # -- samples ----------------------------------------------------------------------------------
    def save_samples(self, step: int, samples: np.ndarray, images: bool = False) -> Path:
        """Samples of every player (players, n, *shape), stored as (n, *shape) for a single player;
        images also as one PNG grid per player."""
        path = self.samples_dir / f"step-{step:08d}.npy"
        save_npy(path, samples[0] if len(samples) == 1 else samples)
        if images:
            for p, player in enumerate(samples):
                suffix = "" if len(samples) == 1 else f"-player{p}"
                save_png(self.samples_dir / f"step-{step:08d}{suffix}.png", image_grid(player[:64]))
        return path

    def last_samples(self) -> tuple[int, np.ndarray] | None:
        files = sorted(self.samples_dir.glob("step-*.npy"))
        if not files:
            return None
        return int(files[-1].stem.split("-")[1]), np.load(files[-1])

    def last_grids(self) -> list[Path]:
        pngs = sorted(self.samples_dir.glob("step-*.png"))
        if not pngs:
            return []
        last = pngs[-1].name[:len("step-00000000")]
        return [p for p in pngs if p.name.startswith(last)]

    def save_reference(self, samples: np.ndarray) -> None:
        save_npy(self.reference_file, samples)

    def reference(self) -> np.ndarray | None:
        return np.load(self.reference_file) if self.reference_file.exists() else None
