"""Evaluate a game's generators against fresh real samples, with fixed latents and a fixed reference.

The latents and the real samples depend only on ``eval.seed`` and the sample count, so the numbers
logged during training (a divergence trace) compare like with like from one step to the next, and
``gangames evaluate`` at the last checkpoint reproduces the last training evaluation.
"""

from __future__ import annotations

import numpy as np
import torch

from gangames.config import Config
from gangames.data.presets import to_data_space
from gangames.errors import GanGamesError, MetricError
from gangames.metrics.registry import METRICS, check_metrics, divergence_traces, evaluate, extractor_name, metric_label
from gangames.seeds import EVAL_LATENT, EVAL_REAL, derive_seed
from gangames.training.restore import load_run
from gangames.training.run_dir import RunDir


class Evaluator:
    def __init__(self, cfg: Config, data, game, samples: int | None = None, metrics: list[str] | None = None):
        self.cfg, self.data, self.game = cfg, data, game
        self.samples = samples or cfg.eval.samples
        conditional = game.players.classes is not None
        self.metrics = check_metrics(metrics if metrics is not None else cfg.eval.metrics, data, cfg.data.preset,
                                     conditional)
        if "modes" in self.metrics and self.samples < cfg.eval.mode_samples:
            raise MetricError(f"metric 'modes' counts modes among eval.mode_samples = {cfg.eval.mode_samples} samples, "
                              f"but {self.samples} are drawn: raise eval.samples (or --num) or lower eval.mode_samples")
        device = next(game.players.generator.parameters()).device
        latent_rng = torch.Generator(device=device).manual_seed(derive_seed(cfg.eval.seed, EVAL_LATENT))
        self.latent = game.players.latent((game.players.count, self.samples), latent_rng)
        # A conditional game's samples are asked for every class in turn (balanced labels).
        self.labels = balanced_labels(game.players, self.samples, device)
        real_rng = torch.Generator().manual_seed(derive_seed(cfg.eval.seed, EVAL_REAL))
        reference = data.sample(self.samples, real_rng)
        # Vectors as float64 arrays in the data's units; images stay float32 tensors (26k Stacked
        # images are 245 MB).
        self.images = data.kind == "images"
        self.reference = reference if self.images else self._vectors(reference)

    def _vectors(self, samples: torch.Tensor) -> np.ndarray:
        return np.asarray(to_data_space(self.data, samples.cpu().double().numpy()), dtype=np.float64)

    def generated(self, chunk: int = 1000):
        """Samples of every player from the fixed latents, (P, n, *shape), drawn in chunks."""
        labels = [None] * len(self.latent.split(chunk, dim=1)) if self.labels is None else self.labels.split(chunk, dim=1)
        parts = [self.game.sample(z, y).cpu() for z, y in zip(self.latent.split(chunk, dim=1), labels)]
        samples = torch.cat(parts, dim=1)
        return samples if self.images else self._vectors(samples)

    def __call__(self) -> dict:
        labels = None if self.labels is None else self.labels.cpu().numpy()
        return evaluate(self.generated(), self.reference, self.data, self.metrics, self.cfg.eval, labels)


def balanced_labels(players, n: int, device) -> torch.Tensor | None:
    """Labels 0, 1, ..., K-1, 0, 1, ... for n samples of every player (None for an unconditional game)."""
    if players.classes is None:
        return None
    return (torch.arange(n, device=device) % players.classes).expand(players.count, n)


def evaluate_run(path, num: int | None = None, metrics: list[str] | None = None, step: int | None = None) -> dict:
    """Evaluate a run's newest (or named) checkpoint and write RUN/eval.json atomically."""
    run = load_run(path, step)
    if num is not None and num < 2:
        raise GanGamesError(f"--num must be >= 2, got {num}")
    evaluator = Evaluator(run.cfg, run.data, run.game, samples=num, metrics=metrics)
    result = {
        "run": str(run.path),
        "step": run.step,
        "game": run.cfg.game.name,
        "data": run.cfg.data.preset,
        "players": run.game.players.count,
        "samples": evaluator.samples,
        "reference": f"{evaluator.samples} fresh samples of {run.cfg.data.preset} drawn with eval.seed {run.cfg.eval.seed}",
        "weights": (f"the generator's moving average (decay {run.cfg.generator.ema:g}"
                    f"{', ramped up' if run.cfg.generator.ema_rampup else ''})" if run.cfg.generator.ema > 0
                    else "the trained generator"),
        "metric_names": evaluator.metrics,
        "metrics": evaluator(),
        "definitions": {key: metric_label(key, run.cfg.eval) for name in evaluator.metrics for key in METRICS[name].better},
        "settings": vars(run.cfg.eval),
    }
    if any(METRICS[name].applies in ("images", "stacked") for name in evaluator.metrics):
        result["extractor"] = extractor_name(run.cfg.eval, run.data)
        result["reference_split"] = getattr(run.data, "split", run.cfg.data.split)
    run_dir = RunDir(path)
    traces = divergence_traces(run_dir.metrics(), run.cfg.eval.trace_tolerance)
    if traces:
        result["trace"] = traces
    run_dir.write_eval(result)
    return result
