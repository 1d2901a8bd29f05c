"""Loss values pinned to hand-computed numbers, and the saturation that separates M-GAN from NS-GAN."""

import pytest
import torch

from gangames.games import losses as L

FAKE = torch.tensor([10.0, 4.4, -5.5, 3.6])
REAL = torch.tensor([1.0, -2.0, 0.5, 3.0])


def value(t: torch.Tensor) -> float:
    assert t.shape == ()
    return float(t)


def test_generator_losses_by_hand():
    # softplus(u) = log(1 + e^u): softplus(10)=10.0000454, softplus(4.4)=4.4121872, softplus(-5.5)=0.0040782,
    # softplus(3.6)=3.6269243; mean = 4.5108209 -> E log(1 - D) = -4.5108209.
    assert value(L.minimax_generator_loss(FAKE)) == pytest.approx(-4.510821, abs=1e-6)
    # -log D = softplus(-l): 0.0000454 + 0.0121872 + 5.5040782 + 0.0269243, mean 1.3858209.
    assert value(L.non_saturating_generator_loss(FAKE)) == pytest.approx(1.385821, abs=1e-6)
    assert value(L.wasserstein_generator_loss(FAKE)) == pytest.approx(-3.125, abs=1e-6)
    assert value(L.hinge_generator_loss(FAKE)) == pytest.approx(-3.125, abs=1e-6)
    # (9^2 + 3.4^2 + 6.5^2 + 2.6^2) / 4 / 2 = (81 + 11.56 + 42.25 + 6.76) / 8
    assert value(L.least_squares_generator_loss(FAKE)) == pytest.approx(17.69625, abs=1e-5)


def test_discriminator_losses_by_hand():
    # softplus(-real) = 0.3132617, 2.1269280, 0.4740770, 0.0485874 (mean 0.7407135)
    # softplus(fake)  = 10.0000454, 4.4121872, 0.0040782, 3.6269243 (mean 4.5108088 + ...)
    assert value(L.minimax_discriminator_loss(REAL, FAKE)) == pytest.approx(5.251534, abs=1e-6)
    assert value(L.wasserstein_critic_loss(REAL, FAKE)) == pytest.approx(3.125 - 0.625, abs=1e-6)
    # real: max(0, 1 - l) = 0, 3, 0.5, 0 -> 0.875; fake: max(0, 1 + l) = 11, 5.4, 0, 4.6 -> 5.25
    assert value(L.hinge_discriminator_loss(REAL, FAKE)) == pytest.approx(6.125, abs=1e-6)
    # 0.5 * mean((l-1)^2) over real = 0.5 * 13.25 / 4; 0.5 * mean(l^2) over fake = 0.5 * 162.57 / 4
    assert value(L.least_squares_discriminator_loss(REAL, FAKE)) == pytest.approx(21.9775, abs=1e-5)


def test_losses_reduce_the_batch_axis_per_player():
    real = torch.stack([REAL, REAL + 1])
    fake = torch.stack([FAKE, FAKE * 0])
    out = L.minimax_discriminator_loss(real, fake)
    assert out.shape == (2,)
    assert float(out[0]) == pytest.approx(5.251534, abs=1e-6)
    assert float(L.non_saturating_generator_loss(fake)[1]) == pytest.approx(0.693147, abs=1e-6)


def test_every_named_loss_has_both_objectives_and_a_score():
    for name, loss in L.LOSSES.items():
        assert loss.score in ("probability", "critic"), name
        assert loss.discriminator(REAL, FAKE).shape == ()
        assert (loss.generator(FAKE, REAL) if loss.relativistic else loss.generator(FAKE)).shape == ()
    assert L.LOSSES["ns"].generator is L.non_saturating_generator_loss
    assert L.LOSSES["minimax"].generator is L.minimax_generator_loss


def test_minimax_generator_saturates_where_the_discriminator_rejects_fakes():
    """d/dl E log(1 - sigmoid(l)) = -sigmoid(l) -> 0 as l -> -inf; NS: d/dl softplus(-l) = -sigmoid(-l) -> -1."""
    logits = torch.full((16,), -15.0, requires_grad=True)
    (g_minimax,) = torch.autograd.grad(L.minimax_generator_loss(logits), logits)
    (g_ns,) = torch.autograd.grad(L.non_saturating_generator_loss(logits), logits)
    per_sample = 16  # the losses average over the batch
    assert g_minimax.abs().max() * per_sample < 1e-6
    assert g_ns * per_sample == pytest.approx(torch.full((16,), -1.0), abs=1e-6)
    # And at l = 0 (D undecided) both give the same magnitude, 1/2.
    zero = torch.zeros(4, requires_grad=True)
    (a,) = torch.autograd.grad(L.minimax_generator_loss(zero), zero)
    (b,) = torch.autograd.grad(L.non_saturating_generator_loss(zero), zero)
    assert torch.allclose(a * 4, torch.full((4,), -0.5)) and torch.allclose(b * 4, torch.full((4,), -0.5))


def test_relativistic_pairing_loss_by_hand():
    """real logits [1, -2], fake [0.5, 3]: pairs (1, 0.5) and (-2, 3).
    D: mean softplus(fake - real) = (softplus(-0.5) + softplus(5)) / 2 = (0.474077 + 5.006715) / 2
    G: mean softplus(real - fake) = (softplus(0.5) + softplus(-5)) / 2 = (0.974077 + 0.006715) / 2."""
    real, fake = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.5, 3.0]])
    d = L.relativistic_discriminator_loss(real, fake)
    g = L.relativistic_generator_loss(fake, real)
    assert d.shape == (1,) and d.item() == pytest.approx(2.740396, abs=1e-6)
    assert g.item() == pytest.approx(0.490396, abs=1e-6)
    # Paired, not averaged first: pairing sample 0 with sample 1 instead changes the value.
    assert L.relativistic_discriminator_loss(real, fake.flip(-1)).item() != pytest.approx(d.item(), abs=1e-3)
    assert L.LOSSES["relativistic"].relativistic and L.LOSSES["relativistic"].score == "critic"
