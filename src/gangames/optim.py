"""Optimisers whose state is plain tensors, updated with ``torch.optim``'s functional API.

Why not ``torch.optim.Adam`` objects: a whole game step (several gradient computations and
updates) must compile as one graph, and its state must be checkpointed exactly. Eagerly the update
rules are torch's own (``torch.optim.adam.adam`` and friends; Adam's fused kernel), so the numbers
are those of torch.optim. Every rule here is elementwise, so one optimiser over stacked (P, ...)
parameters is P independent optimisers.

Compiled, every rule is written out (torch.optim's formulas) with its settings read from a tensor,
``hyper``: a Python float would be a constant of the compiled graph, so every new learning rate or
beta of a sweep would compile the whole game step again (40-150 s on 2 cores); as a tensor it is an
input, and one graph serves them all. Adam's bias corrections 1 - beta^t are computed once per
update, one update ahead, into a two-element buffer the loop only reads: inlined, the C++ compiler
evaluated both powers again for each vector of 16 floats (about half of an update's time).
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
        # The settings as the compiled update reads them: in float64, so that 1 - beta and the bias
        # corrections round to the parameters' dtype as torch.optim's Python floats do.
        self.hyper = torch.tensor([settings.lr, settings.beta1, settings.beta2, settings.eps],
                                  dtype=torch.float64, device=like.device)
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
        grads = list(grads)
        if torch.compiler.is_compiling():
            {"adam": self._adam_compiled, "rmsprop": self._rmsprop_compiled, "sgd": self._sgd_compiled}[s.name](grads)
        elif s.name == "adam":
            # torch 2.13's fused CPU kernel reads a non-contiguous gradient (autograd.grad returns
            # transposed ones) in memory order, updating the wrong elements: give it contiguous ones.
            grads = [g.contiguous() for g in grads]
            adam(self.params, grads, st["exp_avg"], st["exp_avg_sq"], [], st["step"], fused=True,
                 amsgrad=False, beta1=s.beta1, beta2=s.beta2, lr=s.lr, weight_decay=0.0, eps=s.eps,
                 maximize=False)
            self._refresh_corrections()
        elif s.name == "rmsprop":
            rmsprop(self.params, grads, st["square_avg"], [], [], st["step"], foreach=True,
                    lr=s.lr, alpha=s.beta2, eps=s.eps, weight_decay=0.0, momentum=0.0, centered=False)
        else:
            self._count_step()
            sgd(self.params, grads, st.get("momentum", [None] * len(grads)), foreach=True,
                weight_decay=0.0, momentum=s.beta1, lr=s.lr, dampening=0.0, nesterov=False, maximize=False)

    @staticmethod
    def _corrections(t, lr, beta1, beta2):
        """Adam's step size and square-rooted second bias correction for update number ``t`` (Python
        floats eagerly, as torch.optim.Adam computes them; float64 tensors inside the compiled step)."""
        return lr / (1 - beta1**t), (1 - beta2**t) ** 0.5

    @torch.no_grad()
    def _refresh_corrections(self) -> None:
        """Eagerly, from one read of the step count."""
        if self.settings.name == "adam" and self.params:
            s = self.settings
            corrections = self._corrections(float(self.state["step"][0]) + 1, s.lr, s.beta1, s.beta2)
            self.next_corrections.copy_(torch.tensor(corrections, dtype=self.next_corrections.dtype))

    def _constants(self) -> list[torch.Tensor]:
        """lr, beta1, 1 - beta1, beta2, 1 - beta2, eps from ``hyper``, in the parameters' dtype (compiled)."""
        lr, beta1, beta2, eps = self.hyper.unbind()
        return list(torch.stack([lr, beta1, 1 - beta1, beta2, 1 - beta2, eps]).to(self.next_corrections.dtype).unbind())

    def _count_step(self) -> torch.Tensor:
        """Advance the shared step count; returns the new count."""
        count = self.state["step"][0] + 1
        for t in self.state["step"]:
            t.copy_(count)
        return count

    def _adam_compiled(self, grads: list[torch.Tensor]) -> None:
        """torch.optim.Adam's update (amsgrad, weight decay and maximize off):
        m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
        p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)."""
        st = self.state
        _, _, one_minus_beta1, beta2, one_minus_beta2, eps = self._constants()
        step_size, root_correction = self.next_corrections.unbind()
        for p, g, m, v in zip(self.params, grads, st["exp_avg"], st["exp_avg_sq"]):
            m.lerp_(g, one_minus_beta1)
            v.mul_(beta2).add_(one_minus_beta2 * g * g)
            p.sub_(step_size * m / (v.sqrt() / root_correction + eps))
        count = self._count_step()
        self.next_corrections.copy_(torch.stack(self._corrections(count.double() + 1, *self.hyper[:3].unbind())))

    def _rmsprop_compiled(self, grads: list[torch.Tensor]) -> None:
        """torch.optim.RMSprop's update (no momentum, not centred), alpha = beta2:
        v <- alpha v + (1 - alpha) g^2;  p <- p - lr g / (sqrt(v) + eps)."""
        lr, _, _, alpha, one_minus_alpha, eps = self._constants()
        for p, g, v in zip(self.params, grads, self.state["square_avg"]):
            v.mul_(alpha).add_(one_minus_alpha * g * g)
            p.sub_(lr * g / (v.sqrt() + eps))
        self._count_step()

    def _sgd_compiled(self, grads: list[torch.Tensor]) -> None:
        """torch.optim.SGD's update (no dampening, not Nesterov): b <- momentum b + g;  p <- p - lr b."""
        lr, momentum, _, _, _, _ = self._constants()
        self._count_step()
        for p, g, b in zip(self.params, grads, self.state.get("momentum", [None] * len(grads))):
            if b is not None:
                g = b.mul_(momentum).add_(g)
            p.sub_(lr * g)

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
