"""The named data presets: synthetic distributions with exact parameters, and image data sets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gangames.config import DataConfig
from gangames.data import images, synthetic


@dataclass(frozen=True)
class Preset:
    """A named dataset with exact parameters; ``defaults`` fill the data config's ``None`` fields."""

    description: str
    build: Callable[[DataConfig], object]
    defaults: dict[str, float]
    kind: str = "vectors"  # vectors | images


PRESETS: dict[str, Preset] = {
    "ring8": Preset(
        "8 Gaussians at angles 2*pi*k/8 on a circle of radius 2, sigma 0.02 (Bid Picture, WGAN-GP toy)",
        lambda c: synthetic.GaussianMixture("ring8", synthetic.ring(8, c.radius), c.sigma),
        {"sigma": 0.02, "radius": 2.0},
    ),
    "ring8-pacgan": Preset(
        "8 Gaussians on a circle of radius 1, sigma 0.01 (PacGAN's 2-D ring)",
        lambda c: synthetic.GaussianMixture("ring8-pacgan", synthetic.ring(8, c.radius), c.sigma),
        {"sigma": 0.01, "radius": 1.0},
    ),
    "grid25": Preset(
        "25 Gaussians at {-4,-2,0,2,4}^2, sigma 0.05 (PacGAN's 2-D grid)",
        lambda c: synthetic.GaussianMixture("grid25", synthetic.grid([-4, -2, 0, 2, 4]), c.sigma),
        {"sigma": 0.05},
    ),
    "line-d": Preset(
        "a random line x = b* + s u*, s ~ N(0,1), in R^d with d = data.dim (Fedus et al.)",
        lambda c: synthetic.Line("line-d", *synthetic.random_line(c.dim, c.line_seed)),
        {},
    ),
    "swissroll": Preset(
        "2-D Swiss roll t (cos t, sin t) / 5, t uniform in [1.5 pi, 4.5 pi], sigma 0.05",
        lambda c: synthetic.SwissRoll("swissroll", c.sigma),
        {"sigma": 0.05},
    ),
    "digits": Preset("scikit-learn's 8x8 handwritten digits, 1797 images (embedded)",
                     lambda c: images.digits(c.split), {}, "images"),
    "fashion-mnist": Preset("Fashion-MNIST 28x28, 60k/10k images (Debian package dataset-fashion-mnist)",
                            lambda c: images.fashion_mnist(c.split), {}, "images"),
    "stacked-fashion-mnist": Preset("three independent Fashion-MNIST images as RGB channels: 1000 modes",
                                    lambda c: images.StackedDataset("stacked-fashion-mnist", images.fashion_mnist(c.split)),
                                    {}, "images"),
    "image-folder": Preset("every image file under data.path (resized to data.image_size)",
                           lambda c: images.user_images("image-folder", c.path, c.image_size, c.channels), {}, "images"),
    "array": Preset("images in a .npy/.npz file at data.path (keys images/x, labels/y)",
                    lambda c: images.user_images("array", c.path, c.image_size, c.channels), {}, "images"),
    "idx": Preset("an MNIST-style IDX file at data.path (labels read from the matching labels file)",
                  lambda c: images.user_images("idx", c.path, c.image_size, c.channels), {}, "images"),
    "cifar10": Preset("CIFAR-10's python batches in the folder data.path",
                      lambda c: images.user_images("cifar10", c.path, c.image_size, c.channels), {}, "images"),
}
