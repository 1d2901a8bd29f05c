"""Your own generator and critic (plain nn.Modules) on your own data, in three games, compared.

    python examples/own_networks.py            # about 4 minutes on 2 cores
    python examples/own_networks.py --quick    # a few seconds (what CI runs)

The data: scikit-learn's two moons (any (N, d) array would do). The players: a residual MLP
generator and a critic with a LayerNorm trunk, written as ordinary PyTorch modules. gangames builds
N copies of each, one per pair and seed, each from its own seed, and plays them as one batched
computation; the critic offers ``features`` and ``score_features``, so the robust game can move
its features (robust.mode = "feature").
"""

import argparse

import torch
from sklearn.datasets import make_moons
from torch import nn

import gangames


class Generator(nn.Module):
    """z (B, 8) -> x (B, 2)."""

    def __init__(self, latent: int = 8, width: int = 64):
        super().__init__()
        self.inp = nn.Linear(latent, width)
        self.block = nn.Sequential(nn.SiLU(), nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.out = nn.Sequential(nn.SiLU(), nn.Linear(width, 2))

    def forward(self, z):
        h = self.inp(z)
        return self.out(h + self.block(h))


class Critic(nn.Module):
    """x (B, 2) -> score (B, 1); trunk and head split for the robust game's feature mode."""

    def __init__(self, width: int = 64):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(2, width), nn.LayerNorm(width), nn.LeakyReLU(0.2),
                                   nn.Linear(width, width), nn.LeakyReLU(0.2))
        self.head = nn.Sequential(nn.Linear(width, width), nn.LeakyReLU(0.2), nn.Linear(width, 1))

    def features(self, x):
        return self.trunk(x)

    def score_features(self, h):
        return self.head(h)

    def forward(self, x):
        return self.head(self.trunk(x))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="toy size: a few steps, one seed")
    parser.add_argument("--out", default="runs/own-networks")
    args = parser.parse_args()
    steps, seeds = (30, 1) if args.quick else (3000, 2)
    moons, _ = make_moons(4000, noise=0.05, random_state=0)

    config = {"generator": {"latent_dim": 8, "lr": 5e-4, "beta1": 0.5, "beta2": 0.9},
              "discriminator": {"lr": 5e-4, "beta1": 0.5, "beta2": 0.9},
              "data": {"batch_size": 128, "standardize": True},
              "game": {"penalty_weight": 0.1},
              "robust": {"mode": "feature", "warmup": steps // 5},
              "auction": {"players": 4, "aux_steps": 20},
              "eval": {"samples": 1000}}
    comparison = gangames.compare(["ns", "wgan-gp", "robust-w", "auction"], data=moons, seeds=seeds, steps=steps,
                                  generator=Generator, discriminator=Critic, config=config, out=args.out,
                                  on_done=lambda o: print(f"  {o.status:<9} {o.name}"))
    for run in comparison.runs:
        metrics = run.eval["metrics"]
        print(f"{run.path}: W2 {metrics['w2']:.3f}, sliced W2 {metrics['sliced_w2']:.3f}")
    print(f"report: {comparison.report}")
    samples = comparison.runs[0].sample(5)
    print(f"five samples of {comparison.runs[0].path}, in the data's units:\n{samples}")


if __name__ == "__main__":
    main()
