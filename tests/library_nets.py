"""Users' networks for the library tests: plain nn.Modules with the built-in players' architecture
(small_cfg's sizes), defined at the top level of a module so that worker processes import them."""

import torch
from torch import nn

WIDTH = 16


def generator():
    """The built-in MLP generator of small_cfg: 2 -> 16 -> 16 -> 2, ReLU."""
    return nn.Sequential(nn.Linear(2, WIDTH), nn.ReLU(), nn.Linear(WIDTH, WIDTH), nn.ReLU(), nn.Linear(WIDTH, 2))


class Critic(nn.Module):
    """The built-in MLP critic of small_cfg: trunk 2 -> 16 -> 16, head 16 -> 16 -> 1, LeakyReLU 0.2,
    with the critic protocol (features, score_features) the robust game's feature mode uses."""

    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(2, WIDTH), nn.LeakyReLU(0.2), nn.Linear(WIDTH, WIDTH), nn.LeakyReLU(0.2))
        self.head = nn.Sequential(nn.Linear(WIDTH, WIDTH), nn.LeakyReLU(0.2), nn.Linear(WIDTH, 1))

    def features(self, x):
        return self.trunk(x)

    def score_features(self, h):
        return self.head(h)

    def forward(self, x):
        return self.head(self.trunk(x))


def plain_critic():
    """A critic without the protocol (forward only), shaped (B, 1)."""
    return nn.Sequential(nn.Linear(2, WIDTH), nn.LeakyReLU(0.2), nn.Linear(WIDTH, 1))


def batch_norm_critic():
    return nn.Sequential(nn.Linear(2, WIDTH), nn.BatchNorm1d(WIDTH), nn.LeakyReLU(0.2), nn.Linear(WIDTH, 1))


def wide_output_critic():
    return nn.Sequential(nn.Linear(2, WIDTH), nn.LeakyReLU(0.2), nn.Linear(WIDTH, 3))


def three_d_generator():
    return nn.Sequential(nn.Linear(2, WIDTH), nn.ReLU(), nn.Linear(WIDTH, 3))


def broken():
    raise RuntimeError("no weights file")


def not_a_module():
    return torch.zeros(3)


class ConditionalGenerator(nn.Module):
    """A user's conditional generator: forward(z, y) with its own label embedding."""

    def __init__(self, classes: int = 8):
        super().__init__()
        self.embed = nn.Embedding(classes, 4)
        self.net = nn.Sequential(nn.Linear(2 + 4, WIDTH), nn.ReLU(), nn.Linear(WIDTH, 2))

    def forward(self, z, y):
        return self.net(torch.cat([z, self.embed(y)], dim=-1))


class ConditionalCritic(nn.Module):
    """A user's projection critic: forward(x, y)."""

    def __init__(self, classes: int = 8):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(2, WIDTH), nn.LeakyReLU(0.2))
        self.head = nn.Linear(WIDTH, 1)
        self.embed = nn.Embedding(classes, WIDTH)

    def forward(self, x, y):
        h = self.trunk(x)
        return self.head(h).squeeze(-1) + (self.embed(y) * h).sum(-1)
