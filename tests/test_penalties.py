"""Gradient penalties against closed forms, an independent autograd computation and finite differences."""

import math

import pytest
import torch

from gangames.games import penalties as Pn
from gangames.nets.stacked import init_players, mlp_critic


def critic_mlp(players=1, dim=2, seed=0):
    net = mlp_critic(players, dim, [16, 16], "tanh").double()
    return init_players(net, [seed + p for p in range(players)])


def test_norm_of_a_linear_critic_is_its_weight_norm_over_the_flattened_sample():
    """f(x) = <W, x> for image-shaped x: the gradient is W for every sample, its norm |W|_F."""
    W = torch.randn(3, 4, 4, dtype=torch.float64)
    critic = lambda x: (x * W).flatten(2).sum(-1)  # (P, B, 3, 4, 4) -> (P, B)
    x = torch.randn(2, 5, 3, 4, 4, dtype=torch.float64)
    norm = Pn.gradient_norm(critic, x, guard=0.0)
    assert norm.shape == (2, 5)
    assert torch.allclose(norm, torch.full((2, 5), W.norm().item(), dtype=torch.float64))
    # Not the norm of one row or channel: those are strictly smaller here.
    assert W[0].norm() < W.norm() - 1e-3


def test_guard_sits_inside_the_square_root():
    critic = lambda x: 0.5 * x.pow(2).sum(-1)  # gradient = x
    x = torch.tensor([[[3.0, 4.0], [0.0, 0.0]]], dtype=torch.float64)
    norm = Pn.gradient_norm(critic, x, guard=1e-4)
    assert norm[0, 0].item() == pytest.approx(math.sqrt(25 + 1e-4))
    assert norm[0, 1].item() == pytest.approx(1e-2)  # finite at g = 0, hence differentiable
    penalty = Pn.two_sided_penalty(critic, x, target=1.0, guard=1e-4)
    expected = ((math.sqrt(25 + 1e-4) - 1) ** 2 + (1e-2 - 1) ** 2) / 2
    assert penalty.item() == pytest.approx(expected)


def test_gradient_norm_matches_finite_differences():
    critic = critic_mlp(players=2)
    x = torch.randn(2, 6, 2, dtype=torch.float64)
    norm = Pn.gradient_norm(critic, x, guard=0.0)
    h = 1e-6
    for p in range(2):
        for b in range(6):
            grad = []
            for i in range(2):
                e = torch.zeros_like(x)
                e[p, b, i] = h
                grad.append((critic(x + e)[p, b] - critic(x - e)[p, b]).item() / (2 * h))
            assert norm[p, b].item() == pytest.approx(math.hypot(*grad), rel=1e-6)


def test_penalty_parameter_gradient_matches_an_independent_autograd_computation():
    """d penalty / d params through create_graph, versus torch.func's own second derivative."""
    critic = critic_mlp()
    real = torch.randn(1, 8, 2, dtype=torch.float64)
    fake = torch.randn(1, 8, 2, dtype=torch.float64)
    eps = torch.rand(1, 8, 1, dtype=torch.float64)
    penalty = Pn.InterpolatePenalty(guard=1e-4)(critic, real, fake, {"epsilon": eps})
    params = dict(critic.named_parameters())
    # The last bias does not move the input gradient: its penalty gradient is exactly zero.
    ours = torch.autograd.grad(penalty.sum(), list(params.values()), allow_unused=True, materialize_grads=True)

    points = real + eps * (fake - real)

    def reference(p):
        def f(x):
            return torch.func.functional_call(critic, p, (x,)).sum()
        g = torch.func.grad(f)(points)
        norm = torch.sqrt(1e-4 + (g**2).sum(-1))
        return ((norm - 1) ** 2).mean()

    theirs = torch.func.grad(reference)({k: v.detach() for k, v in params.items()})
    for (name, _), a in zip(params.items(), ours):
        assert torch.allclose(a, theirs[name], atol=1e-12), name


def test_epsilon_is_drawn_per_sample_and_broadcast_over_the_sample():
    g = torch.Generator().manual_seed(0)
    noise = Pn.InterpolatePenalty().draw((5, 2, 64), (3, 8, 8), g)
    eps = noise["epsilon"]
    assert eps.shape == (5, 2, 64, 1, 1, 1)
    assert len(torch.unique(eps)) == 5 * 2 * 64  # one value per (step, player, sample)
    assert 0 <= eps.min() and eps.max() < 1
    real, fake = torch.zeros(2, 64, 3, 8, 8), torch.ones(2, 64, 3, 8, 8)
    x_hat = Pn.interpolates(real, fake, eps[0])
    # Every pixel of sample b sits at eps_b between real and fake.
    assert torch.equal(x_hat, eps[0].expand_as(x_hat))


