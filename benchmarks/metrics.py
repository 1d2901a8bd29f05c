"""Time of each metric at 2k and 10k samples per side (ring8 data, a half-collapsed "model").

    python benchmarks/metrics.py [--repeats 3]

Exact W1/W2 use at most eval.exact_max points (2000) per side, so at 10k they subsample to 2k.
Targets (issue #3): exact W2 on 2k vs 2k below 1 s; sliced W2 on 10k vs 10k below 0.5 s.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from gangames.config import EvalConfig
from gangames.data.synthetic import GaussianMixture, ring
from gangames.metrics.registry import METRICS, Context
from gangames.metrics.transport import exact_wasserstein, sliced_wasserstein

RING = GaussianMixture("ring8", ring(8, 2.0), 0.02)


def samples(n: int, seed: int, modes) -> np.ndarray:
    rng = np.random.default_rng(seed)
    which = rng.choice(modes, size=n)
    return RING.centres[which] + 0.05 * rng.standard_normal((n, 2))


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sizes = (2000, 10000)
    data = {n: (samples(n, 1, [0, 1, 2, 3]), samples(n, 2, range(8))) for n in sizes}
    print(f"{'metric':<22}" + "".join(f"{f'{n} samples':>14}" for n in sizes) + "   (seconds, median)")
    for name in METRICS:
        if name == "line":
            continue
        row = f"{name:<22}"
        for n in sizes:
            ctx = Context(data[n][0], data[n][1], RING, EvalConfig())
            row += f"{timed(lambda: METRICS[name].compute(ctx), args.repeats):>14.3f}"
        print(row, flush=True)
    row = f"{'exact W2 (2k, direct)':<22}{timed(lambda: exact_wasserstein(*data[2000], p=2), args.repeats):>14.3f}"
    print(row + f"{'-':>14}")
    row = f"{'sliced W2 (direct)':<22}"
    for n in sizes:
        row += f"{timed(lambda: sliced_wasserstein(*data[n]), args.repeats):>14.3f}"
    print(row)


if __name__ == "__main__":
    main()
