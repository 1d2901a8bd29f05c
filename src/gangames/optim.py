"""Optimisers whose state is plain tensors, updated with ``torch.optim``'s functional API.

Why not ``torch.optim.Adam`` objects: a whole game step (several gradient computations and
updates) must compile as one graph, and its state must be checkpointed exactly. The update rules
are torch's own (``torch.optim.adam.adam`` and friends), so the numbers are those of torch.optim.
Every rule here is elementwise, so one optimiser over stacked (P, ...) parameters is P independent
optimisers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.optim.adam import adam
from torch.optim.rmsprop import rmsprop
from torch.optim.sgd import sgd

from gangames.errors import pick

OPTIMIZERS = ("adam", "rmsprop", "sgd")


@dataclass(frozen=True)
class OptimizerSettings:
    name: str = "adam"
    lr: float = 1e-4
    beta1: float = 0.5  # Adam's beta1; SGD's momentum; unused by RMSprop
    beta2: float = 0.999  # Adam's beta2; RMSprop's smoothing constant alpha
    eps: float = 1e-8


class Optimizer:
    def __init__(self, params: list[torch.Tensor], settings: OptimizerSettings):
        pick("optimizer", settings.name, OPTIMIZERS)
        self.params = list(params)
        self.settings = settings
        self.state: dict[str, list[torch.Tensor]] = {"step": [torch.zeros((), device=p.device) for p in self.params]}
        if settings.name == "adam":
            self.state["exp_avg"] = [torch.zeros_like(p) for p in self.params]
            self.state["exp_avg_sq"] = [torch.zeros_like(p) for p in self.params]
        elif settings.name == "rmsprop":
            self.state["square_avg"] = [torch.zeros_like(p) for p in self.params]
        elif settings.beta1 > 0:
            self.state["momentum"] = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor] | tuple[torch.Tensor, ...], frozen: torch.Tensor | None = None) -> None:
        """One update. ``frozen``, a (P,) bool mask over the player axis, keeps those players'
        parameters and optimiser state exactly as they were (the shared step count still advances)."""
        if frozen is None:
            self._update(grads)
            return
        per_player = self.params + [t for name, ts in self.state.items() if name != "step" for t in ts]
        saved = [t.clone() for t in per_player]
        self._update(grads)
        for tensor, old in zip(per_player, saved):
            mask = frozen.reshape(-1, *([1] * (tensor.dim() - 1)))
            tensor.copy_(torch.where(mask, old, tensor))

    def _update(self, grads) -> None:
        s, st = self.settings, self.state
        # The multi-tensor kernels are faster in eager mode; the compiler fuses the plain loop itself.
        foreach = not torch.compiler.is_compiling()
        grads = list(grads)
        if s.name == "adam":
            adam(self.params, grads, st["exp_avg"], st["exp_avg_sq"], [], st["step"], foreach=foreach,
                 amsgrad=False, beta1=s.beta1, beta2=s.beta2, lr=s.lr, weight_decay=0.0, eps=s.eps,
                 maximize=False)
        elif s.name == "rmsprop":
            rmsprop(self.params, grads, st["square_avg"], [], [], st["step"], foreach=foreach,
                    lr=s.lr, alpha=s.beta2, eps=s.eps, weight_decay=0.0, momentum=0.0, centered=False)
        else:
            for count in st["step"]:
                count += 1
            sgd(self.params, grads, st.get("momentum", [None] * len(grads)), foreach=foreach,
                weight_decay=0.0, momentum=s.beta1, lr=s.lr, dampening=0.0, nesterov=False, maximize=False)

    def state_dict(self) -> dict[str, list[torch.Tensor]]:
        return {name: [t.clone() for t in tensors] for name, tensors in self.state.items()}

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, list[torch.Tensor]]) -> None:
        if set(state) != set(self.state):
            raise ValueError(f"optimizer state has {sorted(state)}, expected {sorted(self.state)}")
        for name, tensors in self.state.items():
            for mine, saved in zip(tensors, state[name], strict=True):
                mine.copy_(saved)
