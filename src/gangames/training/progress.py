"""A progress bar with the current losses (rich), silent when disabled."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, TimeRemainingColumn


def _format(row: dict) -> str:
    parts = []
    for key in ("d_loss", "g_loss", "penalty"):
        value = row.get(key)
        if isinstance(value, list):
            value = sum(value) / len(value)
        if value is not None:
            parts.append(f"{key} {value:.4f}")
    return "  ".join(parts)


class Progress:
    def __init__(self, total: int, done: int, enabled: bool = True):
        self.enabled = enabled
        self.total, self.done = total, done
        if enabled:
            self._bar = RichProgress(
                TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
                TextColumn("[cyan]{task.fields[rate]}"),
                TimeRemainingColumn(), TextColumn("{task.fields[losses]}"),
                transient=False,
            )
            self._task = self._bar.add_task("train", total=total, completed=done, losses="", rate="")

    def __enter__(self) -> "Progress":
        if self.enabled:
            self._bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.enabled:
            self._bar.__exit__(*exc)

    def update(self, step: int, row: dict) -> None:
        if self.enabled:
            task = self._bar.tasks[0]
            speed = task.speed
            rate = f"{speed:.0f} steps/s" if speed else ""
            self._bar.update(self._task, completed=step, losses=_format(row), rate=rate)