def test_dragan_points_stay_where_each_form_puts_them():
    g = torch.Generator().manual_seed(1)
    real = torch.randn(2, 256, 2) * torch.tensor([[[1.0]], [[3.0]]])
    std = real.flatten(1).std(1).reshape(2, 1, 1)
    for form, scale in Pn.DRAGAN_FORMS.items():
        pen = Pn.DraganPenalty(form=form, scale=scale)
        noise = {k: v[0] for k, v in pen.draw((1, 2, 256), (2,), g).items()}
        delta = pen.points(real, noise) - real
        if form == "A":  # alpha * scale * std * U, inside [0, scale * std)
            assert (delta >= 0).all() and (delta <= scale * std).all()
            assert noise["alpha"].shape == (2, 256, 1)
        elif form == "B":  # scale * std * (U - 1/2)
            assert (delta.abs() <= scale * std / 2).all()
        else:  # scale * std * N(0, 1): the spread of each player follows its own batch std
            assert torch.allclose(delta.flatten(1).std(1), (scale * std).flatten(), rtol=0.1)
    bounded = Pn.DraganPenalty(form="B", scale=50.0, bounds=(-1.0, 1.0))
    noise = {k: v[0] for k, v in bounded.draw((1, 2, 256), (2,), g).items()}
    assert bounded.points(real, noise).abs().max() <= 1.0


def test_dragan_penalty_is_taken_at_the_perturbed_real_points_on_the_raw_output():
    critic = critic_mlp()
    real = torch.randn(1, 16, 2, dtype=torch.float64)
    pen = Pn.DraganPenalty(form="gaussian", scale=0.5)
    noise = {"normal": torch.randn(1, 16, 2, dtype=torch.float64)}
    points = pen.points(real, noise)
    fake = torch.full_like(real, 1e6)  # the fakes must not matter
    assert torch.allclose(pen(critic, real, fake, noise), Pn.two_sided_penalty(critic, points))


def test_r1_and_r2_are_half_the_mean_squared_gradient_at_real_and_fake():
    """f(x) = <w, x>: grad = w everywhere, so R1 = R2 = |w|^2 / 2; f(x) = |x|^2 / 2: grad = x, so
    R1 = E|x|^2 / 2 over the real points and R2 over the fake ones (one value per player)."""
    w = torch.tensor([3.0, -4.0], dtype=torch.float64)
    linear = lambda x: (x * w).sum(-1)  # noqa: E731
    real, fake = torch.randn(2, 7, 2, dtype=torch.float64), torch.randn(2, 7, 2, dtype=torch.float64) + 5
    assert torch.allclose(Pn.ZeroCentredPenalty(True, False)(linear, real, fake, {}), torch.full((2,), 12.5, dtype=torch.float64))
    both = Pn.ZeroCentredPenalty(True, True)(linear, real, fake, {})
    assert torch.allclose(both, torch.full((2,), 25.0, dtype=torch.float64))
    quadratic = lambda x: 0.5 * x.pow(2).sum(-1)  # noqa: E731
    r1 = Pn.ZeroCentredPenalty(True, False)(quadratic, real, fake, {})
    r2 = Pn.ZeroCentredPenalty(False, True)(quadratic, real, fake, {})
    assert torch.allclose(r1, 0.5 * real.pow(2).sum(-1).mean(-1)) and torch.allclose(r2, 0.5 * fake.pow(2).sum(-1).mean(-1))
    assert not torch.allclose(r1, r2)  # R1 reads the real points, R2 the fake ones


def test_r1_parameter_gradient_matches_torch_func():
    critic = critic_mlp()
    real = torch.randn(1, 8, 2, dtype=torch.float64)
    params = dict(critic.named_parameters())
    penalty = Pn.ZeroCentredPenalty(True, False)(critic, real, real, {})
    ours = torch.autograd.grad(penalty.sum(), list(params.values()), allow_unused=True, materialize_grads=True)

    def reference(p):
        g = torch.func.vmap(torch.func.grad(lambda x: torch.func.functional_call(critic, p, (x[None, None],)).sum()))(real[0])
        return 0.5 * (g**2).sum(-1).mean()

    theirs = torch.func.grad(reference)({k: v.detach() for k, v in params.items()})
    for (name, _), a in zip(params.items(), ours):
        assert torch.allclose(a, theirs[name], atol=1e-12), name
