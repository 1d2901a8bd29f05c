"""An exponential moving average of the generator's parameters (Karras et al. 2018; Yazıcı et al. 2019).

After every training step, for every (stacked) parameter p and its average a:

    a <- beta a + (1 - beta) p,   beta = generator.ema
                                  (with generator.ema_rampup: beta_t = min(beta, (1 + t) / (10 + t)))

starting from a = p at initialisation. The average lives beside the players, is saved in every
checkpoint (like an optimiser's state) and is what sampling and evaluation use when it is on:
``swapped()`` puts it in the generator's place and puts the trained weights back bit for bit.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn


class ParameterEMA:
    def __init__(self, module: nn.Module, decay: float, rampup: bool = False):
        self.params = list(module.parameters())
        self.average = [p.detach().clone() for p in self.params]
        like = self.params[0]
        # Updates so far, and the decay (a graph input, not a constant). Shape (1,), not 0-d: torch
        # 2.13's compiler takes a 0-d float64 tensor for a Python float. It silently dropped an
        # in-place write to the count (which stayed 0, so the ramp-up's decay stuck at 2/11 in every
        # compiled run; tests/test_compile.py checks the compiled average against eager), and a 0-d
        # decay made it trace the whole step twice (docs/speed.md).
        self.count = torch.zeros(1, dtype=torch.float64, device=like.device)
        self.decay = torch.full((1,), float(decay), dtype=torch.float64, device=like.device)
        self.rampup = rampup

    @property
    def counts(self) -> torch.Tensor:
        return self.count

    def beta(self) -> torch.Tensor:
        """This update's decay (float64, shape (1,))."""
        if not self.rampup:
            return self.decay
        t = self.count + 1
        return torch.minimum(self.decay, (1 + t) / (10 + t))

    @torch.no_grad()
    def update(self) -> None:
        weight = (1 - self.beta()).to(self.average[0].dtype)
        for a, p in zip(self.average, self.params):
            a.lerp_(p, weight)
        self.count.add_(1)

    @contextlib.contextmanager
    def swapped(self):
        """The averaged weights in the generator's parameters for the duration; restored exactly after."""
        with torch.no_grad():
            trained = [p.detach().clone() for p in self.params]
            for p, a in zip(self.params, self.average):
                p.copy_(a)
        try:
            yield
        finally:
            with torch.no_grad():
                for p, t in zip(self.params, trained):
                    p.copy_(t)

    def state_dict(self) -> dict[str, list[torch.Tensor]]:
        return {"average": [a.clone() for a in self.average], "count": [self.count.clone()]}

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, list[torch.Tensor]]) -> None:
        if set(state) != {"average", "count"} or len(state["average"]) != len(self.average):
            raise ValueError("the checkpoint's generator average does not match this generator")
        for mine, saved in zip(self.average, state["average"]):
            mine.copy_(saved)
        self.count.copy_(state["count"][0])  # (a 0-d count of earlier checkpoints broadcasts)
