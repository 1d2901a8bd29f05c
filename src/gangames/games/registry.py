"""The named two-player games: each is a loss, a penalty, a number of discriminator steps, weight
clipping and optimiser defaults. Every field is a config default the user can override."""

from __future__ import annotations

from dataclasses import dataclass, field

from gangames.optim import OptimizerSettings

GAN_ADAM = OptimizerSettings("adam", lr=1e-4, beta1=0.5, beta2=0.999)  # papers.md §4(c)
WGAN_RMSPROP = OptimizerSettings("rmsprop", lr=5e-5, beta1=0.0, beta2=0.99)  # WGAN paper / gan_toy.py
WGAN_GP_ADAM = OptimizerSettings("adam", lr=1e-4, beta1=0.0, beta2=0.9)  # WGAN-GP Algorithm 1


@dataclass(frozen=True)
class GameSpec:
    description: str
    loss: str
    penalty: str = "none"
    penalty_weight: float = 0.0
    disc_steps: int = 1
    clip: float = 0.0
    optimizer: OptimizerSettings = field(default=GAN_ADAM)


GAMES: dict[str, GameSpec] = {
    "minimax": GameSpec("saturating minimax GAN (M-GAN): G minimises E log(1 - D(G(z)))", "minimax"),
    "ns": GameSpec("non-saturating GAN (NS-GAN): G minimises -E log D(G(z))", "ns"),
    "wgan": GameSpec("WGAN: Wasserstein critic, weights clipped to [-0.01, 0.01], RMSprop, 5 critic steps",
                     "wasserstein", disc_steps=5, clip=0.01, optimizer=WGAN_RMSPROP),
    "wgan-gp": GameSpec("WGAN-GP: Wasserstein critic + interpolate penalty (lambda 10), 5 critic steps",
                        "wasserstein", "interpolate", 10.0, disc_steps=5, optimizer=WGAN_GP_ADAM),
    "gan-gp": GameSpec("GAN-GP: NS-GAN + interpolate penalty on the logit (lambda 10)", "ns", "interpolate", 10.0),
    "dragan-ns": GameSpec("DRAGAN-NS: NS-GAN + DRAGAN penalty around real data (lambda 10)", "ns", "dragan", 10.0),
    "robust-w": GameSpec("Wasserstein robust game: WGAN-GP against defenders' hard set in a Wasserstein ball "
                         "(Gao & Tembine; config [robust])", "wasserstein", "interpolate", 10.0, disc_steps=5,
                         optimizer=WGAN_GP_ADAM),
    "hinge": GameSpec("hinge loss GAN (SNGAN / BigGAN objective)", "hinge"),
    "lsgan": GameSpec("least-squares GAN (LSGAN, targets 0/1)", "least-squares"),
}


# Games over N players, each pair playing one of the games above (config [auction]).
N_PLAYER_GAMES: dict[str, str] = {
    "auction": "N pairs of auction.player_game with auctions every K steps and alignment to the best "
               "discriminator (Bid Picture)",
    "independent": "the classical baseline: the same N pairs, seeds and budget, no auction (= auction.enabled=false)",
}
