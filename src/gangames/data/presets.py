"""The named data presets: synthetic distributions with exact parameters, and image data sets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gangames.config import DataConfig
from gangames.data import images, synthetic, vectors
from gangames.errors import DataError
from gangames.plugins import remember_origin


@dataclass(frozen=True)
class Preset:
    """A named dataset. ``defaults`` fill the data config's ``None`` fields (sigma, radius); ``kind``
    is ``vectors`` or ``images``, or a function of the data config for files that may hold either;
    ``nets`` name the default net of a role where it is not the kind's (line-d: the affine line)."""

    description: str
    build: Callable[[DataConfig], object]
    defaults: dict[str, float] = field(default_factory=dict)
    kind: str | Callable[[DataConfig], str] = "vectors"
    nets: dict[str, str] = field(default_factory=dict)
    standardizes: bool = False  # data.standardize applies (vectors from the user's files)
    profile: str = ""  # the kind of data whose tuned defaults its games play (gangames/defaults.py); "": none

    def kind_of(self, data: DataConfig) -> str:
        return self.kind(data) if callable(self.kind) else self.kind


def _user_path(data: DataConfig, kind: str) -> Path:
    if not data.path:
        raise DataError(f"data preset {kind!r} reads your files: set data.path (e.g. --set data.path=/data/x)")
    path = Path(data.path).expanduser()
    if not path.exists():
        raise DataError(f"data.path {path} does not exist")
    return path


def _array_kind(data: DataConfig) -> str:
    """A 2-D array is vectors (N, d); 3-D and 4-D arrays are images."""
    return "vectors" if images.array_ndim(_user_path(data, "array")) == 2 else "images"


def _array(data: DataConfig):
    path = _user_path(data, "array")
    array, labels = images.read_array(path)
    if array.ndim == 2:
        return vectors.vectors_from(array, str(path), path.stem, data.standardize, labels)
    _no_standardize(data, "array of images")
    return images.user_images("array", data.path, data.image_size, data.channels)


def _csv(data: DataConfig):
    path = _user_path(data, "csv")
    return vectors.vectors_from(vectors.read_csv(path), str(path), path.stem, data.standardize)


def _no_standardize(data: DataConfig, what: str) -> None:
    if data.standardize:
        raise DataError(f"data.standardize applies to vectors; an {what} is scaled to [-1, 1] already")


def _images(kind: str):
    def build(c: DataConfig):
        _no_standardize(c, "image data set")
        return images.user_images(kind, c.path, c.image_size, c.channels)
    return build


PRESETS: dict[str, Preset] = {
    "ring8": Preset(
        "8 Gaussians at angles 2*pi*k/8 on a circle of radius 2, sigma 0.02 (Bid Picture, WGAN-GP toy)",
        lambda c: synthetic.GaussianMixture("ring8", synthetic.ring(8, c.radius), c.sigma),
        {"sigma": 0.02, "radius": 2.0}, profile="mixture",
    ),
    "ring8-pacgan": Preset(
        "8 Gaussians on a circle of radius 1, sigma 0.01 (PacGAN's 2-D ring)",
        lambda c: synthetic.GaussianMixture("ring8-pacgan", synthetic.ring(8, c.radius), c.sigma),
        {"sigma": 0.01, "radius": 1.0}, profile="mixture",
    ),
    "grid25": Preset(
        "25 Gaussians at {-4,-2,0,2,4}^2, sigma 0.05 (PacGAN's 2-D grid)",
        lambda c: synthetic.GaussianMixture("grid25", synthetic.grid([-4, -2, 0, 2, 4]), c.sigma),
        {"sigma": 0.05}, profile="mixture",
    ),
    "line-d": Preset(
        "a random line x = b* + s u*, s ~ N(0,1), in R^d with d = data.dim (Fedus et al.)",
        lambda c: synthetic.Line("line-d", *synthetic.random_line(c.dim, c.line_seed)),
        nets={"generator": "line"},
    ),
    "swissroll": Preset(
        "2-D Swiss roll t (cos t, sin t) / 5, t uniform in [1.5 pi, 4.5 pi], sigma 0.05",
        lambda c: synthetic.SwissRoll("swissroll", c.sigma),
        {"sigma": 0.05},
    ),
    "digits": Preset("scikit-learn's 8x8 handwritten digits, 1797 images (embedded)",
                     lambda c: images.digits(c.split), kind="images", profile="images"),
    "fashion-mnist": Preset("Fashion-MNIST 28x28, 60k/10k images (Debian package dataset-fashion-mnist)",
                            lambda c: images.fashion_mnist(c.split), kind="images"),
    "stacked-fashion-mnist": Preset("three independent Fashion-MNIST images as RGB channels: 1000 modes",
                                    lambda c: images.StackedDataset("stacked-fashion-mnist", images.fashion_mnist(c.split)),
                                    kind="images"),
    "image-folder": Preset("every image file under data.path (resized to data.image_size)", _images("image-folder"),
                           kind="images"),
    "array": Preset("a .npy/.npz file at data.path (keys images/x, labels/y): vectors (N, d), or images", _array,
                    kind=_array_kind, standardizes=True),
    "csv": Preset("vectors from a CSV file at data.path: numeric columns, one sample per row, optional header row",
                  _csv, standardizes=True),
    "idx": Preset("an MNIST-style IDX file at data.path (labels read from the matching labels file)", _images("idx"),
                  kind="images"),
    "cifar10": Preset("CIFAR-10's python batches in the folder data.path", _images("cifar10"), kind="images"),
}
BUILTIN = frozenset(PRESETS)


def register_data(name: str, preset: Preset) -> Preset:
    """Add a data set by name (``data.preset = name``); its builder takes the [data] section and
    returns an object with ``kind``, ``sample_shape``, ``sample(n, generator)`` (and ``dim`` for
    vectors, ``shape`` for images)."""
    if name in BUILTIN:
        raise DataError(f"data preset {name!r} is built in; register yours under another name")
    PRESETS[name] = preset
    remember_origin("data", name)
    return preset


def to_data_space(data, samples):
    """Samples of the players' space in the data's own units (differs for standardised vectors)."""
    convert = getattr(data, "to_data_space", None)
    return convert(samples) if convert is not None else samples


def data_info(data) -> dict:
    """What a report needs to know of a run's data without building it: its kind and sample shape,
    a mixture's centres and sigma (for density contours), a standardisation's statistics."""
    info = {"kind": data.kind, "sample_shape": list(data.sample_shape)}
    if getattr(data, "centres", None) is not None and getattr(data, "sigma", None) is not None:
        info["mixture"] = {"centres": data.centres.tolist(), "sigma": float(data.sigma)}
    if getattr(data, "shift", None) is not None:
        info["standardized"] = {"shift": data.shift.tolist(), "scale": data.scale.tolist()}
    return info
