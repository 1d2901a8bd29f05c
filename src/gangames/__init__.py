"""gangames: train GANs as games, and measure honestly which game works.

From Python (docs/library.md): ``gangames.train``, ``evaluate``, ``compare``, ``report``, ``load``,
``resume``; your own games, losses, penalties, nets and data with ``register_game``,
``register_loss``, ``register_penalty``, ``register_net``, ``register_data``.
"""

__version__ = "0.1.0"

_EXPORTS = {
    "train": "gangames.api", "evaluate": "gangames.api", "compare": "gangames.api", "report": "gangames.api",
    "load": "gangames.api", "resume": "gangames.api", "make_config": "gangames.api", "Run": "gangames.api",
    "Config": "gangames.config",
    "register_game": "gangames.games.registry", "GAMES": "gangames.games.registry",
    "GameEntry": "gangames.games.entry", "Panel": "gangames.games.entry",
    "TwoPlayer": "gangames.games.two_player",
    "register_loss": "gangames.games.losses", "register_penalty": "gangames.games.penalties",
    "register_net": "gangames.nets.registry", "Net": "gangames.nets.registry",
    "register_data": "gangames.data.presets", "Preset": "gangames.data.presets",
}


def __getattr__(name: str):
    """The public names, imported when first used (``import gangames`` stays light)."""
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'gangames' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
