"""Feature extractors for image metrics, registered by name or given by the user.

    digits-cnn     the 8x8 digits classifier this project trains (metrics/classifiers.py), 128 features
    fashion-cnn    the Fashion-MNIST classifier this project trains, 128 features
    torchscript:PATH        any TorchScript module (e.g. an Inception network, with its weights file)
    export:PATH             a torch.export program (.pt2) saved with a dynamic batch dimension
    module:pkg.mod:factory  any nn.Module a Python callable returns

An extractor maps images in [-1, 1] to features; classifiers also give class probabilities (for
the Inception Score and the Stacked Fashion-MNIST modes). Images of another size are resized; three
channels given to a one-channel extractor are read one channel at a time (features concatenated).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gangames.errors import ConfigError
from gangames.metrics.classifiers import NETS, WEIGHTS

BUILTIN = {"digits-cnn": "digits", "fashion-cnn": "fashion"}
DEFAULTS = {"digits": "digits-cnn", "fashion-mnist": "fashion-cnn", "stacked-fashion-mnist": "fashion-cnn"}


@dataclass
class Extractor:
    name: str
    net: nn.Module
    channels: int | None  # expected input channels (None: any)
    size: int | None  # expected input side (None: any)
    classifier: bool

    def _prepare(self, images: torch.Tensor) -> list[torch.Tensor]:
        images = images.float()
        if self.size and images.shape[-1] != self.size:
            images = F.interpolate(images, size=(self.size, self.size), mode="bilinear", antialias=True)
        if self.channels == 1 and images.shape[1] > 1:
            return [images[:, c:c + 1] for c in range(images.shape[1])]
        if self.channels and images.shape[1] != self.channels:
            raise ConfigError(f"extractor {self.name} takes {self.channels}-channel images, got {images.shape[1]}")
        return [images]

    @torch.no_grad()
    def _run(self, images, method: str, batch: int = 1000) -> np.ndarray:
        images = torch.as_tensor(np.asarray(images)) if not torch.is_tensor(images) else images
        outputs = []
        for start in range(0, len(images), batch):
            parts = self._prepare(images[start:start + batch])
            outputs.append(torch.cat([getattr(self.net, method)(p) for p in parts], dim=-1).double().cpu())
        return torch.cat(outputs).numpy()

    def features(self, images) -> np.ndarray:
        return self._run(images, "features")

    def logits_per_channel(self, images) -> np.ndarray:
        """(n, channels, classes) logits; one-channel classifiers read each channel separately."""
        if not self.classifier:
            raise ConfigError(f"extractor {self.name} is not a classifier (no class probabilities)")
        logits = self._run(images, "forward")
        return logits.reshape(len(logits), -1, self.net.classes)


class _ForwardAsFeatures(nn.Module):
    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def features(self, x):
        return self.module(x).flatten(1)


def _from_file(spec: str, prefix: str, load, what: str, errors) -> Extractor:
    """A user's network saved to a file, used as a feature extractor (no class probabilities)."""
    path = Path(spec.removeprefix(prefix)).expanduser()
    if not path.exists():
        raise ConfigError(f"extractor file {path} does not exist")
    try:
        module = load(str(path))
    except errors as err:
        raise ConfigError(f"extractor {path} is not {what} ({str(err).splitlines()[0]})") from None
    return Extractor(spec, _ForwardAsFeatures(module), None, None, classifier=False)


def get_extractor(spec: str) -> Extractor:
    if spec in BUILTIN:
        cls, filename, _ = NETS[BUILTIN[spec]]
        net = cls()
        net.load_state_dict(torch.load(WEIGHTS / filename, map_location="cpu", weights_only=True))
        return Extractor(spec, net.eval(), cls.channels, cls.size, classifier=True)
    if spec.startswith("torchscript:") or Path(spec).suffix in (".pt", ".pth", ".ts"):
        return _from_file(spec, "torchscript:", lambda path: torch.jit.load(path, map_location="cpu").eval(),
                          "a TorchScript module", RuntimeError)
    if spec.startswith("export:") or Path(spec).suffix == ".pt2":
        # torch raises several types for a file that is not a program
        return _from_file(spec, "export:", lambda path: torch.export.load(path).module(), "a torch.export program",
                          Exception)
    if spec.startswith("module:"):
        target = spec.removeprefix("module:")
        module_name, _, attr = target.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as err:
            raise ConfigError(f"extractor {spec}: cannot import {target} ({err})") from None
        module = factory() if callable(factory) and not isinstance(factory, nn.Module) else factory
        net = module if hasattr(module, "features") else _ForwardAsFeatures(module)
        return Extractor(spec, net.eval(), None, None, classifier=False)
    valid = ", ".join([*BUILTIN, "torchscript:PATH", "export:PATH", "module:pkg.mod:factory"])
    raise ConfigError(f"unknown extractor {spec!r}; choose one of: {valid}")


def default_extractor(preset: str) -> str:
    if preset not in DEFAULTS:
        raise ConfigError(f"image metrics on data preset {preset!r} need an extractor: set eval.extractor "
                          f"(torchscript:PATH or module:pkg.mod:factory)")
    return DEFAULTS[preset]
