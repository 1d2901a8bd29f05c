"""Networks for P players at once: parameters carry a leading player axis, inputs are (P, B, ...).

One player is the ordinary case (P = 1). Several players (the auction game) then run as one batched
computation instead of a Python loop, with ordinary autograd, so gradient penalties work unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from gangames.errors import pick
from gangames.nets import spectral


class LeakyReLU(nn.LeakyReLU):
    """``nn.LeakyReLU``; when compiled, written as ``where(x > 0, x, slope x)`` (same values and
    gradients, bit for bit).

    Why: its gradient is then a function of a boolean mask, so the double backward of a gradient
    penalty stops here. torch's own ``leaky_relu_backward`` reports a zero tensor as its derivative
    with respect to the input, and autograd multiplies those zeros through every earlier layer:
    12-15% of the arithmetic of a penalised game's step (benchmarks/README.md). The compiler fuses
    the three operations into one kernel; eagerly torch's single operation is faster.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.compiler.is_compiling():
            return torch.where(x > 0, x, self.negative_slope * x)
        return super().forward(x)


class ReLU(nn.ReLU):
    """``nn.ReLU``; compiled, ``where(x > 0, x, 0 x)`` for the reason given in ``LeakyReLU`` (``0 x``,
    not 0, so that a NaN still reaches the losses, where the trainer stops the run)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.compiler.is_compiling():
            return torch.where(x > 0, x, 0.0 * x)
        return super().forward(x)


ACTIVATIONS = {
    "relu": ReLU,
    "leaky_relu": lambda: LeakyReLU(0.2),
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "silu": nn.SiLU,
}


class StackedLinear(nn.Module):
    """P independent linear layers as one batched matmul: (P, B, in) -> (P, B, out).

    Two shapes are written for the compiler (benchmarks/README.md): the bias is added after
    ``bmm`` rather than by ``baddbmm`` (which first copies the broadcast bias into its output; added
    afterwards, it fuses into the activation that follows), and when compiling, an input of one or
    two features (the 2-D data and latents) is a sum of broadcast products that fuse likewise: a
    matrix product with an inner dimension of 2 runs at a few percent of the machine's rate.
    Eagerly, one ``bmm`` is cheaper than those several small operations.
    """

    def __init__(self, players: int, in_features: int, out_features: int):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(players, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(players, 1, out_features))
        self.register_buffer("spectral_u", None)  # spectral normalisation's power-iteration vector, when on

    def effective_weight(self) -> torch.Tensor:
        return self.weight if self.spectral_u is None else spectral.normalised(self.weight, self.spectral_u)

    def init_player(self, player: int, generator: torch.Generator) -> None:
        """``nn.Linear``'s default initialisation, U(-1/sqrt(in), 1/sqrt(in)), from the player's generator."""
        bound = 1.0 / math.sqrt(self.in_features)
        self.weight[player].uniform_(-bound, bound, generator=generator)
        self.bias[player].uniform_(-bound, bound, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.effective_weight()
        if self.in_features <= 2 and torch.compiler.is_compiling():
            out = self.bias
            for i in range(self.in_features):
                out = out + x[..., i : i + 1] * weight[:, i : i + 1, :]
            return out
        return torch.bmm(x, weight) + self.bias


class StackedLine(nn.Module):
    """The affine model line G(s) = b + s u of Fedus et al.'s line experiment: (P, B, 1) -> (P, B, d)."""

    def __init__(self, players: int, dim: int):
        super().__init__()
        self.dim = dim
        self.origin = nn.Parameter(torch.empty(players, 1, dim))
        self.direction = nn.Parameter(torch.empty(players, 1, dim))

    def init_player(self, player: int, generator: torch.Generator) -> None:
        """b ~ N(0, I); u uniform on the unit sphere (so the model starts off the data line)."""
        self.origin[player].normal_(generator=generator)
        direction = torch.randn(self.dim, generator=generator)
        self.direction[player].copy_(direction / direction.norm())

    @torch.no_grad()
    def start_parallel(self, player: int, origin, direction, distance: float, generator: torch.Generator) -> None:
        """Start parallel to the line (origin, direction) at ``distance``, in a random normal direction."""
        origin = torch.as_tensor(origin, dtype=self.origin.dtype)
        direction = torch.as_tensor(direction, dtype=self.origin.dtype)
        normal = torch.randn(self.dim, generator=generator, dtype=self.origin.dtype)
        normal = normal - (normal @ direction) * direction
        self.origin[player, 0].copy_(origin + distance * normal / normal.norm())
        self.direction[player, 0].copy_(direction)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return self.origin + s * self.direction


