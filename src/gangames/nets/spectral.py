"""Spectral normalisation (Miyato et al. 2018) of stacked weights, per player.

A weight W of P players, shaped (P, a, ...), is read as P matrices M_p of shape (a, rest) (a
convolution's kernel flattened as torch.nn.utils.spectral_norm does). Each player keeps its own
power-iteration vector u_p (a buffer, so it is in every checkpoint), and the layer uses
W_p / sigma_p with

    v = normalise(M^T u),  u' = normalise(M v),  sigma = u'^T M v      (u, v, u' without gradient)

so that sigma carries the gradient with respect to W, as in torch's own implementation. The
forward pass reads u and changes nothing (a pure function: penalties differentiate it twice,
evaluation has no side effect); after every discriminator update the game advances u to u', one
power iteration per update (``refresh``), which tracks the slowly moving top singular vector.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

EPS = 1e-12


def _matrices(weight: torch.Tensor) -> torch.Tensor:
    return weight.reshape(weight.shape[0], weight.shape[1], -1)


def _iterate(matrices: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        v = F.normalize(torch.einsum("pab,pa->pb", matrices, u), dim=-1, eps=EPS)
        u_next = F.normalize(torch.einsum("pab,pb->pa", matrices, v), dim=-1, eps=EPS)
    return u_next, v


def sigma(weight: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Each player's estimate of the top singular value of its weight, (P,), differentiable in W."""
    matrices = _matrices(weight)
    u_next, v = _iterate(matrices, u)
    return torch.einsum("pa,pab,pb->p", u_next, matrices, v)


def normalised(weight: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """W / sigma(W), player by player."""
    return weight / sigma(weight, u).reshape(-1, *([1] * (weight.dim() - 1)))


def start_vector(weight: torch.Tensor) -> torch.Tensor:
    """u_0: the same unit vector for every player (deterministic, independent of any seed)."""
    players, rows = weight.shape[0], weight.shape[1]
    return torch.full((players, rows), rows ** -0.5, dtype=weight.dtype, device=weight.device)


@torch.no_grad()
def refresh(weight: torch.Tensor, u: torch.Tensor, frozen: torch.Tensor | None = None) -> None:
    """One power iteration: u <- u' (not for ``frozen`` players, whose state stays exactly as it was)."""
    u_next, _ = _iterate(_matrices(weight.detach()), u)
    if frozen is not None:
        u_next = torch.where(frozen.reshape(-1, 1), u, u_next)
    u.copy_(u_next)
