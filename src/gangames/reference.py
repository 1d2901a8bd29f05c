"""The games written the usual way: ``nn.Sequential`` players, ``torch.optim`` optimisers, ``backward()``.

Kept as a yardstick. The speed benchmark times the trainer against it, and the tests check that the
trainer's game step gives the same parameters as this independent, plainly written step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gangames.nets.stacked import StackedLinear


def plain_copy(stacked: nn.Module, player: int = 0) -> nn.Sequential:
    """An ``nn.Sequential`` of ``nn.Linear`` layers holding one player's weights of a stacked MLP."""
    layers = []
    for layer in stacked.modules():
        if isinstance(layer, StackedLinear):
            linear = nn.Linear(layer.in_features, layer.out_features, dtype=layer.weight.dtype, device=layer.weight.device)
            with torch.no_grad():
                linear.weight.copy_(layer.weight[player].T)
                linear.bias.copy_(layer.bias[player, 0])
            layers.append(linear)
        elif isinstance(layer, nn.LeakyReLU):  # torch's own modules, not our where-form subclasses
            layers.append(nn.LeakyReLU(layer.negative_slope))
        elif isinstance(layer, nn.ReLU):
            layers.append(nn.ReLU())
        elif isinstance(layer, (nn.Tanh, nn.ELU, nn.SiLU)):
            layers.append(type(layer)())
    return nn.Sequential(*layers)


def make_optimizer(params, name: str, lr: float, beta1: float, beta2: float, eps: float = 1e-8):
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(beta1, beta2), eps=eps)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=beta2, eps=eps)
    return torch.optim.SGD(params, lr=lr, momentum=beta1)


