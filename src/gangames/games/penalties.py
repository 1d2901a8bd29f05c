"""Gradient penalties: functions of (critic, real, fake) and of the noise that picks their points.

Shapes: samples are (P, B, *sample) for P players; ``critic`` maps them to (P, B). The gradient
norm of each sample is taken over the whole flattened sample, with a guard inside the square root
(``sqrt(guard + sum g^2)``, as compare_gan) so that the penalty is differentiable at g = 0.
The noise is drawn outside the penalty (``draw``) so that a game step is a pure function of its
inputs: compilable, and replayable for a bit-identical resume.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from gangames.errors import ConfigError
from gangames.plugins import remember_origin

Tensor = torch.Tensor
Critic = Callable[[Tensor], Tensor]


def gradient_norm(critic: Critic, points: Tensor, guard: float) -> Tensor:
    """Per-sample ``|grad_x critic(x)|`` at ``points``, shape (P, B); differentiable (create_graph)."""
    points = points.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(points).sum(), points, create_graph=True)
    return torch.sqrt(guard + grad.flatten(start_dim=2).pow(2).sum(-1))


def two_sided_penalty(critic: Critic, points: Tensor, target: float = 1.0, guard: float = 1e-4) -> Tensor:
    """E (|grad critic(x)| - target)^2 over the batch, one value per player: shape (P,)."""
    return (gradient_norm(critic, points, guard) - target).pow(2).mean(-1)


def squared_gradient_norm(critic: Critic, points: Tensor) -> Tensor:
    """Per-sample ``|grad_x critic(x)|^2`` at ``points`` (the whole flattened sample), (P, B); differentiable."""
    points = points.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(points).sum(), points, create_graph=True)
    return grad.flatten(start_dim=2).pow(2).sum(-1)


def interpolates(real: Tensor, fake: Tensor, epsilon: Tensor) -> Tensor:
    """x_hat = x + eps (x_fake - x), one eps ~ U[0, 1] per sample broadcast over the sample."""
    return real + epsilon * (fake - real)


def batch_std(real: Tensor) -> Tensor:
    """The scalar standard deviation of each player's whole batch, shaped to broadcast: (P, 1, ...)."""
    std = real.flatten(start_dim=1).std(dim=1)
    return std.reshape(-1, *([1] * (real.dim() - 1)))


def _per_sample_shape(lead: tuple[int, ...], sample_shape: tuple[int, ...]) -> tuple[int, ...]:
    return (*lead, *([1] * len(sample_shape)))


@dataclass(frozen=True)
class InterpolatePenalty:
    """WGAN-GP's penalty (Gulrajani et al. 2017) on points between real and fake samples."""

    target: float = 1.0
    guard: float = 1e-4

    def draw(self, lead: tuple[int, ...], sample_shape: tuple[int, ...], generator: torch.Generator) -> dict[str, Tensor]:
        shape = _per_sample_shape(lead, sample_shape)
        return {"epsilon": torch.rand(shape, generator=generator, device=generator.device)}

    def __call__(self, critic: Critic, real: Tensor, fake: Tensor, noise: dict[str, Tensor]) -> Tensor:
        return two_sided_penalty(critic, interpolates(real, fake, noise["epsilon"]), self.target, self.guard)


