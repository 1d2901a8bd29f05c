"""Labelled variants, the one owner of what a reproduction's row label means.

A label is a game's name, or a variant's: a game with settings of its own played on top of the
reproduction's shared ones (``{"ns+sn": ("ns", ["discriminator.spectral_norm=true"])}``). A label
of a game of several pairs (the auction) gives two rows of scores, its mean and its worst player,
whether or not the run left an evaluation, so a failed auction run shows in both rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from gangames.config import Config, apply_overrides

Variants = dict[str, tuple[str, list[str]]]


def game_of(label: str, variants: Variants) -> str:
    """The game a label plays: the variant's game, or the label itself."""
    return variants.get(label, (label, []))[0]


def config(label: str, variants: Variants, shared: list[str], overrides: list[str] | None = None) -> Config:
    """The label's config: its game, then ``shared``, the variant's own settings and ``overrides``, in that order."""
    own = variants.get(label, (label, []))[1]
    return apply_overrides(Config(), [f"game.name={game_of(label, variants)}", *shared, *own, *(overrides or [])])


def scores(label: str, variants: Variants, evaluation: dict | None, keys: Iterable[str]) -> dict[str, dict]:
    """A run's scores on ``keys`` from its evaluation (NaN where it has none): one row, named "", for a
    game of one pair; "mean player" and "worst player" (the ``/worst`` metrics) for a game of several."""
    from gangames.games.registry import GAMES

    metrics = (evaluation or {}).get("metrics", {})
    row = lambda suffix: {k: metrics.get(f"{k}{suffix}", math.nan) for k in keys}  # noqa: E731
    if GAMES[game_of(label, variants)].pairs_of_players:
        return {"mean player": row(""), "worst player": row("/worst")}
    return {"": row("")}


def named(label: str, which: str) -> str:
    """A row's name: the label, with the player it scores in brackets for a game of several pairs."""
    return f"{label} ({which})" if which else label
