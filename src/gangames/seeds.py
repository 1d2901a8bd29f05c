"""Every random stream of a run, derived from its seed by a key: one place that hands out the keys.

    run.seed   STREAM (0)       the trainer's stream: minibatches, latents, penalty noise
               PLAYERS (1)      player p's seed: derive_seed(seed, PLAYERS, p); its networks are
                                derive_seed(player_seed, GENERATOR_INIT) and (.., DISCRIMINATOR_INIT)
               SNAPSHOT (2)     the fixed latents of the sample snapshots
               AUCTION (5)      the auction's lots and alignment batches
    eval.seed  EVAL_LATENT (3)  the evaluation's latents
               EVAL_REAL (4)    the evaluation's real reference samples

Streams with their own keys never consume each other's numbers: two runs that differ only in
whether the auctions happen draw the same minibatches in every step (docs/auction.md).
"""

from __future__ import annotations

import numpy as np

STREAM, PLAYERS, SNAPSHOT, EVAL_LATENT, EVAL_REAL, AUCTION = 0, 1, 2, 3, 4, 5
GENERATOR_INIT, DISCRIMINATOR_INIT = 1, 2


def derive_seed(*keys: int) -> int:
    """A 64-bit seed derived from integer keys (NumPy's SeedSequence: well mixed, stable across versions)."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1, dtype=np.uint64)[0])


def player_seeds(seed: int, count: int) -> list[int]:
    """The seeds of a run's players: pair p of run ``seed`` is the same in every game and run size."""
    return [derive_seed(seed, PLAYERS, p) for p in range(count)]
