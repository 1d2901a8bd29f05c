"""Defaults chosen per kind of data: what a game plays with where a config leaves a field unset.

A game's registry entry holds its paper's settings (Fedus et al.'s Adam 1e-4 and lambda = 10 for
the GAN family, RMSprop for WGAN, ...). Those were chosen for the papers' images; on PacGAN's 2-D
mixtures they leave NS-GAN at 16.7 of 25 grid modes with 6.5 % high-quality samples after 10 000
steps. A *profile* is a kind of data (a data preset names its own, ``Preset.profile``); for each
game it lists the settings that replace the paper's there, with the evidence in docs/defaults.md.
``game.defaults = "paper"`` plays the papers' settings everywhere (the papers' reproductions do).

A profile's optimiser settings apply to a player only while its optimiser is the profile's (a
config that picks another optimiser gets that optimiser's own defaults); every other setting fills
its field when the config left it unset.
"""

from __future__ import annotations

from typing import Any

from gangames.errors import pick

CHOICES = ("tuned", "paper")  # game.defaults

# The 2-D mixtures (ring8, ring8-pacgan, grid25): the README main job's Adam (docs/toolkit.md),
# lambda = 0.1 for the penalised games, and the generator's moving average with ramp-up, the best
# single option of docs/toolkit.md on these data (ns on ring8: high quality 0.81 against 0.35).
_MIXTURE_ADAM = {f"{role}.{key}": value for role in ("generator", "discriminator")
                 for key, value in (("optimizer", "adam"), ("lr", 1e-3), ("beta1", 0.5), ("beta2", 0.9))}
_MIXTURE_EMA = {"generator.ema": 0.999, "generator.ema_rampup": True}
_MIXTURE = {**_MIXTURE_ADAM, **_MIXTURE_EMA}

# Small images (digits): NS-GAN needs a penalty on the real samples to learn them at all at a high
# learning rate (without it, Adam 1e-3 collapses to FID 234); with R1 (gamma = 1), R3GAN's betas
# (0, 0.99) at 2e-3 and the average it reaches docs/defaults.md's bar (the sweep there: 2e-4 gives
# classifier IS 7.46, 5e-4 7.89, 1e-3 8.01, 2e-3 8.29 at 5 000 steps, seed 0).
_IMAGES_NS = {**{f"{role}.{key}": value for role in ("generator", "discriminator")
                 for key, value in (("optimizer", "adam"), ("lr", 2e-3), ("beta1", 0.0), ("beta2", 0.99))},
              "game.penalty": "r1", "game.penalty_weight": 1.0, **_MIXTURE_EMA}

PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    "mixture": {
        "minimax": _MIXTURE,
        "ns": _MIXTURE,
        "wgan": _MIXTURE,
        "wgan-gp": {**_MIXTURE, "game.penalty_weight": 0.1},
        "gan-gp": {**_MIXTURE, "game.penalty_weight": 0.1},
        "dragan-ns": {**_MIXTURE, "game.penalty_weight": 0.1},
    },
    "images": {"ns": _IMAGES_NS},
}

# A game built on another plays that game's tuned settings, so that comparing the two stays paired:
# the robust game is WGAN-GP against defenders (its gamma -> infinity limit); a game of several pairs
# (the auction, independent) plays its pairs' game's (``games_used``).
BUILT_ON = {"robust-w": "wgan-gp"}

# Where a game, with the tuned defaults of a profile, stays short of docs/defaults.md's bar
# (measured there; `gangames list` and the README say so).
SHORT_OF_BAR: dict[tuple[str, str], str] = {
    ("mixture", "wgan"): "weights clipped to 0.01: ring8-pacgan median 3 of 8 modes, 0.1 % high quality; "
                         "grid25 19 of 25, 1.8 % (5 seeds, 10 000 steps)",
}

_OPTIMISER_KEYS = ("lr", "beta1", "beta2")


def note(game: str) -> str:
    """What `gangames list` adds to a game's line: the kinds of data it has tuned defaults for, and
    where those stay short of the bar."""
    from gangames.data.presets import PRESETS
    from gangames.games.registry import GAMES

    if game in GAMES and GAMES[game].pairs_of_players:
        return " [its pairs' game's tuned defaults: docs/defaults.md]"
    played = BUILT_ON.get(game, game)
    tuned = [name for name, preset in PRESETS.items() if played in PROFILES.get(preset.profile, {})]
    text = f" [tuned defaults{'' if played == game else f' of {played}'} on {', '.join(tuned)}: docs/defaults.md]" if tuned else ""
    short = [f"{p}: {why}" for (p, g), why in SHORT_OF_BAR.items() if g == game]
    return text + (f" [short of the defaults' bar on {'; '.join(short)}]" if short else "")


def settings(profile: str | None, game: str) -> dict[str, Any]:
    """The tuned settings of ``game`` on data of ``profile`` (empty where none were chosen)."""
    return dict(PROFILES.get(profile or "", {}).get(game, {}))


def tuned_game(cfg) -> str:
    """The game whose tuned settings ``cfg`` plays: its own, or the one it is built on."""
    from gangames.games.registry import GAMES

    name = cfg.game.name
    entry = GAMES.get(name)
    if entry is not None and entry.pairs_of_players:
        name = entry.games_used(cfg)[0]
    return BUILT_ON.get(name, name)


def fill(cfg, profile: str | None) -> None:
    """Fill the unset fields of ``cfg`` with its game's tuned settings on ``profile``."""
    pick("game.defaults", cfg.game.defaults, CHOICES)
    if cfg.game.defaults == "paper":
        return
    chosen = settings(profile, tuned_game(cfg))
    for key, value in chosen.items():
        section, name = key.split(".")
        obj = getattr(cfg, section)
        if name in _OPTIMISER_KEYS and obj.optimizer not in (None, chosen.get(f"{section}.optimizer")):
            continue
        if getattr(obj, name) is None:
            setattr(obj, name, value)
