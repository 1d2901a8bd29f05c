"""DiffAugment: each transform by hand, gradients through it, the same policy for real and fake."""

import pytest
import torch

from gangames import build
from gangames.config import Config, apply_overrides
from gangames.data import augment as A
from gangames.errors import ConfigError


def images(n=2, c=3, size=8):
    return torch.arange(n * c * size * size, dtype=torch.float64).reshape(n, c, size, size) / 100


def test_translation_shifts_each_image_by_its_own_offset_with_zero_padding():
    x = images()
    out = A.apply(x, {"shift_y": torch.tensor([1, 0]), "shift_x": torch.tensor([0, -1])}, ("translation",))
    assert torch.equal(out[0, :, 1:], x[0, :, :-1]) and (out[0, :, 0] == 0).all()  # down by one row
    assert torch.equal(out[1, :, :, :-1], x[1, :, :, 1:]) and (out[1, :, :, -1] == 0).all()  # left by one column


def test_cutout_zeroes_a_square_of_half_the_side_centred_where_drawn():
    x = torch.ones(1, 1, 8, 8, dtype=torch.float64)
    out = A.apply(x, {"cut_y": torch.tensor([4]), "cut_x": torch.tensor([2])}, ("cutout",))
    expected = torch.ones(8, 8, dtype=torch.float64)
    expected[2:6, 0:4] = 0  # side 4, rows 4 - 2 .. 4 + 1, columns 2 - 2 .. 2 + 1
    assert torch.equal(out[0, 0], expected)


def test_color_is_brightness_then_saturation_then_contrast():
    x = torch.rand(1, 3, 4, 4, dtype=torch.float64)
    u = torch.tensor([[0.7, 0.25, 0.9]], dtype=torch.float64)
    out = A.apply(x, {"color": u}, ("color",))
    y = x + 0.2
    y = (y - y.mean(1, keepdim=True)) * 0.5 + y.mean(1, keepdim=True)
    y = (y - y.mean()) * 1.4 + y.mean()
    assert torch.allclose(out, y)


def test_gradients_flow_through_every_transform():
    x = torch.randn(4, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    for names in ("color,translation,cutout", "translation,cutout"):
        policy = A.parse(names)
        noise = A.draw(policy, (4,), (3, 8, 8), torch.Generator().manual_seed(0))
        (grad,) = torch.autograd.grad(A.apply(x, noise, policy).pow(2).sum(), x)
        assert (grad != 0).any(dim=(1, 2, 3)).all(), names  # every image's pixels receive a gradient
    assert (grad == 0).any()  # and without colour's means, the cut and shifted-out pixels get none


def test_the_game_shows_the_discriminator_real_and_fake_through_the_same_policy():
    cfg = build.resolve(apply_overrides(Config(), ["data.preset=digits", "data.augment=translation,cutout",
                                                   "generator.hidden=[8, 16]", "discriminator.hidden=[8, 16]",
                                                   "data.batch_size=8", "game.defaults=paper"]))  # NS without R1
    data = build.build_data(cfg)
    game = build.build_game_for(cfg, data)
    inputs = game.draw(data, 8, torch.Generator().manual_seed(0), 1)
    with torch.no_grad():
        fake = game.players.generator(inputs["z_disc"][0])
        generated = game.players.generator(inputs["z_gen"])  # (the generator moves only after its step)
    seen = []
    D = game.players.discriminator
    forward = D.forward
    D.forward = lambda x: seen.append(x.detach().clone()) or forward(x)
    game.step(inputs)
    # The critic's step: one pass over real then fake, each image through its own drawn transform.
    noise = {k: v[0] for k, v in inputs["augment"]["disc"].items()}
    expected = A.apply(torch.cat([inputs["real"][0], fake], dim=1), noise, game.augment)
    assert torch.equal(seen[0], expected)
    assert not torch.equal(seen[0][:, :8], inputs["real"][0]) and not torch.equal(seen[0][:, 8:], fake)
    # The generator's step: its fakes through the same policy, with their own numbers.
    assert len(seen) == 2
    assert torch.allclose(seen[1], A.apply(generated, inputs["augment"]["gen"], game.augment), atol=1e-6)


def test_augmentation_is_off_by_default_and_only_for_images():
    cfg = build.resolve(apply_overrides(Config(), ["data.preset=digits"]))
    assert cfg.data.augment == ""
    data = build.build_data(cfg)
    assert "augment" not in build.build_game_for(cfg, data).draw(data, 4, torch.Generator(), 1)
    with pytest.raises(ConfigError, match="data.augment \\(DiffAugment\\) transforms images; data preset 'ring8' is vectors"):
        build.resolve(apply_overrides(Config(), ["data.augment=cutout"]))
    with pytest.raises(ConfigError, match="unknown data.augment policy 'flip'"):
        build.resolve(apply_overrides(Config(), ["data.preset=digits", "data.augment=flip"]))
