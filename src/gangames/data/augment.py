"""DiffAugment (Zhao et al. 2020): differentiable augmentations of the images the discriminator sees,
real and generated alike, so that a small data set does not let it memorise.

``data.augment`` is a comma-separated policy: ``color`` (brightness, saturation, contrast),
``translation`` (shifts of up to 1/8 of the side, zero padding), ``cutout`` (a square of half the
side set to zero). Each sample gets its own random transform; the random numbers are drawn outside
the game step (``draw``), so the step stays pure and replayable, and the transform is written in
differentiable operations, so the generator's gradient flows through it. The same policy applies
to every image the discriminator scores in the GAN losses (real and fake, in its step and in the
generator's); gradient penalties and the auction's bids read the images unaugmented.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gangames.errors import ConfigError

POLICIES = ("color", "translation", "cutout")
TRANSLATION, CUTOUT = 1 / 8, 1 / 2  # shift range and cutout side, as fractions of the image side

Tensor = torch.Tensor


def parse(policy: str) -> tuple[str, ...]:
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    for name in names:
        if name not in POLICIES:
            raise ConfigError(f"unknown data.augment policy {name!r}; choose from: {', '.join(POLICIES)} (comma-separated)")
    return names


def draw(policy: tuple[str, ...], lead: tuple[int, ...], shape: tuple[int, ...], generator: torch.Generator) -> dict:
    """The random numbers of one batch of images (*lead, C, H, W)."""
    device, noise = generator.device, {}
    height, width = shape[-2:]
    if "color" in policy:
        noise["color"] = torch.rand((*lead, 3), generator=generator, device=device)
    if "translation" in policy:
        ry, rx = int(height * TRANSLATION + 0.5), int(width * TRANSLATION + 0.5)
        noise["shift_y"] = torch.randint(-ry, ry + 1, lead, generator=generator, device=device)
        noise["shift_x"] = torch.randint(-rx, rx + 1, lead, generator=generator, device=device)
    if "cutout" in policy:
        noise["cut_y"] = torch.randint(0, height + (1 - height % 2), lead, generator=generator, device=device)
        noise["cut_x"] = torch.randint(0, width + (1 - width % 2), lead, generator=generator, device=device)
    return noise


def _color(x: Tensor, u: Tensor) -> Tensor:
    brightness, saturation, contrast = (u[:, i].reshape(-1, 1, 1, 1) for i in range(3))
    x = x + (brightness - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (saturation * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (contrast + 0.5) + mean


def _translation(x: Tensor, dy: Tensor, dx: Tensor) -> Tensor:
    n, _, h, w = x.shape
    ry, rx = int(h * TRANSLATION + 0.5), int(w * TRANSLATION + 0.5)
    padded = F.pad(x, [rx, rx, ry, ry])
    rows = torch.arange(h, device=x.device)[None, :] + ry - dy[:, None]  # output row i reads row i - dy
    cols = torch.arange(w, device=x.device)[None, :] + rx - dx[:, None]
    batch = torch.arange(n, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def _cutout(x: Tensor, cy: Tensor, cx: Tensor) -> Tensor:
    _, _, h, w = x.shape
    sy, sx = int(h * CUTOUT + 0.5), int(w * CUTOUT + 0.5)
    rows = torch.arange(h, device=x.device)[None, :]
    cols = torch.arange(w, device=x.device)[None, :]
    inside_y = ((rows - (cy[:, None] - sy // 2)) >= 0) & ((rows - (cy[:, None] - sy // 2)) < sy)
    inside_x = ((cols - (cx[:, None] - sx // 2)) >= 0) & ((cols - (cx[:, None] - sx // 2)) < sx)
    keep = ~(inside_y[:, :, None] & inside_x[:, None, :])
    return x * keep[:, None].to(x.dtype)


def apply(x: Tensor, noise: dict, policy: tuple[str, ...]) -> Tensor:
    """The policy's transforms of images (*lead, C, H, W) with their drawn ``noise``, in order."""
    lead, image = x.shape[:-3], x.shape[-3:]
    flat = x.reshape(-1, *image)
    flat_noise = {k: v.reshape(-1, *v.shape[len(lead):]) for k, v in noise.items()}
    for name in policy:
        if name == "color":
            flat = _color(flat, flat_noise["color"])
        elif name == "translation":
            flat = _translation(flat, flat_noise["shift_y"], flat_noise["shift_x"])
        else:
            flat = _cutout(flat, flat_noise["cut_y"], flat_noise["cut_x"])
    return flat.reshape(*lead, *image)
