"""Optimisers whose state is plain tensors, for P players stacked on a leading axis.

Why not ``torch.optim.Adam`` objects: a whole game step (several gradient computations and
updates) must compile as one graph, and its state must be checkpointed exactly. Every rule here is
torch.optim's formula and elementwise, so one optimiser over stacked (P, ...) parameters is P
independent optimisers, with one exception torch.optim cannot express: each player keeps its own
step count. A player left out of an update (``frozen``, the auction's best discriminator) keeps its
parameters, its moments *and* its count, so Adam's bias corrections stay its own.

Eagerly the rules run as ``torch._foreach`` operations (as fast as torch's fused Adam kernel on
the 2-D players, benchmarks/README.md), the per-player factors broadcast as (P, 1, ..., 1) views.
Compiled, every rule is written per tensor with its settings read from a tensor, ``hyper``: a
Python float would be a constant of the compiled graph, so every new learning rate or beta of a
sweep would compile the whole game step again (40-150 s on 2 cores); as a tensor it is an input,
and one graph serves them all. Adam's bias corrections 1 - beta^t are computed once per update,
one update ahead, into a buffer the loop only reads: inlined, the C++ compiler evaluated both
powers again for each vector of 16 floats (about half of an update's time).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gangames.errors import pick

OPTIMIZERS = ("adam", "rmsprop", "sgd")


@dataclass(frozen=True)
class OptimizerSettings:
    name: str = "adam"
    lr: float = 1e-4
    beta1: float = 0.5  # Adam's beta1; SGD's momentum; unused by RMSprop
    beta2: float = 0.999  # Adam's beta2; RMSprop's smoothing constant alpha
    eps: float = 1e-8


def settings_of(player) -> OptimizerSettings:
    """The optimiser settings of a resolved player section ([generator] or [discriminator])."""
    return OptimizerSettings(player.optimizer, player.lr, player.beta1, player.beta2, player.eps)


def adam_corrections(t, lr, beta1, beta2):
    """Adam's step size lr / (1 - beta1^t) and square-rooted second correction sqrt(1 - beta2^t)
    for update number ``t`` (floats or float64 tensors, one per player)."""
    return lr / (1 - beta1**t), (1 - beta2**t) ** 0.5


class Optimizer:
    """``players``: the size of the leading axis every parameter shares (None: plain tensors, one
    shared step count, no ``frozen`` updates)."""

    def __init__(self, params: list[torch.Tensor], settings: OptimizerSettings, players: int | None = None):
        pick("optimizer", settings.name, OPTIMIZERS)
        self.params = list(params)
        self.settings = settings
        self.players = players
        for p in self.params:
            if players is not None and (p.dim() == 0 or p.shape[0] != players):
                raise ValueError(f"a parameter of shape {tuple(p.shape)} has no leading axis of {players} players")
        like = self.params[0] if self.params else torch.zeros(())
        counts = torch.zeros((players,) if players else (), device=like.device)
        self.state: dict[str, list[torch.Tensor]] = {"step": [counts]}  # updates each player has taken
        if settings.name == "adam":
            self.state["exp_avg"] = [torch.zeros_like(p) for p in self.params]
            self.state["exp_avg_sq"] = [torch.zeros_like(p) for p in self.params]
        elif settings.name == "rmsprop":
            self.state["square_avg"] = [torch.zeros_like(p) for p in self.params]
        elif settings.beta1 > 0:
            self.state["momentum"] = [torch.zeros_like(p) for p in self.params]
        # The settings as the compiled update reads them: in float64, so that 1 - beta and the bias
        # corrections round to the parameters' dtype as torch.optim's Python floats do.
        self.hyper = torch.tensor([settings.lr, settings.beta1, settings.beta2, settings.eps],
                                  dtype=torch.float64, device=like.device)
        # Adam's [lr / (1 - beta1^t), sqrt(1 - beta2^t)] of each player's next update t (derived from
        # the counts, not saved), and eagerly its views shaped to broadcast over each parameter.
        self.next_corrections = torch.zeros((2, *counts.shape), dtype=like.dtype, device=like.device)
        self._size = [self._per_player(self.next_corrections[0], p) for p in self.params]
        self._root = [self._per_player(self.next_corrections[1], p) for p in self.params]
        self._refresh_corrections()

    @property
    def counts(self) -> torch.Tensor:
        """The number of updates each player has taken: (P,), or a scalar without players."""
        return self.state["step"][0]

    def _per_player(self, values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """(P,) per-player values as (P, 1, ..., 1), to broadcast over a stacked parameter."""
        return values if values.dim() == 0 else values.reshape(-1, *([1] * (like.dim() - 1)))

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor] | tuple[torch.Tensor, ...], frozen: torch.Tensor | None = None) -> None:
        """One update. ``frozen``, a (P,) bool mask over the player axis, leaves those players'
        parameters, optimiser state and step counts exactly as they were."""
        if frozen is None:
            self._update(list(grads))
            return
        if self.players is None:
            raise ValueError("a frozen update needs stacked players (Optimizer(..., players=P))")
        per_player = self.params + [t for ts in self.state.values() for t in ts]
        saved = [t.clone() for t in per_player]
        self._update(list(grads))
        for tensor, old in zip(per_player, saved):
            tensor.copy_(torch.where(self._per_player(frozen, tensor), old, tensor))
        self._refresh_corrections()

    def _update(self, grads: list[torch.Tensor]) -> None:
        name = self.settings.name
        if torch.compiler.is_compiling():
            {"adam": self._adam_compiled, "rmsprop": self._rmsprop_compiled, "sgd": self._sgd_compiled}[name](grads)
        else:
            {"adam": self._adam, "rmsprop": self._rmsprop, "sgd": self._sgd}[name](grads)

    # -- eager: torch._foreach operations ----------------------------------------------------------
    def _adam(self, grads) -> None:
        """torch.optim.Adam (amsgrad, weight decay and maximize off), per-player bias corrections:
        m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
        p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)."""
        s, m, v = self.settings, self.state["exp_avg"], self.state["exp_avg_sq"]
        torch._foreach_lerp_(m, grads, 1 - s.beta1)
        torch._foreach_mul_(v, s.beta2)
        torch._foreach_addcmul_(v, grads, grads, value=1 - s.beta2)
        denominator = torch._foreach_sqrt(v)
        torch._foreach_div_(denominator, self._root)
        torch._foreach_add_(denominator, s.eps)
        update = torch._foreach_div(m, denominator)
        torch._foreach_mul_(update, self._size)
        torch._foreach_sub_(self.params, update)
        self.counts.add_(1)
        self._refresh_corrections()

    def _rmsprop(self, grads) -> None:
        """torch.optim.RMSprop (no momentum, not centred), alpha = beta2:
        v <- alpha v + (1 - alpha) g^2;  p <- p - lr g / (sqrt(v) + eps)."""
        s, v = self.settings, self.state["square_avg"]
        torch._foreach_mul_(v, s.beta2)
        torch._foreach_addcmul_(v, grads, grads, value=1 - s.beta2)
        denominator = torch._foreach_sqrt(v)
        torch._foreach_add_(denominator, s.eps)
        torch._foreach_addcdiv_(self.params, grads, denominator, value=-s.lr)
        self.counts.add_(1)

    def _sgd(self, grads) -> None:
        """torch.optim.SGD (no dampening, not Nesterov): b <- momentum b + g;  p <- p - lr b."""
        s = self.settings
        if "momentum" in self.state:
            torch._foreach_mul_(self.state["momentum"], s.beta1)
            torch._foreach_add_(self.state["momentum"], grads)
            grads = self.state["momentum"]
        torch._foreach_add_(self.params, grads, alpha=-s.lr)
        self.counts.add_(1)

    @torch.no_grad()
    def _refresh_corrections(self) -> None:
        """Eagerly, from the counts."""
        if self.settings.name == "adam" and self.params:
            s = self.settings
            size, root = adam_corrections(self.counts.double() + 1, s.lr, s.beta1, s.beta2)
            self.next_corrections.copy_(torch.stack([size, root]))

    # -- compiled: written per tensor, settings read from ``hyper`` -------------------------------
    def _constants(self) -> list[torch.Tensor]:
        """lr, beta1, 1 - beta1, beta2, 1 - beta2, eps from ``hyper``, in the parameters' dtype (compiled)."""
        lr, beta1, beta2, eps = self.hyper.unbind()
        return list(torch.stack([lr, beta1, 1 - beta1, beta2, 1 - beta2, eps]).to(self.next_corrections.dtype).unbind())

    def _adam_compiled(self, grads: list[torch.Tensor]) -> None:
        """``_adam``'s formula."""
        st = self.state
        _, _, one_minus_beta1, beta2, one_minus_beta2, eps = self._constants()
        step_size, root_correction = self.next_corrections.unbind()
        for p, g, m, v in zip(self.params, grads, st["exp_avg"], st["exp_avg_sq"]):
            m.lerp_(g, one_minus_beta1)
            v.mul_(beta2).add_(one_minus_beta2 * g * g)
            denominator = v.sqrt() / self._per_player(root_correction, p) + eps
            p.sub_(m / denominator * self._per_player(step_size, p))
        count = self.counts.add_(1)
        self.next_corrections.copy_(torch.stack(adam_corrections(count.double() + 1, *self.hyper[:3].unbind())))

    def _rmsprop_compiled(self, grads: list[torch.Tensor]) -> None:
        """``_rmsprop``'s formula."""
        lr, _, _, alpha, one_minus_alpha, eps = self._constants()
        for p, g, v in zip(self.params, grads, self.state["square_avg"]):
            v.mul_(alpha).add_(one_minus_alpha * g * g)
            p.sub_(lr * g / (v.sqrt() + eps))
        self.counts.add_(1)

    def _sgd_compiled(self, grads: list[torch.Tensor]) -> None:
        """``_sgd``'s formula."""
        lr, momentum, _, _, _, _ = self._constants()
        for p, g, b in zip(self.params, grads, self.state.get("momentum", [None] * len(grads))):
            if b is not None:
                g = b.mul_(momentum).add_(g)
            p.sub_(lr * g)
        self.counts.add_(1)

    # -- checkpoints -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, list[torch.Tensor]]:
        return {name: [t.clone() for t in tensors] for name, tensors in self.state.items()}

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, list[torch.Tensor]]) -> None:
        if set(state) != set(self.state):
            raise ValueError(f"optimizer state has {sorted(state)}, expected {sorted(self.state)}")
        for name, tensors in self.state.items():
            if len(tensors) != len(state[name]):
                raise ValueError(f"optimizer state {name!r} holds {len(state[name])} tensors, expected {len(tensors)}")
            for mine, saved in zip(tensors, state[name]):
                if mine.shape != saved.shape:
                    raise ValueError(f"optimizer state {name!r} has shape {tuple(saved.shape)}, expected {tuple(mine.shape)}")
                mine.copy_(saved)
        self._refresh_corrections()
