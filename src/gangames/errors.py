"""Errors a user can act on. The CLI prints each as one line, without a traceback."""

from __future__ import annotations

from collections.abc import Iterable


class GanGamesError(Exception):
    """Base class: something the user can fix (a config, a file, a flag)."""


class ConfigError(GanGamesError):
    """A configuration key or value is wrong."""


class DataError(GanGamesError):
    """A dataset is missing, malformed or unusable for the request."""


class MetricError(GanGamesError):
    """A metric cannot be computed on the given samples."""


class CheckpointError(GanGamesError):
    """No usable checkpoint (missing or corrupt)."""


class DivergedError(GanGamesError):
    """A loss became NaN or infinite; the run stopped at its last good checkpoint."""

    def __init__(self, message: str, step: int, player: int, quantity: str):
        super().__init__(message)
        self.step = step
        self.player = player
        self.quantity = quantity


def at_least(value: int | float, key: str, minimum: int | float = 1) -> None:
    """A one-line error unless ``value >= minimum``."""
    if value < minimum:
        raise ConfigError(f"{key} must be >= {minimum}, got {value}")


def pick(kind: str, name: str, choices: dict | Iterable[str], error: type[GanGamesError] = ConfigError):
    """Return ``choices[name]``, or raise a one-line error that lists the valid names."""
    if name in choices:
        return choices[name] if isinstance(choices, dict) else name
    valid = ", ".join(sorted(choices))
    raise error(f"unknown {kind} {name!r}; choose one of: {valid}")
