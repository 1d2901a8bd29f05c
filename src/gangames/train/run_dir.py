"""A run folder: the resolved config, versions and seed, the metrics log, samples and checkpoints.

    RUN/config.toml        the fully resolved config (rerun with --config RUN/config.toml)
    RUN/run.json           versions, seed, command, device, status, timing
    RUN/metrics.jsonl      one row every run.log_every steps (and evaluations)
    RUN/samples/           generator samples from a fixed latent batch, step-XXXXXXXX.npy
    RUN/checkpoints/       step-XXXXXXXX.pt, the newest run.keep_checkpoints
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import sys
from importlib import metadata
from pathlib import Path

import numpy as np

from gangames import config as config_io
from gangames.config import Config
from gangames.errors import ConfigError, GanGamesError
from gangames.io import append_jsonl, read_jsonl, save_npy, write_json, write_text

PACKAGES = ("gangames", "torch", "numpy", "scipy", "pot", "optuna", "dask", "distributed", "matplotlib")


def versions() -> dict[str, str]:
    found = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    config_file = property(lambda self: self.path / "config.toml")
    info_file = property(lambda self: self.path / "run.json")
    metrics_file = property(lambda self: self.path / "metrics.jsonl")
    samples_dir = property(lambda self: self.path / "samples")
    checkpoints_dir = property(lambda self: self.path / "checkpoints")

    def exists(self) -> bool:
        return self.config_file.exists()

    def create(self, cfg: Config, info: dict) -> None:
        if self.exists():
            raise ConfigError(f"{self.path} already holds a run; resume it with --resume {self.path} or choose another --out")
        self.path.mkdir(parents=True, exist_ok=True)
        write_text(self.config_file, config_io.dumps(cfg))
        self.write_info({**info, "created": now(), "versions": versions(), "sessions": []})

    def load_config(self) -> Config:
        if not self.exists():
            raise GanGamesError(f"{self.path} is not a gangames run folder (no config.toml)")
        return config_io.load(self.config_file)

    def read_info(self) -> dict:
        try:
            return json.loads(self.info_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def write_info(self, info: dict) -> None:
        write_json(self.info_file, info)

    def log(self, row: dict) -> None:
        append_jsonl(self.metrics_file, row)

    def metrics(self) -> list[dict]:
        return read_jsonl(self.metrics_file)

    def truncate_metrics(self, step: int) -> None:
        """Drop rows written after ``step`` (they belong to steps a resume will replay)."""
        rows = [r for r in self.metrics() if r.get("step", 0) <= step]
        write_text(self.metrics_file, "".join(json.dumps(r) + "\n" for r in rows))

    def save_samples(self, step: int, samples: np.ndarray) -> Path:
        path = self.samples_dir / f"step-{step:08d}.npy"
        save_npy(path, samples)
        return path
