"""TensorBoard event files beside metrics.jsonl (``run.tensorboard = true``), with TensorBoard's own writer.

The same rows as metrics.jsonl, as scalars: every logged statistic (``d_loss``, ``g_loss``, ...;
several players as ``d_loss/player1``), every evaluation (``eval/w2``), every auction (each
player's score ``auction/score/playerI`` and the winner ``auction/winner``), and the sample grids
of image data (``samples``, ``samples/playerI``). A resumed run purges the events after its
checkpoint's step, as it truncates metrics.jsonl, so the two logs always agree.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _values(value) -> list[float] | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, list) and value and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return [float(v) for v in value]
    return None


class TensorBoardLog:
    def __init__(self, folder: Path, purge_step: int | None = None):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(folder), purge_step=purge_step)

    def _scalars(self, prefix: str, values: dict, step: int) -> None:
        for key, value in values.items():
            numbers = _values(value)
            if numbers is None:
                continue
            if len(numbers) == 1:
                self.writer.add_scalar(f"{prefix}{key}", numbers[0], step)
            else:
                for player, number in enumerate(numbers):
                    self.writer.add_scalar(f"{prefix}{key}/player{player}", number, step)

    def row(self, row: dict) -> None:
        """One metrics.jsonl row: losses, an evaluation or an auction."""
        step = int(row["step"])
        if "eval" in row:
            self._scalars("eval/", {k: v for k, v in row["eval"].items() if "/" not in k}, step)
        elif "auction" in row:
            auction = row["auction"]
            self._scalars("auction/score/", {f"player{i}": s for i, s in enumerate(auction["scores"])}, step)
            self.writer.add_scalar("auction/winner", float(auction["winner"]), step)
            self.writer.add_scalar("auction/best", float(auction["best"]), step)
        else:
            self._scalars("", {k: v for k, v in row.items() if k not in ("step", "seconds")}, step)

    def grids(self, step: int, grids: list[np.ndarray]) -> None:
        """Sample grids (H, W) or (H, W, 3) uint8, one per player."""
        for player, pixels in enumerate(grids):
            tag = "samples" if len(grids) == 1 else f"samples/player{player}"
            self.writer.add_image(tag, pixels if pixels.ndim == 3 else pixels[..., None], step, dataformats="HWC")

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()