def blocks(players: int, in_dim: int, hidden: Sequence[int], activation: str) -> nn.Sequential:
    """Linear -> activation for every hidden width (empty: the identity)."""
    make_activation = pick("activation", activation, ACTIVATIONS)
    sizes = [in_dim, *hidden]
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        layers += [StackedLinear(players, fan_in, fan_out), make_activation()]
    return nn.Sequential(*layers)


def mlp(players: int, in_dim: int, hidden: Sequence[int], out_dim: int, activation: str) -> nn.Sequential:
    """Linear -> activation blocks for every hidden width, then a final linear layer."""
    body = blocks(players, in_dim, hidden, activation)
    return nn.Sequential(*body, StackedLinear(players, hidden[-1] if hidden else in_dim, out_dim))


class Critic(nn.Module):
    """A discriminator as a feature trunk and a head: score(x) = head(trunk(x)), one per sample (P, B).

    The split gives the robust game its feature space (its defenders move features, not inputs), and
    the critic protocol any discriminator can offer: ``features(x)`` and ``score_features(h)``. The
    head must be non-linear for that: a linear head has the same gradient at every feature vector,
    so every sample would be moved the same way (``linear_head`` says so).
    """

    def __init__(self, trunk: nn.Module, head: nn.Module):
        super().__init__()
        self.trunk, self.head = trunk, head

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x)

    def score_features(self, h: torch.Tensor) -> torch.Tensor:
        return self.head(h).flatten(start_dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.score_features(self.trunk(x))


    critic_protocol = True  # features(x) and score_features(h)

    def refresh_spectral_norm(self, frozen: torch.Tensor | None = None) -> None:
        refresh_spectral_norm(self, frozen)

    @property
    def linear_head(self) -> bool:
        return isinstance(self.head, StackedLinear) or (
            isinstance(self.head, nn.Sequential) and len(self.head) == 1 and isinstance(self.head[0], StackedLinear))


def mlp_critic(players: int, in_dim: int, hidden: Sequence[int], activation: str, head: Sequence[int] = ()) -> Critic:
    """An MLP discriminator: the hidden layers are the trunk, ``head`` the hidden widths of the head
    (then a linear score). Trunk [128, 128] and head [128] are papers.md §4(c)'s 3 x 128 critic."""
    trunk = blocks(players, in_dim, hidden, activation)
    return Critic(trunk, mlp(players, hidden[-1] if hidden else in_dim, head, 1, activation))


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalisation of every stacked layer's weight (nets/spectral.py), per player."""
    for layer in module.modules():
        if hasattr(layer, "effective_weight") and getattr(layer, "spectral_u", None) is None:
            layer.spectral_u = spectral.start_vector(layer.weight.detach())
    return module


def refresh_spectral_norm(module: nn.Module, frozen: torch.Tensor | None = None) -> None:
    """One power iteration of every spectrally normalised weight of ``module`` (after an update)."""
    for layer in module.modules():
        if getattr(layer, "spectral_u", None) is not None:
            spectral.refresh(layer.weight, layer.spectral_u, frozen)


@torch.no_grad()
def init_players(module: nn.Module, seeds: Sequence[int]) -> nn.Module:
    """Initialise player p of every stacked layer from ``seeds[p]`` alone.

    Layers are visited in a fixed order, so a player's initial weights depend only on its seed:
    player i of a stack of N equals the single player built from the same seed.
    """
    for player, seed in enumerate(seeds):
        generator = torch.Generator().manual_seed(int(seed))
        for layer in module.modules():
            if hasattr(layer, "init_player"):
                layer.init_player(player, generator)
    return module


def player_count(module: nn.Module) -> int:
    return next(module.parameters()).shape[0]
