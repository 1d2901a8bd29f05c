"""Small classifiers this project trains itself, as offline feature extractors for image metrics.

``python -m gangames.metrics.classifiers digits|fashion`` retrains one and rewrites its weights
(src/gangames/metrics/weights/), printing the held-out test accuracy. Seeded, CPU, minutes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

WEIGHTS = Path(__file__).parent / "weights"


class DigitsNet(nn.Module):
    """8x8 grey digits: conv 32 - conv 64 - pool - 128 features - 10 classes."""

    channels, size, classes = 1, 8, 10

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc = nn.Linear(64 * 4 * 4, 128)
        self.out = nn.Linear(128, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return F.relu(self.fc(x.flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x))


class FashionNet(nn.Module):
    """28x28 grey images: conv 32 - pool - conv 64 - pool - 128 features - 10 classes."""

    channels, size, classes = 1, 28, 10

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(64 * 7 * 7, 128)
        self.out = nn.Linear(128, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return F.relu(self.fc(self.drop(x.flatten(1))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(self.features(x)))


NETS = {"digits": (DigitsNet, "digits-cnn.pt", 60), "fashion": (FashionNet, "fashion-cnn.pt", 6)}


def load_data(which: str, split: str):
    from gangames.data import images

    return images.digits(split) if which == "digits" else images.fashion_mnist(split)


@torch.no_grad()
def accuracy(net: nn.Module, data) -> float:
    net.eval()
    correct = 0
    for start in range(0, len(data.images), 2000):
        logits = net(data.images[start:start + 2000])
        correct += int((logits.argmax(1) == data.labels[start:start + 2000]).sum())
    return correct / len(data.images)


def train(which: str, seed: int = 0, epochs: int | None = None) -> tuple[nn.Module, float]:
    cls, _, default_epochs = NETS[which]
    torch.manual_seed(seed)
    train_data, test_data = load_data(which, "train"), load_data(which, "test")
    net = cls()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs or default_epochs):
        net.train()
        order = torch.randperm(len(train_data.images), generator=generator)
        for start in range(0, len(order), 128):
            batch = order[start:start + 128]
            x = train_data.images[batch]
            if which == "digits":  # small shifts: 1797 images are few
                x = torch.roll(x, shifts=tuple(torch.randint(-1, 2, (2,), generator=generator).tolist()), dims=(2, 3))
            loss = F.cross_entropy(net(x), train_data.labels[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval(), accuracy(net, test_data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("which", choices=sorted(NETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    start = time.perf_counter()
    net, acc = train(args.which, args.seed, args.epochs)
    WEIGHTS.mkdir(exist_ok=True)
    path = WEIGHTS / NETS[args.which][1]
    torch.save(net.state_dict(), path)
    print(f"{args.which}: test accuracy {acc:.4f} after {time.perf_counter() - start:.0f} s; wrote {path}")


if __name__ == "__main__":
    main()
