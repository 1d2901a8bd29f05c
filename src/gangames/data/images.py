"""Image data offline: embedded digits, Fashion-MNIST from Debian, Stacked Fashion-MNIST, and readers
for what a user has on disk (an image folder, .npy/.npz arrays, MNIST-style IDX files, CIFAR-10's
python batches). Images are float32 in [-1, 1], shape (C, H, W). Nothing is downloaded.
"""

from __future__ import annotations

import gzip
import pickle
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gangames.errors import DataError

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_INSTALL = "sudo apt-get install dataset-fashion-mnist  (Debian/Ubuntu; files under /usr/share/datasets/fashion-mnist/)"
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


@dataclass(frozen=True)
class ImageDataset:
    """Images (N, C, H, W) in [-1, 1], optional integer labels; samples are drawn with replacement."""

    name: str
    images: torch.Tensor
    labels: torch.Tensor | None = None
    split: str = "train"
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    kind = "images"

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    sample_shape = shape

    def __len__(self) -> int:
        return len(self.images)

    def _on(self, device: torch.device) -> torch.Tensor:
        key = str(device)
        if key not in self._cache:
            self._cache[key] = self.images.to(device)
        return self._cache[key]

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        index = torch.randint(len(self.images), (n,), generator=generator, device=generator.device)
        return self._on(generator.device)[index]

    @property
    def classes(self) -> int | None:
        return None if self.labels is None else int(self.labels.max()) + 1

    def sample_with_labels(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """The same draws as ``sample``, with each image's label."""
        index = torch.randint(len(self.images), (n,), generator=generator, device=generator.device)
        return self._on(generator.device)[index], self.labels.to(generator.device)[index]


@dataclass(frozen=True)
class StackedDataset:
    """Stacked-MNIST style: three independently drawn grey images as the three channels.

    With 10 classes per channel there are 1000 modes; a sample's mode is 100 c1 + 10 c2 + c3.
    """

    name: str
    base: ImageDataset
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    kind = "images"

    @property
    def shape(self) -> tuple[int, int, int]:
        return (3, *self.base.shape[1:])

    sample_shape = shape

    @property
    def labels(self):
        return self.base.labels

    split = property(lambda self: self.base.split)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return self.sample_with_modes(n, generator)[0]

    @property
    def classes(self) -> int | None:
        """Conditioned on its modes: 1000 classes (100 c1 + 10 c2 + c3)."""
        return None if self.base.labels is None else 1000

    def sample_with_labels(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return self.sample_with_modes(n, generator)

    def sample_with_modes(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        index = torch.randint(len(self.base), (n, 3), generator=generator, device=generator.device)
        images = self.base._on(generator.device)[index.flatten()][:, 0].reshape(n, 3, *self.base.shape[1:])
        modes = None
        if self.base.labels is not None:
            labels = self.base.labels.to(generator.device)[index]
            modes = labels[:, 0] * 100 + labels[:, 1] * 10 + labels[:, 2]
        return images, modes


# -- conversion ------------------------------------------------------------------------------------
def to_tensor(array: np.ndarray, source: str, size: int | None = None, channels: int | None = None) -> torch.Tensor:
    """Any (N, H, W), (N, H, W, C) or (N, C, H, W) array of uint8 [0, 255] or float [0, 1]/[-1, 1] images
    as float32 (N, C, H, W) in [-1, 1], resized to ``size`` and converted to ``channels``."""
    array = np.asarray(array)
    if array.ndim == 3:
        array = array[:, None]
    elif array.ndim == 4 and array.shape[-1] in (1, 3, 4) and array.shape[1] not in (1, 3, 4):
        array = array.transpose(0, 3, 1, 2)
    elif array.ndim != 4:
        raise DataError(f"{source}: expected images shaped (N, H, W), (N, H, W, C) or (N, C, H, W), got {array.shape}")
    if len(array) == 0:
        raise DataError(f"{source}: holds no images")
    if array.dtype == np.uint8:
        images = torch.from_numpy(array.astype(np.float32)) / 127.5 - 1
    elif np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer):
        images = torch.from_numpy(array.astype(np.float32))
        low, high = float(images.min()), float(images.max())
        if low >= 0 and high <= 1:
            images = images * 2 - 1
        elif low >= 0 and high <= 255 and high > 1:
            images = images / 127.5 - 1
        elif low < -1 - 1e-3 or high > 1 + 1e-3:
            raise DataError(f"{source}: pixel values span [{low:g}, {high:g}]; expected [0, 255], [0, 1] or [-1, 1]")
    else:
        raise DataError(f"{source}: pixel type {array.dtype} is not numeric")
    if images.shape[1] == 4:  # drop alpha
        images = images[:, :3]
    if channels == 1 and images.shape[1] == 3:
        images = images.mean(1, keepdim=True)
    elif channels == 3 and images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1).contiguous()
    if size and images.shape[-1] != size or size and images.shape[-2] != size:
        images = F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return images.clamp(-1, 1).contiguous()


# -- readers ---------------------------------------------------------------------------------------
def read_idx(path: str | Path) -> np.ndarray:
    """An MNIST-style IDX file (optionally gzipped): magic 0x0000 0x08 (uint8) ndim, big-endian sizes."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            header = handle.read(4)
            if len(header) != 4 or header[:2] != b"\x00\x00" or header[2] != 0x08:
                raise DataError(f"{path}: not an IDX file of unsigned bytes (bad magic number {header.hex()})")
            ndim = header[3]
            dims = struct.unpack(f">{ndim}I", handle.read(4 * ndim))
            data = np.frombuffer(handle.read(), dtype=np.uint8)
    except (OSError, EOFError, struct.error) as err:
        raise DataError(f"{path}: unreadable IDX file ({err})") from None
    if data.size != int(np.prod(dims)):
        raise DataError(f"{path}: IDX header says {dims} but the file holds {data.size} values")
    return data.reshape(dims)


def read_array(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Images (and labels, if present) from .npy or .npz (keys: images/x/arr_0, labels/y)."""
    path = Path(path)
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: unreadable .npy/.npz file ({err})") from None
    if isinstance(loaded, np.ndarray):
        return loaded, None
    keys = list(loaded.keys())
    image_key = next((k for k in ("images", "x", "X", "arr_0") if k in keys), None)
    if image_key is None:
        raise DataError(f"{path}: no images array (expected a key images, x or arr_0; found {', '.join(keys)})")
    label_key = next((k for k in ("labels", "y", "Y") if k in keys), None)
    return loaded[image_key], (loaded[label_key] if label_key else None)


def array_ndim(path: str | Path) -> int:
    """The number of dimensions of the (images) array in a .npy/.npz file, read without loading it."""
    path = Path(path)
    try:
        if path.suffix == ".npy":
            return np.load(path, mmap_mode="r", allow_pickle=False).ndim
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: unreadable .npy file ({err})") from None
    return read_array(path)[0].ndim


def read_cifar_batches(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10's python batches: a folder with data_batch_1..5 (or one batch file)."""
    path = Path(path)
    files = sorted(path.glob("data_batch_*")) if path.is_dir() else [path]
    if not files:
        raise DataError(f"{path}: no CIFAR-10 batch files (data_batch_1 ... data_batch_5)")
    images, labels = [], []
    for file in files:
        try:
            with open(file, "rb") as handle:
                batch = pickle.load(handle, encoding="bytes")
            data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            images.append(data)
            labels.append(np.asarray(batch[b"labels"]))
        except (OSError, pickle.UnpicklingError, KeyError, ValueError, EOFError, TypeError) as err:
            raise DataError(f"{file}: not a CIFAR-10 python batch ({type(err).__name__}: {err})") from None
    return np.concatenate(images), np.concatenate(labels)


def read_folder(path: str | Path, size: int | None, channels: int | None) -> np.ndarray:
    """Every image file under a folder (recursively), decoded with Pillow and resized to ``size``."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"{path}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
    mode = "L" if channels == 1 else "RGB"
    arrays = []
    for file in files:
        try:
            with Image.open(file) as image:
                image = image.convert(mode)
                if size:
                    side = min(image.size)  # centre crop to a square, then resize
                    left, top = (image.width - side) // 2, (image.height - side) // 2
                    image = image.crop((left, top, left + side, top + side)).resize((size, size), Image.BILINEAR)
                arrays.append(np.asarray(image, dtype=np.uint8))
        except (OSError, UnidentifiedImageError) as err:
            raise DataError(f"{file}: unreadable image ({err})") from None
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise DataError(f"{path}: images of different sizes {sorted(shapes)[:3]}; set data.image_size to resize them")
    return np.stack(arrays)


# -- named data sets -------------------------------------------------------------------------------
def digits(split: str = "train") -> ImageDataset:
    """scikit-learn's 8x8 digits (1797 images, shipped in its wheel); the test split is every 5th image."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = bunch.images.astype(np.float32) / 16.0  # values 0..16
    labels = bunch.target.astype(np.int64)
    test = np.arange(len(images)) % 5 == 0
    keep = test if split == "test" else ~test
    return ImageDataset("digits", to_tensor(images[keep], "digits"), torch.from_numpy(labels[keep]), split)


def fashion_mnist(split: str = "train", folder: Path = FASHION_DIR) -> ImageDataset:
    prefix = "t10k" if split == "test" else "train"
    images_file = folder / f"{prefix}-images-idx3-ubyte.gz"
    labels_file = folder / f"{prefix}-labels-idx1-ubyte.gz"
    if not images_file.exists() or not labels_file.exists():
        raise DataError(f"Fashion-MNIST is not installed ({images_file} is missing); install it with: {FASHION_INSTALL}")
    images, labels = read_idx(images_file), read_idx(labels_file)
    return ImageDataset("fashion-mnist", to_tensor(images, str(images_file)), torch.from_numpy(labels.astype(np.int64)),
                        split)


def user_images(kind: str, path: str | None, size: int | None, channels: int | None) -> ImageDataset:
    if not path:
        raise DataError(f"data preset {kind!r} reads your files: set data.path (e.g. --set data.path=/data/x)")
    target = Path(path).expanduser()
    if not target.exists():
        raise DataError(f"data.path {target} does not exist")
    labels = None
    if kind == "image-folder":
        array = read_folder(target, size, channels)
    elif kind == "array":
        array, labels = read_array(target)
    elif kind == "idx":
        array = read_idx(target)
        label_file = _idx_labels_beside(target)
        if label_file is not None:
            labels = read_idx(label_file)
    else:
        array, labels = read_cifar_batches(target)
    images = to_tensor(array, str(target), size, channels)
    tensor_labels = torch.from_numpy(np.asarray(labels).astype(np.int64)) if labels is not None else None
    if tensor_labels is not None and len(tensor_labels) != len(images):
        tensor_labels = None
    return ImageDataset(target.name, images, tensor_labels)


def _idx_labels_beside(images_file: Path) -> Path | None:
    name = images_file.name.replace("images-idx3", "labels-idx1")
    candidate = images_file.with_name(name)
    return candidate if candidate != images_file and candidate.exists() else None