@dataclass(frozen=True)
class DraganPenalty:
    """DRAGAN's penalty (Kodali et al. 2017) on points around the real data only.

    Perturbation forms (``papers.md`` §1.2), with ``s`` = the scalar std of the player's batch:
      A (reference code):  x_p = x + scale s U[0,1)^shape, then x_hat = x + alpha (x_p - x), alpha ~ U[0,1] per sample
      B (compare_gan v2):  x_hat = x + scale s (U[0,1)^shape - 1/2), clipped to ``bounds`` if given
      gaussian:            x_hat = x + scale s N(0, I)
    """

    form: str = "A"
    scale: float = 0.5
    target: float = 1.0
    guard: float = 1e-4
    bounds: tuple[float, float] | None = None

    def draw(self, lead: tuple[int, ...], sample_shape: tuple[int, ...], generator: torch.Generator) -> dict[str, Tensor]:
        shape, device = (*lead, *sample_shape), generator.device
        if self.form == "gaussian":
            return {"normal": torch.randn(shape, generator=generator, device=device)}
        noise = {"uniform": torch.rand(shape, generator=generator, device=device)}
        if self.form == "A":
            noise["alpha"] = torch.rand(_per_sample_shape(lead, sample_shape), generator=generator, device=device)
        return noise

    def points(self, real: Tensor, noise: dict[str, Tensor]) -> Tensor:
        spread = self.scale * batch_std(real)
        if self.form == "A":
            perturbed = real + spread * noise["uniform"]
            return real + noise["alpha"] * (perturbed - real)
        if self.form == "B":
            points = real + spread * (noise["uniform"] - 0.5)
            return points if self.bounds is None else points.clamp(*self.bounds)
        return real + spread * noise["normal"]

    def __call__(self, critic: Critic, real: Tensor, fake: Tensor, noise: dict[str, Tensor]) -> Tensor:
        return two_sided_penalty(critic, self.points(real, noise), self.target, self.guard)


@dataclass(frozen=True)
class ZeroCentredPenalty:
    """R1 (Mescheder et al. 2018) at the real samples and/or R2 at the fake ones: 1/2 E |grad D|^2 at
    each, so that ``game.penalty_weight`` is R3GAN's gamma (its loss adds gamma/2 (R1 + R2)). No
    noise, no guard: the penalty is zero-centred, and smooth at g = 0."""

    real: bool = True
    fake: bool = False

    def draw(self, lead: tuple[int, ...], sample_shape: tuple[int, ...], generator: torch.Generator) -> dict[str, Tensor]:
        return {}

    def __call__(self, critic: Critic, real: Tensor, fake: Tensor, noise: dict[str, Tensor]) -> Tensor:
        total = 0.0
        if self.real:
            total = total + 0.5 * squared_gradient_norm(critic, real).mean(-1)
        if self.fake:
            total = total + 0.5 * squared_gradient_norm(critic, fake).mean(-1)
        return total


DRAGAN_FORMS = {"A": 0.5, "B": 1.0, "gaussian": 0.5}  # form -> default scale


def interpolate_penalty(game, images: bool) -> InterpolatePenalty:
    return InterpolatePenalty(game.penalty_target, game.penalty_guard)


def dragan_penalty(game, images: bool) -> DraganPenalty:
    """Form B clips its points to the images' range [-1, 1]."""
    return DraganPenalty(game.dragan_form, game.dragan_scale, game.penalty_target, game.penalty_guard,
                         (-1.0, 1.0) if images else None)


# name -> factory(the [game] section, whether the data are images) -> a penalty, or None for none.
# A penalty offers ``draw(lead, sample_shape, generator)`` (its noise, drawn outside the step) and
# ``penalty(critic, real, fake, noise)`` -> one value per player, (P,).
PENALTIES: dict = {"none": None, "interpolate": interpolate_penalty, "dragan": dragan_penalty,
                   "r1": lambda game, images: ZeroCentredPenalty(real=True, fake=False),
                   "r2": lambda game, images: ZeroCentredPenalty(real=False, fake=True),
                   "r1r2": lambda game, images: ZeroCentredPenalty(real=True, fake=True)}
BUILTIN = frozenset(PENALTIES)


def register_penalty(name: str, factory) -> None:
    """Add a penalty by name (``game.penalty = name``): ``factory(game_section, images)`` returns an
    object with ``draw`` and ``__call__`` as above; it is weighted by ``game.penalty_weight``."""
    if name in BUILTIN:
        raise ConfigError(f"penalty {name!r} is built in; register yours under another name")
    PENALTIES[name] = factory
    remember_origin("penalty", name)


def build_penalty(game, images: bool):
    """The penalty of a resolved [game] section (None for none)."""
    factory = PENALTIES[game.penalty]
    return None if factory is None else factory(game, images)
