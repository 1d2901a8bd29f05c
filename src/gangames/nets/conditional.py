"""Class-conditional players (``game.conditional = true``), for P players at once.

    generator       G(z, y) = G_0([z, E_G[y]])                    a label embedding joins the latent
    discriminator   D(x, y) = head(h) + <E_D[y], h>,  h = trunk(x)    the projection discriminator
                                                                      (Miyato & Koyama 2018)

Both keep the critic protocol: ``features(x)`` is the unconditional trunk, ``score_features(h, y)``
the head plus the projection, so the robust game's defenders move x (or its features), never the
label. A user's conditional module simply takes the label as a second argument: ``forward(z, y)``,
``forward(x, y)`` and, for feature mode, ``score_features(h, y)``.
"""

from __future__ import annotations

import torch
from torch import nn


class StackedEmbedding(nn.Module):
    """P independent embedding tables (P, classes, dim); labels (P, B) -> (P, B, dim)."""

    def __init__(self, players: int, classes: int, dim: int, scale: float = 1.0):
        super().__init__()
        self.scale = scale
        self.weight = nn.Parameter(torch.empty(players, classes, dim))

    def init_player(self, player: int, generator: torch.Generator) -> None:
        """N(0, scale^2), from the player's generator (as every stacked layer)."""
        self.weight[player].normal_(0.0, self.scale, generator=generator)

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        players = torch.arange(self.weight.shape[0], device=labels.device)[:, None]
        return self.weight[players, labels]


class ConditionalGenerator(nn.Module):
    """G(z, y) = base([z, E[y]]): ``base`` is any stacked generator whose latent is z's size plus the embedding's."""

    def __init__(self, base: nn.Module, players: int, classes: int, dim: int):
        super().__init__()
        self.embedding = StackedEmbedding(players, classes, dim)
        self.base = base

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.base(torch.cat([z, self.embedding(labels).to(z.dtype)], dim=-1))


class ProjectionCritic(nn.Module):
    """D(x, y) = head(h) + <E[y], h> with h = trunk(x): a stacked critic (trunk and head) made
    conditional by projecting its features on the label's embedding."""

    critic_protocol = True

    def __init__(self, critic: nn.Module, players: int, classes: int, features: int):
        super().__init__()
        self.critic = critic
        self.embedding = StackedEmbedding(players, classes, features, scale=features ** -0.5)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.critic.features(x)

    def score_features(self, h: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.critic.score_features(h) + (self.embedding(labels) * h).sum(-1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.score_features(self.features(x), labels)

    def refresh_spectral_norm(self, frozen: torch.Tensor | None = None) -> None:
        self.critic.refresh_spectral_norm(frozen)

    @property
    def linear_head(self) -> bool:
        return self.critic.linear_head
