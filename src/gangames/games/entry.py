"""What a game is to the rest of gangames: one registry entry (``games/registry.py``).

An entry owns everything about its game that is not the step itself: the config section it adds
(its settings dataclass *is* that section), the defaults it fills and the checks it makes, how it
builds the game from players, how many players it has, what a step costs, how a report names it
and which extra panels the report draws. The builder, the command line, the report and the
benchmarks only ever call these methods; none of them names a game.

A game object (what ``build`` returns) offers the trainer's protocol: ``draw``, ``step``, ``steps``,
``compiled_steps``, ``ends_call``, ``sample``, ``modules``, ``optimizers``, ``streams``, ``players``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gangames.optim import OptimizerSettings


@dataclass(frozen=True)
class Panel:
    """A report section a game asks for; ``kind`` is one the report knows how to draw:
    ``curves`` (logged ``keys`` over training, every seed) or ``auctions`` (scores, winners, bids)."""

    title: str
    kind: str
    keys: tuple[str, ...] = ()
    note: str = ""


class GameEntry:
    """The base entry: a game of one pair, no section of its own."""

    description: str  # one line for `gangames list`
    section: str | None = None  # the config section this game owns, e.g. "auction" -> [auction]
    settings: type | None = None  # its dataclass; the section's defaults are this class's defaults
    panels: tuple[Panel, ...] = ()
    pairs_of_players: bool = False  # True for games of several pairs built on a one-pair game (auction)

    def optimizer(self, cfg: Any) -> OptimizerSettings:
        """Default optimiser settings of both players."""
        raise NotImplementedError

    def resolve(self, cfg: Any) -> None:
        """Fill this game's defaults into ``cfg`` (its own section and [game]) and check them;
        called once the data and the players' sections are resolved."""
        raise NotImplementedError

    def games_used(self, cfg: Any) -> list[str]:
        """Other games this one plays (the auction's pairs' game)."""
        return []

    def players(self, cfg: Any) -> int:
        """How many generator/discriminator pairs a run of this game trains."""
        return 1

    def build(self, cfg: Any, players: Any, data: Any):
        """The game object for a resolved ``cfg`` and ``players`` (stacked, ``players(cfg)`` of them)."""
        raise NotImplementedError

    def cost(self, cfg: Any) -> float:
        """Network passes per training step, relative (a comparison starts the costliest runs first)."""
        raise NotImplementedError

    def label(self, cfg: Any) -> str:
        """How tables and plots name a run of this game."""
        return cfg.game.name
