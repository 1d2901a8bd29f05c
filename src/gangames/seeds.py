"""Every random stream of a run, derived from its seed by a key: one place that hands out the keys.

    run.seed   DATA (0)         real minibatches (and their labels)
               LATENT (6)       latents z (and a conditional game's requested labels)
               NOISE (7)        everything else random in a step: penalty points, DiffAugment
               PLAYERS (1)      player p's seed: derive_seed(seed, PLAYERS, p); its networks are
                                derive_seed(player_seed, GENERATOR_INIT) and (.., DISCRIMINATOR_INIT)
               SNAPSHOT (2)     the fixed latents of the sample snapshots
               AUCTION (5)      the auction's lots and alignment batches
    eval.seed  EVAL_LATENT (3)  the evaluation's latents
               EVAL_REAL (4)    the evaluation's real reference samples

Streams with their own keys never consume each other's numbers: two runs that differ only in
whether the auctions happen draw the same minibatches in every step (docs/auction.md), and two
games of the same seed and the same number of critic steps (ns and gan-gp, wgan-gp and robust-w)
train on the same minibatches and latents whatever noise their penalties draw (docs/report.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

DATA, PLAYERS, SNAPSHOT, EVAL_LATENT, EVAL_REAL, AUCTION, LATENT, NOISE = 0, 1, 2, 3, 4, 5, 6, 7
GENERATOR_INIT, DISCRIMINATOR_INIT = 1, 2


@dataclass
class Streams:
    """The three random streams a game's ``draw`` reads: real data, latents, and noise."""

    data: torch.Generator
    latent: torch.Generator
    noise: torch.Generator

    @classmethod
    def of(cls, rng: "Streams | torch.Generator") -> "Streams":
        """A single generator serves as all three (tests, and one-off draws)."""
        return rng if isinstance(rng, Streams) else cls(rng, rng, rng)

    @classmethod
    def for_run(cls, seed: int, device) -> "Streams":
        make = lambda key: torch.Generator(device=device).manual_seed(derive_seed(seed, key))  # noqa: E731
        return cls(make(DATA), make(LATENT), make(NOISE))

    @property
    def device(self) -> torch.device:
        return self.data.device

    def state(self) -> dict[str, torch.Tensor]:
        return {"data": self.data.get_state(), "latent": self.latent.get_state(), "noise": self.noise.get_state()}

    def load(self, state: dict[str, torch.Tensor]) -> None:
        for name in ("data", "latent", "noise"):
            getattr(self, name).set_state(state[name])


def derive_seed(*keys: int) -> int:
    """A 64-bit seed derived from integer keys (NumPy's SeedSequence: well mixed, stable across versions)."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1, dtype=np.uint64)[0])


def player_seeds(seed: int, count: int) -> list[int]:
    """The seeds of a run's players: pair p of run ``seed`` is the same in every game and run size."""
    return [derive_seed(seed, PLAYERS, p) for p in range(count)]
