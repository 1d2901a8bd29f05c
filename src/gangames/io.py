"""Files that survive a crash: every result is written to a temporary file and renamed into place."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success it replaces ``path`` in one rename.

    A crash or exception before the end leaves ``path`` as it was (the old version, or absent).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; results are ordinary files
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: str | Path, text: str) -> None:
    with atomic_open(path, "w") as handle:
        handle.write(text)


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, default=_jsonable) + "\n")


def save_npy(path: str | Path, array: np.ndarray) -> None:
    with atomic_open(path, "wb") as handle:
        np.save(handle, array)


def append_jsonl(path: str | Path, row: dict) -> None:
    """Append one JSON line; a torn last line (crash mid-write) is skipped by :func:`read_jsonl`."""
    with open(path, "a") as handle:
        handle.write(json.dumps(row, default=_jsonable) + "\n")
        handle.flush()


def read_jsonl(path: str | Path) -> list[dict]:
    rows = []
    path = Path(path)
    if not path.exists():
        return rows
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line torn by a crash
    return rows


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


GRID_WIDTH = 512  # pixels a sample grid is enlarged towards (never beyond), so that 8x8 digits can be seen


def image_grid(images: np.ndarray, columns: int | None = None, width: int = GRID_WIDTH) -> np.ndarray:
    """Images (n, C, H, W) in [-1, 1] as one uint8 picture (rows x columns tiles, 1-pixel gaps),
    enlarged by the largest whole factor that keeps it within ``width`` pixels (none when it is already as wide) (nearest neighbour,
    so every pixel stays a sharp square): 8 digits of 8x8 are 73 px wide natively, 511 px written."""
    images = np.asarray(images, dtype=np.float32)
    n, c, h, w = images.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    grid = np.ones((c, rows * (h + 1) + 1, columns * (w + 1) + 1), dtype=np.float32)
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        grid[:, 1 + r * (h + 1):1 + r * (h + 1) + h, 1 + col * (w + 1):1 + col * (w + 1) + w] = (image + 1) / 2
    pixels = (np.clip(grid, 0, 1) * 255).round().astype(np.uint8)
    factor = max(1, width // pixels.shape[-1])
    pixels = pixels.repeat(factor, axis=1).repeat(factor, axis=2)
    return pixels[0] if c == 1 else pixels.transpose(1, 2, 0)


def save_png(path: str | Path, pixels: np.ndarray) -> None:
    from PIL import Image

    with atomic_open(path, "wb") as handle:
        Image.fromarray(pixels).save(handle, format="PNG")
