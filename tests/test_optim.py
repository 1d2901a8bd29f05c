"""The functional optimisers give torch.optim's numbers, eagerly and over stacked players."""

import pytest
import torch

from gangames.optim import Optimizer, OptimizerSettings
from gangames.reference import make_optimizer


@pytest.mark.parametrize("settings", [
    OptimizerSettings("adam", 1e-2, 0.5, 0.999),
    OptimizerSettings("adam", 1e-3, 0.0, 0.9),
    OptimizerSettings("rmsprop", 5e-3, 0.0, 0.99),
    OptimizerSettings("sgd", 1e-2, 0.9, 0.0),
    OptimizerSettings("sgd", 1e-2, 0.0, 0.0),
])
def test_matches_torch_optim(settings):
    torch.manual_seed(0)
    ours = [torch.randn(3, 4), torch.randn(5)]
    theirs = [p.clone().requires_grad_() for p in ours]
    opt = Optimizer(ours, settings)
    ref = make_optimizer(theirs, settings.name, settings.lr, settings.beta1, settings.beta2, settings.eps)
    for _ in range(5):
        grads = [torch.randn_like(p) for p in ours]
        opt.step(grads)
        for p, g in zip(theirs, grads):
            p.grad = g.clone()
        ref.step()
    for a, b in zip(ours, theirs):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-7)
    assert not torch.allclose(ours[0], theirs[0].detach() * 0)


def test_state_round_trip_continues_identically():
    torch.manual_seed(1)
    a = [torch.randn(4, 4)]
    b = [a[0].clone()]
    opt_a = Optimizer(a, OptimizerSettings())
    grads = [[torch.randn(4, 4)] for _ in range(6)]
    for g in grads[:3]:
        opt_a.step(g)
    b[0].copy_(a[0])
    opt_b = Optimizer(b, OptimizerSettings())
    opt_b.load_state_dict(opt_a.state_dict())
    for g in grads[3:]:
        opt_a.step(g)
        opt_b.step(g)
    assert torch.equal(a[0], b[0])