def discriminator_objective(loss: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    if loss in ("minimax", "ns"):
        return (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
    if loss == "wasserstein":
        return fake.mean() - real.mean()
    if loss == "hinge":
        return torch.clamp(1 - real, min=0).mean() + torch.clamp(1 + fake, min=0).mean()
    if loss == "least-squares":
        return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean()
    if loss == "relativistic":  # -log sigmoid(D(x_i) - D(G(z_i)))
        return -F.logsigmoid(real - fake).mean()
    raise ValueError(loss)


def generator_objective(loss: str, fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
    if loss == "minimax":
        return -F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    if loss == "ns":
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
    if loss in ("wasserstein", "hinge"):
        return -fake.mean()
    if loss == "least-squares":
        return 0.5 * ((fake - 1) ** 2).mean()
    if loss == "relativistic":
        return -F.logsigmoid(fake - real).mean()
    raise ValueError(loss)


def zero_centred_penalty(D: nn.Module, points: torch.Tensor) -> torch.Tensor:
    """1/2 E |grad D|^2 (R1 at real points, R2 at fake ones)."""
    points = points.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(points).sum(), points, create_graph=True)
    return 0.5 * (grad.reshape(len(grad), -1) ** 2).sum(dim=1).mean()


def gradient_penalty(D: nn.Module, points: torch.Tensor, guard: float = 1e-4) -> torch.Tensor:
    points = points.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(points).sum(), points, create_graph=True)
    norm = torch.sqrt(guard + (grad.reshape(len(grad), -1) ** 2).sum(dim=1))
    return ((norm - 1) ** 2).mean()


class ReferenceGame:
    """One pair, one step at a time, on single-player inputs (B, ...)."""

    def __init__(self, G: nn.Module, D: nn.Module, loss: str, penalty: str = "none", penalty_weight: float = 0.0,
                 disc_steps: int = 1, clip: float = 0.0, g_opt=("adam", 1e-4, 0.5, 0.999), d_opt=("adam", 1e-4, 0.5, 0.999),
                 dragan_scale: float = 0.5):
        self.G, self.D = G, D
        self.loss, self.penalty, self.penalty_weight = loss, penalty, penalty_weight
        self.disc_steps, self.clip, self.dragan_scale = disc_steps, clip, dragan_scale
        self.opt_g = make_optimizer(G.parameters(), *g_opt)
        self.opt_d = make_optimizer(D.parameters(), *d_opt)

    def step(self, real, z_disc, z_gen, noise=None, real_gen=None):
        """real: (K, B, ...), z_disc: (K, B, latent), z_gen: (B, latent); noise as the game draws it;
        real_gen: (B, ...), the generator's real batch of a relativistic loss."""
        for k in range(self.disc_steps):
            x = real[k]
            fake = self.G(z_disc[k]).detach()
            loss_d = discriminator_objective(self.loss, self.D(x).squeeze(-1), self.D(fake).squeeze(-1))
            if self.penalty == "interpolate":
                eps = noise["epsilon"][k]
                loss_d = loss_d + self.penalty_weight * gradient_penalty(self.D, eps * fake + (1 - eps) * x)
            elif self.penalty == "dragan":  # form A
                perturbed = x + self.dragan_scale * x.std() * noise["uniform"][k]
                points = x + noise["alpha"][k] * (perturbed - x)
                loss_d = loss_d + self.penalty_weight * gradient_penalty(self.D, points)
            elif self.penalty in ("r1", "r2", "r1r2"):
                if self.penalty in ("r1", "r1r2"):
                    loss_d = loss_d + self.penalty_weight * zero_centred_penalty(self.D, x)
                if self.penalty in ("r2", "r1r2"):
                    loss_d = loss_d + self.penalty_weight * zero_centred_penalty(self.D, fake)
            self.opt_d.zero_grad()
            loss_d.backward()
            self.opt_d.step()
            if self.clip > 0:
                with torch.no_grad():
                    for p in self.D.parameters():
                        p.clamp_(-self.clip, self.clip)
        real_scores = self.D(real_gen).squeeze(-1) if real_gen is not None else None
        loss_g = generator_objective(self.loss, self.D(self.G(z_gen)).squeeze(-1), real_scores)
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
        return loss_d.detach(), loss_g.detach()


class ReferenceRobustGame(ReferenceGame):
    """The robust game (papers.md §2(b)) with its defenders playing, one pair, written plainly: a
    Wasserstein critic ``D = Sequential(trunk, head)``, interpolate penalty lambda on the samples
    (and lambda_h on the head in feature space, mode "feature"), generator loss -E f(G(z))."""

    def __init__(self, G: nn.Module, trunk: nn.Module, head: nn.Module, mode: str, gamma: float, steps: int,
                 step_size: float, penalty_weight: float, feature_penalty_weight: float, disc_steps: int,
                 g_opt, d_opt):
        self.trunk, self.head, self.mode = trunk, head, mode
        self.gamma, self.ascent_steps, self.step_size = gamma, steps, step_size
        self.feature_penalty_weight = feature_penalty_weight
        super().__init__(G, nn.Sequential(trunk, head), "wasserstein", "interpolate", penalty_weight, disc_steps,
                         g_opt=g_opt, d_opt=d_opt)

    def defend(self, x: torch.Tensor) -> torch.Tensor:
        """T_def steps of gradient ascent on f(start + delta) - gamma cost(delta), from delta = 0."""
        if self.mode == "feature":
            start = self.trunk(x).detach()
            score = lambda h: self.head(h).squeeze(-1)  # noqa: E731
            cost = lambda delta: (delta**2).sum(-1)  # noqa: E731
        else:
            start = x.detach()
            score = lambda y: self.D(y).squeeze(-1)  # noqa: E731
            anchor = self.trunk(start).detach()
            if self.mode == "feature-cost":
                cost = lambda delta: ((self.trunk(start + delta) - anchor) ** 2).sum(-1)  # noqa: E731
            else:
                cost = lambda delta: (delta**2).sum(-1)  # noqa: E731
        delta = torch.zeros_like(start)
        for _ in range(self.ascent_steps):
            delta.requires_grad_(True)
            objective = score(start + delta) - self.gamma * cost(delta)
            (grad,) = torch.autograd.grad(objective.sum(), delta)
            delta = (delta + self.step_size * grad).detach()
        return delta

    def step(self, real, z_disc, z_gen, noise=None, feature_noise=None):
        for k in range(self.disc_steps):
            x = real[k]
            fake = self.G(z_disc[k]).detach()
            delta = self.defend(x)
            if self.mode == "feature":
                hard = self.trunk(x) + delta
                real_out, fake_features = self.head(hard).squeeze(-1), self.trunk(fake)
                fake_out = self.head(fake_features).squeeze(-1)
            else:
                real_out, fake_out = self.D(x + delta).squeeze(-1), self.D(fake).squeeze(-1)
            eps = noise["epsilon"][k]
            loss_d = fake_out.mean() - real_out.mean()
            loss_d = loss_d + self.penalty_weight * gradient_penalty(self.D, eps * fake + (1 - eps) * x)
            if self.mode == "feature" and self.feature_penalty_weight > 0:
                e = feature_noise["epsilon"][k]
                points = e * fake_features.detach() + (1 - e) * hard.detach()
                loss_d = loss_d + self.feature_penalty_weight * gradient_penalty(self.head, points)
            self.opt_d.zero_grad()
            loss_d.backward()
            self.opt_d.step()
        loss_g = -self.D(self.G(z_gen)).squeeze(-1).mean()
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
        return loss_d.detach(), loss_g.detach()
