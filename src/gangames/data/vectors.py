"""A user's vectors: a (N, d) array from a .npy/.npz/.csv file, optionally standardised.

With ``data.standardize`` every coordinate is shifted and scaled to mean 0 and standard deviation 1
before training (the statistics are computed from the file and recorded in ``run.json``); the
players then learn the standardised data, and every sample gangames returns or evaluates is mapped
back to the data's own units (``to_data_space``), so W1/W2 and the KDE likelihood are in those.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gangames.errors import DataError


@dataclass(frozen=True)
class VectorDataset:
    """Vectors (N, d), float32, sampled with replacement; ``shift``/``scale`` undo a standardisation."""

    name: str
    vectors: torch.Tensor
    shift: np.ndarray | None = None
    scale: np.ndarray | None = None
    labels: torch.Tensor | None = None
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    kind = "vectors"

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return (self.dim,)

    def __len__(self) -> int:
        return len(self.vectors)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return self.sample_with_labels(n, generator)[0] if self.labels is not None else self._draw(n, generator)[0]

    def _draw(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        key = str(generator.device)
        if key not in self._cache:
            self._cache[key] = self.vectors.to(generator.device)
        index = torch.randint(len(self.vectors), (n,), generator=generator, device=generator.device)
        return self._cache[key][index], index

    @property
    def classes(self) -> int | None:
        return None if self.labels is None else int(self.labels.max()) + 1

    def sample_with_labels(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        vectors, index = self._draw(n, generator)
        return vectors, self.labels.to(generator.device)[index]

    def to_data_space(self, x):
        """Samples of the model's space in the data's own units (the inverse of the standardisation)."""
        if self.shift is None:
            return x
        if torch.is_tensor(x):
            return x * torch.as_tensor(self.scale, dtype=x.dtype, device=x.device) + torch.as_tensor(
                self.shift, dtype=x.dtype, device=x.device)
        return np.asarray(x) * self.scale + self.shift

    @property
    def mean(self) -> np.ndarray:
        return np.asarray(self.to_data_space(self.vectors.double().numpy())).mean(0)

    @property
    def std(self) -> np.ndarray:
        return np.asarray(self.to_data_space(self.vectors.double().numpy())).std(0)


def read_csv(path: str | Path) -> np.ndarray:
    """Numeric columns of a CSV file, one vector per row; a first row that is not numbers is a header."""
    path = Path(path)
    try:
        with open(path, newline="") as handle:
            rows = [row for row in csv.reader(handle) if row and any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: unreadable CSV file ({err})") from None
    if rows and not all(_is_number(cell) for cell in rows[0]):
        rows = rows[1:]  # a header
    if not rows:
        raise DataError(f"{path}: holds no rows of numbers")
    width = len(rows[0])
    values = np.empty((len(rows), width), dtype=np.float64)
    for i, row in enumerate(rows):
        if len(row) != width:
            raise DataError(f"{path}: row {i + 1} has {len(row)} columns, the first has {width}")
        for j, cell in enumerate(row):
            if not _is_number(cell):
                raise DataError(f"{path}: row {i + 1}, column {j + 1} is not a number ({cell.strip()[:20]!r})")
            values[i, j] = float(cell)
    return values


def _is_number(cell: str) -> bool:
    try:
        return np.isfinite(float(cell))
    except ValueError:
        return False


def vectors_from(array: np.ndarray, source: str, name: str, standardize: bool,
                 labels: np.ndarray | None = None) -> VectorDataset:
    array = np.asarray(array)
    if array.ndim != 2:
        raise DataError(f"{source}: vectors must be shaped (N, d), got {array.shape}")
    if len(array) < 2:
        raise DataError(f"{source}: needs at least 2 vectors, got {len(array)}")
    if not np.issubdtype(array.dtype, np.number) or not np.isfinite(array).all():
        raise DataError(f"{source}: vectors must be finite numbers")
    array = array.astype(np.float64)
    shift = scale = None
    if standardize:
        shift, scale = array.mean(0), array.std(0)
        scale = np.where(scale > 0, scale, 1.0)
        array = (array - shift) / scale
    tensor_labels = torch.from_numpy(np.asarray(labels).astype(np.int64)) if labels is not None else None
    return VectorDataset(name, torch.from_numpy(array.astype(np.float32)), shift, scale, tensor_labels)
