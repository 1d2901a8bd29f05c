"""The games, by name: one dict of registry entries (``games/entry.py``), read by everything else.

Adding a game is one entry: ``register_game("mine", TwoPlayer("...", loss="hinge", penalty="r1"))``
for another member of the two-player family, or an entry of your own class (a ``GameEntry`` with
its own section, builder and game object; ``tests/test_plugins.py`` registers a toy one).
"""

from __future__ import annotations

from gangames.errors import ConfigError
from gangames.plugins import remember_origin
from gangames.games.auction import Auction
from gangames.games.entry import GameEntry
from gangames.games.robust import Robust
from gangames.games.two_player import GAN_ADAM, TwoPlayer
from gangames.optim import OptimizerSettings

WGAN_RMSPROP = OptimizerSettings("rmsprop", lr=5e-5, beta1=0.0, beta2=0.99)  # WGAN paper / gan_toy.py
WGAN_GP_ADAM = OptimizerSettings("adam", lr=1e-4, beta1=0.0, beta2=0.9)  # WGAN-GP Algorithm 1
R3GAN_ADAM = OptimizerSettings("adam", lr=2e-4, beta1=0.0, beta2=0.99)  # R3GAN's Adam, beta1 = 0

GAMES: dict[str, GameEntry] = {}
SECTIONS: dict[str, type] = {}  # config section name -> its dataclass (the entries that own one)


def register_game(name: str, entry: GameEntry, replace: bool = False) -> GameEntry:
    """Add a game by name; its section (if any) becomes a section of every config from now on."""
    if name in GAMES and not replace:
        raise ConfigError(f"game {name!r} is already registered")
    if entry.section is not None:
        owner = SECTIONS.get(entry.section)
        if owner is not None and owner is not entry.settings:
            raise ConfigError(f"config section [{entry.section}] already belongs to another game's settings")
        if entry.section in ("run", "data", "game", "generator", "discriminator", "eval"):
            raise ConfigError(f"[{entry.section}] is a core config section; give the game's settings another name")
        SECTIONS[entry.section] = entry.settings
        remember_origin("section", entry.section)
    GAMES[name] = entry
    remember_origin("game", name)
    return entry


for _name, _entry in {
    "minimax": TwoPlayer("saturating minimax GAN (M-GAN): G minimises E log(1 - D(G(z)))", "minimax"),
    "ns": TwoPlayer("non-saturating GAN (NS-GAN): G minimises -E log D(G(z))", "ns"),
    "wgan": TwoPlayer("WGAN: Wasserstein critic, weights clipped to [-0.01, 0.01], RMSprop, 5 critic steps",
                      "wasserstein", disc_steps=5, clip=0.01, defaults=WGAN_RMSPROP),
    "wgan-gp": TwoPlayer("WGAN-GP: Wasserstein critic + interpolate penalty (lambda 10), 5 critic steps",
                         "wasserstein", "interpolate", 10.0, disc_steps=5, defaults=WGAN_GP_ADAM),
    "gan-gp": TwoPlayer("GAN-GP: NS-GAN + interpolate penalty on the logit (lambda 10)", "ns", "interpolate", 10.0),
    "dragan-ns": TwoPlayer("DRAGAN-NS: NS-GAN + DRAGAN penalty around real data (lambda 10)", "ns", "dragan", 10.0),
    "robust-w": Robust("Wasserstein robust game: WGAN-GP against defenders' hard set in a Wasserstein ball "
                       "(Gao & Tembine; config [robust])", "wasserstein", "interpolate", 10.0, disc_steps=5,
                       defaults=WGAN_GP_ADAM),
    "hinge": TwoPlayer("hinge loss GAN (SNGAN / BigGAN objective)", "hinge"),
    "lsgan": TwoPlayer("least-squares GAN (LSGAN, targets 0/1)", "least-squares"),
    "r3gan": TwoPlayer("R3GAN's objective (Huang et al. 2025): relativistic pairing loss + gamma/2 (R1 + R2), "
                       "gamma = game.penalty_weight (1)", "relativistic", "r1r2", 1.0, defaults=R3GAN_ADAM),
    "auction": Auction("N pairs of auction.player_game with auctions every K steps and alignment to the best "
                       "discriminator (Bid Picture; config [auction])", GAMES),
    "independent": Auction("the classical baseline: the same N pairs, seeds and budget, no auction "
                           "(= auction.enabled=false)", GAMES, enabled=False),
}.items():
    register_game(_name, _entry)

__all__ = ["GAMES", "SECTIONS", "GAN_ADAM", "register_game"]
