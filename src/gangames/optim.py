"""Optimisers whose state is plain tensors, updated with ``torch.optim``'s functional API.

Why not ``torch.optim.Adam`` objects: a whole game step (several gradient computations and
updates) must compile as one graph, and its state must be checkpointed exactly. Eagerly the update
rules are torch's own (``torch.optim.adam.adam`` and friends; Adam's fused kernel), so the numbers
are those of torch.optim. Every rule here is elementwise, so one optimiser over stacked (P, ...)
parameters is P independent optimisers.

Compiled, Adam is written out (same formula as torch.optim's) for one reason: the compiler inlines
the bias corrections 1 - beta^t into every parameter's elementwise loop, where the C++ compiler
must evaluate both powers again for each vector of 16 floats (about half of an update's time). Here
they are computed once per update, one update ahead, into a two-element buffer the loop only reads.
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
        # Adam's [lr / (1 - beta1^t), sqrt(1 - beta2^t)] for the next update t; derived from the step
        # count (not saved: load_state_dict recomputes it).
        like = self.params[0] if self.params else torch.zeros(())
        self.next_corrections = torch.zeros(2, dtype=like.dtype, device=like.device)
        self._refresh_corrections()

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
        compiling = torch.compiler.is_compiling()
        foreach = not compiling
        grads = list(grads)
        if s.name == "adam" and compiling:
            self._adam_compiled(grads)
        elif s.name == "adam":
            # torch 2.13's fused CPU kernel reads a non-contiguous gradient (autograd.grad returns
            # transposed ones) in memory order, updating the wrong elements: give it contiguous ones.
            grads = [g.contiguous() for g in grads]
            adam(self.params, grads, st["exp_avg"], st["exp_avg_sq"], [], st["step"], fused=True,
                 amsgrad=False, beta1=s.beta1, beta2=s.beta2, lr=s.lr, weight_decay=0.0, eps=s.eps,
                 maximize=False)
            self._refresh_corrections()
        elif s.name == "rmsprop":
            rmsprop(self.params, grads, st["square_avg"], [], [], st["step"], foreach=foreach,
                    lr=s.lr, alpha=s.beta2, eps=s.eps, weight_decay=0.0, momentum=0.0, centered=False)
        else:
            for count in st["step"]:
                count += 1
            sgd(self.params, grads, st.get("momentum", [None] * len(grads)), foreach=foreach,
                weight_decay=0.0, momentum=s.beta1, lr=s.lr, dampening=0.0, nesterov=False, maximize=False)

    def _corrections(self, t):
        """Adam's step size and square-rooted second bias correction for update number ``t`` (a
        Python float eagerly, as torch.optim.Adam computes them; a tensor inside the compiled step)."""
        s = self.settings
        return s.lr / (1 - s.beta1**t), (1 - s.beta2**t) ** 0.5

    @torch.no_grad()
    def _refresh_corrections(self) -> None:
        """Eagerly, from one read of the step count."""
        if self.settings.name == "adam" and self.params:
            corrections = self._corrections(float(self.state["step"][0]) + 1)
            self.next_corrections.copy_(torch.tensor(corrections, dtype=self.next_corrections.dtype))

    def _adam_compiled(self, grads: list[torch.Tensor]) -> None:
        """torch.optim.Adam's update (amsgrad, weight decay and maximize off):
        m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
        p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)."""
        s, st = self.settings, self.state
        step_size, root_correction = self.next_corrections.unbind()
        for p, g, m, v in zip(self.params, grads, st["exp_avg"], st["exp_avg_sq"]):
            m.lerp_(g, 1 - s.beta1)
            v.mul_(s.beta2).addcmul_(g, g, value=1 - s.beta2)
            p.sub_(step_size * m / (v.sqrt() / root_correction + s.eps))
        count = st["step"][0] + 1
        for t in st["step"]:
            t.copy_(count)
        self.next_corrections.copy_(torch.stack(self._corrections(count.to(self.next_corrections) + 1)))

    def state_dict(self) -> dict[str, list[torch.Tensor]]:
        return {name: [t.clone() for t in tensors] for name, tensors in self.state.items()}

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, list[torch.Tensor]]) -> None:
        if set(state) != set(self.state):
            raise ValueError(f"optimizer state has {sorted(state)}, expected {sorted(self.state)}")
        for name, tensors in self.state.items():
            for mine, saved in zip(tensors, state[name], strict=True):
                mine.copy_(saved)
        self._refresh_corrections()
