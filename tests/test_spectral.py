"""Spectral normalisation per player on stacked weights: singular values against torch.linalg, for the
built-in players and users' modules; resume stays bit-identical (the power-iteration state is saved)."""

import pytest
import torch

from gangames import build
from gangames.config import Config, apply_overrides
from gangames.nets import spectral
from gangames.training import checkpoint
from gangames.training.trainer import Trainer
from test_trainer import assert_same_state, cfg_of


def top_singular_values(weight: torch.Tensor) -> torch.Tensor:
    """Each player's largest singular value of its weight read as (rows, rest): (P,)."""
    return torch.linalg.svdvals(weight.reshape(weight.shape[0], weight.shape[1], -1))[:, 0]


def weights(module) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(raw, normalised) of every spectrally normalised weight."""
    from gangames.nets.functional import StackedModule

    if isinstance(module, StackedModule):
        normalised = module._weights()
        return [(module.stacked[i].detach(), normalised[i].detach()) for i in module._normalised]
    return [(layer.weight.detach(), layer.effective_weight().detach()) for layer in module.modules()
            if getattr(layer, "spectral_u", None) is not None]


@pytest.mark.parametrize("case", ["mlp", "dcgan", "user"])
def test_every_players_layers_have_top_singular_value_one(case, small_cfg):
    if case == "dcgan":
        cfg = build.resolve(apply_overrides(Config(), ["data.preset=digits", "discriminator.spectral_norm=true",
                                                       "generator.hidden=[8, 16]", "discriminator.hidden=[8, 16]"]))
    else:
        nets = {"net": "module:library_nets:Critic", "hidden": None, "head": None} if case == "user" else {}
        cfg = small_cfg("ns", discriminator={"spectral_norm": True, **nets})
    data = build.build_data(cfg)
    D = build.build_players(cfg, data, [1, 2, 3]).discriminator
    with torch.no_grad():  # give the players very different scales, so one shared sigma would fail
        for p in D.parameters():
            p.mul_(torch.tensor([0.5, 3.0, 20.0]).reshape(-1, *([1] * (p.dim() - 1))))
    assert len(weights(D)) == (5 if case == "dcgan" else 4)  # every layer: convolutions and linear layers
    assert all(top_singular_values(raw).max() / top_singular_values(raw).min() > 10 for raw, _ in weights(D))
    for _ in range(300):
        D.refresh_spectral_norm()
    for raw, normalised in weights(D):
        assert torch.allclose(top_singular_values(normalised), torch.ones(3), atol=1e-3)


def test_sigma_carries_the_gradient_and_the_forward_pass_changes_nothing():
    weight = torch.randn(2, 4, 3, requires_grad=True)
    u = spectral.start_vector(weight.detach())
    before = u.clone()
    spectral.normalised(weight, u).sum().backward()
    assert torch.equal(u, before) and weight.grad is not None and weight.grad.abs().sum() > 0
    frozen = torch.tensor([True, False])
    spectral.refresh(weight, u, frozen)
    assert torch.equal(u[0], before[0]) and not torch.equal(u[1], before[1])  # a frozen player keeps its state


def test_a_run_with_spectral_norm_resumes_bit_identically(tmp_path):
    common = ["game.name=wgan-gp", "run.seed=3", "run.checkpoint_every=10", "run.keep_checkpoints=5",
              "discriminator.spectral_norm=true"]
    Trainer(cfg_of(*common, "run.steps=20"), tmp_path / "straight").run()
    Trainer(cfg_of(*common, "run.steps=10"), tmp_path / "resumed").run()
    Trainer.resume(tmp_path / "resumed", steps=20).run()
    a = checkpoint.load_latest(tmp_path / "straight" / "checkpoints")
    assert any(key.endswith("spectral_u") for key in a["modules"]["discriminator"])
    assert_same_state(a, checkpoint.load_latest(tmp_path / "resumed" / "checkpoints"))
