"""DCGAN-style players for P players at once, as grouped convolutions.

Inside a conv stack the P players' feature maps sit side by side as channel groups, (B, P*C, H, W),
and every convolution runs with groups=P: one kernel call for all players. Inputs and outputs keep
the (P, B, C, H, W) layout of every other player in the package.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gangames.nets import spectral
from gangames.nets.stacked import ACTIVATIONS, Critic, StackedLinear, mlp


def to_groups(x: torch.Tensor) -> torch.Tensor:
    """(P, B, C, H, W) -> (B, P*C, H, W)."""
    p, b, c, h, w = x.shape
    return x.transpose(0, 1).reshape(b, p * c, h, w)


def from_groups(x: torch.Tensor, players: int) -> torch.Tensor:
    """(B, P*C, H, W) -> (P, B, C, H, W)."""
    b, pc, h, w = x.shape
    return x.reshape(b, players, pc // players, h, w).transpose(0, 1)


class StackedConv2d(nn.Module):
    """P independent convolutions (or transposed convolutions) on grouped channels.

    Parameters keep the player axis first, (P, out, in, k, k) or (P, in, out, k, k) when transposed,
    like every stacked layer; viewed as one grouped kernel in ``forward``.
    """

    def __init__(self, players: int, in_channels: int, out_channels: int, kernel: int, stride: int, padding: int,
                 transposed: bool = False):
        super().__init__()
        self.players, self.transposed = players, transposed
        self.stride, self.padding = stride, padding
        shape = (in_channels, out_channels) if transposed else (out_channels, in_channels)
        self.weight = nn.Parameter(torch.empty(players, *shape, kernel, kernel))
        self.bias = nn.Parameter(torch.empty(players, out_channels))
        self.register_buffer("spectral_u", None)  # spectral normalisation's power-iteration vector, when on

    def effective_weight(self) -> torch.Tensor:
        return self.weight if self.spectral_u is None else spectral.normalised(self.weight, self.spectral_u)

    def init_player(self, player: int, generator: torch.Generator) -> None:
        """DCGAN's initialisation: weights N(0, 0.02), biases 0."""
        self.weight[player].normal_(0.0, 0.02, generator=generator)
        self.bias[player].zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.effective_weight().flatten(0, 1), self.bias.flatten()
        if self.transposed:
            return F.conv_transpose2d(x, weight, bias, self.stride, self.padding, groups=self.players)
        return F.conv2d(x, weight, bias, self.stride, self.padding, groups=self.players)


class GroupedBatchNorm(nn.Module):
    """Batch norm of grouped channels: per player and channel statistics over that player's batch.

    Always batch statistics (no running averages): sampling has no side effects on the state.
    """

    def __init__(self, players: int, channels: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(players, channels))
        self.bias = nn.Parameter(torch.zeros(players, channels))

    def init_player(self, player: int, generator: torch.Generator) -> None:
        self.weight[player].normal_(1.0, 0.02, generator=generator)
        self.bias[player].zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(x, None, None, self.weight.flatten(), self.bias.flatten(), training=True, eps=self.eps)


class PlayerLayerNorm(nn.Module):
    """Layer norm over each player's (C, H, W) of one sample: no batch statistics, safe under a penalty."""

    def __init__(self, players: int, channels: int, eps: float = 1e-5):
        super().__init__()
        self.players, self.eps = players, eps
        self.weight = nn.Parameter(torch.ones(players, channels))
        self.bias = nn.Parameter(torch.zeros(players, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.group_norm(x, self.players, self.weight.flatten(), self.bias.flatten(), self.eps)


def stages_for(size: int) -> int:
    """Stride-2 stages from a base grid to ``size``: 8 -> 2 (2x2 base), 28 -> 2 (7x7), 32 -> 3 (4x4), 64 -> 4."""
    stages = 0
    while size % 2 == 0 and size // 2 >= (4 if size >= 16 else 2) and stages < 4:
        size //= 2
        stages += 1
    if stages == 0:
        raise ValueError(f"image size {size} is not divisible by 2; resize the images (data.image_size)")
    return stages


class ConvGenerator(nn.Module):
    """z -> Linear -> (w_0, s, s) -> [ConvT 4x4 stride 2, BN, ReLU]... -> ConvT -> tanh: (P, B, C, H, W)."""

    def __init__(self, players: int, latent_dim: int, shape: Sequence[int], widths: Sequence[int], activation: str,
                 batch_norm: bool = True):
        super().__init__()
        channels, size = shape[0], shape[-1]
        stages = stages_for(size)
        widths = list(widths)[::-1]  # widest first
        widths = (widths + [widths[-1]] * stages)[:stages]
        self.players, self.base, self.first = players, size // 2**stages, widths[0]
        self.project = StackedLinear(players, latent_dim, widths[0] * self.base**2)
        layers: list[nn.Module] = []
        if batch_norm:
            layers.append(GroupedBatchNorm(players, widths[0]))
        layers.append(ACTIVATIONS[activation]())
        for i in range(stages):
            out = widths[i + 1] if i + 1 < stages else channels
            layers.append(StackedConv2d(players, widths[i], out, 4, 2, 1, transposed=True))
            if i + 1 < stages:
                if batch_norm:
                    layers.append(GroupedBatchNorm(players, out))
                layers.append(ACTIVATIONS[activation]())
        layers.append(nn.Tanh())
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        p, b = z.shape[:2]
        x = self.project(z).reshape(p, b, self.first, self.base, self.base)
        return from_groups(self.body(to_groups(x)), self.players)


class ConvTrunk(nn.Module):
    """(P, B, C, H, W) -> [Conv 4x4 stride 2, (norm), LeakyReLU]... -> flatten -> Linear -> features (P, B, F)."""

    def __init__(self, players: int, shape: Sequence[int], widths: Sequence[int], activation: str, features: int,
                 norm: str = "none"):
        super().__init__()
        channels, size = shape[0], shape[-1]
        stages = stages_for(size)
        widths = (list(widths) + [list(widths)[-1]] * stages)[:stages]
        self.players = players
        layers: list[nn.Module] = []
        previous = channels
        for i, width in enumerate(widths):
            layers.append(StackedConv2d(players, previous, width, 4, 2, 1))
            if norm == "layer" and i > 0:
                layers.append(PlayerLayerNorm(players, width))
            layers.append(ACTIVATIONS[activation]())
            previous = width
        self.convs = nn.Sequential(*layers)
        self.flat = previous * (size // 2**stages) ** 2
        self.project = StackedLinear(players, self.flat, features)
        self.act = ACTIVATIONS[activation]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p, b = x.shape[:2]
        h = from_groups(self.convs(to_groups(x)), self.players).reshape(p, b, self.flat)
        return self.act(self.project(h))


def conv_critic(players: int, shape: Sequence[int], widths: Sequence[int], activation: str, features: int = 128,
                norm: str = "none", head: Sequence[int] = (128,)) -> Critic:
    """A DCGAN discriminator whose trunk is the encoder of the robust game (features in R^F), and an
    MLP head of hidden widths ``head`` (papers.md §2(c): Linear 128 -> 128, LeakyReLU, Linear -> 1)."""
    return Critic(ConvTrunk(players, shape, widths, activation, features, norm),
                  mlp(players, features, head, 1, activation))


def conv_generator(players: int, latent_dim: int, shape: Sequence[int], widths: Sequence[int], activation: str,
                   batch_norm: bool = True) -> ConvGenerator:
    return ConvGenerator(players, latent_dim, shape, widths, activation, batch_norm)
