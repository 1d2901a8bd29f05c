"""GAN losses as pure functions of discriminator outputs; both players minimise.

Inputs are discriminator outputs ``l`` with the batch on the last axis, shape (..., B): logits for
the GAN family (D = sigmoid(l)), critic values for the Wasserstein loss. Each function averages
over the batch, so (P, B) outputs give one loss per player, shape (P,).
``softplus(u) = log(1 + e^u)``, hence ``-log D = softplus(-l)`` and ``-log(1 - D) = softplus(l)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from gangames.errors import ConfigError, pick
from gangames.plugins import remember_origin

Tensor = torch.Tensor


def minimax_discriminator_loss(real: Tensor, fake: Tensor) -> Tensor:
    """-E log D(x) - E log(1 - D(G(z))) (Goodfellow et al. 2014); shared by every sigmoid GAN."""
    return F.softplus(-real).mean(-1) + F.softplus(fake).mean(-1)


def minimax_generator_loss(fake: Tensor) -> Tensor:
    """E log(1 - D(G(z))) = -E softplus(l): the saturating (M-GAN) generator loss.

    Its gradient vanishes where D confidently rejects the fakes (l -> -inf).
    """
    return -F.softplus(fake).mean(-1)


def non_saturating_generator_loss(fake: Tensor) -> Tensor:
    """-E log D(G(z)) = E softplus(-l): the NS-GAN generator loss, strong gradients when D rejects."""
    return F.softplus(-fake).mean(-1)


def wasserstein_critic_loss(real: Tensor, fake: Tensor) -> Tensor:
    """E f(G(z)) - E f(x) (Arjovsky et al. 2017): minus the critic's estimate of W1."""
    return fake.mean(-1) - real.mean(-1)


def wasserstein_generator_loss(fake: Tensor) -> Tensor:
    """-E f(G(z))."""
    return -fake.mean(-1)


def hinge_discriminator_loss(real: Tensor, fake: Tensor) -> Tensor:
    """E max(0, 1 - l(x)) + E max(0, 1 + l(G(z))) (Lim & Ye 2017; Miyato et al. 2018)."""
    return F.relu(1 - real).mean(-1) + F.relu(1 + fake).mean(-1)


def hinge_generator_loss(fake: Tensor) -> Tensor:
    """-E l(G(z))."""
    return -fake.mean(-1)


def least_squares_discriminator_loss(real: Tensor, fake: Tensor) -> Tensor:
    """1/2 E (l(x) - 1)^2 + 1/2 E l(G(z))^2 (LSGAN, Mao et al. 2017, targets a=0, b=1)."""
    return 0.5 * (real - 1).pow(2).mean(-1) + 0.5 * fake.pow(2).mean(-1)


def least_squares_generator_loss(fake: Tensor) -> Tensor:
    """1/2 E (l(G(z)) - 1)^2 (target c = 1)."""
    return 0.5 * (fake - 1).pow(2).mean(-1)


def relativistic_discriminator_loss(real: Tensor, fake: Tensor) -> Tensor:
    """E softplus(D(G(z)) - D(x)) = -E log sigmoid(D(x) - D(G(z))): the relativistic pairing loss
    (RpGAN, Jolicoeur-Martineau 2019; R3GAN, Huang et al. 2025), sample i of the real batch paired
    with sample i of the fake batch."""
    return F.softplus(fake - real).mean(-1)


def relativistic_generator_loss(fake: Tensor, real: Tensor) -> Tensor:
    """E softplus(D(x) - D(G(z))): the same pairing with the roles swapped (needs a real batch)."""
    return F.softplus(real - fake).mean(-1)


@dataclass(frozen=True)
class Loss:
    """A pair of objectives, and how to read the discriminator's output as a score.

    ``score`` is ``"probability"`` where D = sigmoid(output) is meaningful, else ``"critic"``.
    ``relativistic``: the generator's loss also reads the discriminator on a real batch,
    ``generator(fake, real)`` (the game draws one for the generator's step).
    """

    description: str
    discriminator: Callable[[Tensor, Tensor], Tensor]
    generator: Callable[..., Tensor]
    score: str
    relativistic: bool = False


def register_loss(name: str, discriminator: Callable[[Tensor, Tensor], Tensor], generator: Callable[..., Tensor],
                  score: str = "critic", description: str = "", relativistic: bool = False) -> Loss:
    """Add a loss by name: ``game.loss = name`` then plays it, in any game (the auction's pairs too).

    ``discriminator(real, fake)`` and ``generator(fake)`` take discriminator outputs of shape
    (..., B) and return one loss per player (..., ), averaged over the batch; ``score`` says how
    the auction reads the outputs as bids (``probability``: sigmoid of a logit; ``critic``: as they are).
    ``relativistic``: the generator's loss is ``generator(fake, real)``, with the discriminator's
    outputs on a real batch drawn for the generator's step.
    """
    pick("loss score", score, ("probability", "critic"))
    if name in BUILTIN:
        raise ConfigError(f"loss {name!r} is built in; register yours under another name")
    LOSSES[name] = Loss(description or f"{name} (registered)", discriminator, generator, score, relativistic)
    remember_origin("loss", name)
    return LOSSES[name]


LOSSES: dict[str, Loss] = {
    "minimax": Loss("saturating minimax (M-GAN)", minimax_discriminator_loss, minimax_generator_loss, "probability"),
    "ns": Loss("non-saturating (NS-GAN)", minimax_discriminator_loss, non_saturating_generator_loss, "probability"),
    "wasserstein": Loss("Wasserstein critic", wasserstein_critic_loss, wasserstein_generator_loss, "critic"),
    "hinge": Loss("hinge", hinge_discriminator_loss, hinge_generator_loss, "critic"),
    "least-squares": Loss("least squares (LSGAN)", least_squares_discriminator_loss, least_squares_generator_loss, "critic"),
    "relativistic": Loss("relativistic pairing (RpGAN): softplus of the paired score differences",
                         relativistic_discriminator_loss, relativistic_generator_loss, "critic", relativistic=True),
}
BUILTIN = frozenset(LOSSES)
