"""The functional optimisers give torch.optim's numbers, eagerly and over stacked players."""

import pytest
import torch

from gangames.optim import Optimizer, OptimizerSettings
from gangames.reference import make_optimizer


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("settings", [
    OptimizerSettings("adam", 1e-2, 0.5, 0.999),
    OptimizerSettings("adam", 1e-3, 0.0, 0.9),
    OptimizerSettings("rmsprop", 5e-3, 0.0, 0.99),
    OptimizerSettings("sgd", 1e-2, 0.9, 0.0),
    OptimizerSettings("sgd", 1e-2, 0.0, 0.0),
])
def test_matches_torch_optim(settings, compiled):
    """Eagerly torch's own functional rules; compiled, the rules written out with their settings
    read from a tensor (optim.py): both must give torch.optim's numbers."""
    torch.manual_seed(0)
    ours = [torch.randn(3, 4), torch.randn(5)]
    theirs = [p.clone().requires_grad_() for p in ours]
    opt = Optimizer(ours, settings)
    ref = make_optimizer(theirs, settings.name, settings.lr, settings.beta1, settings.beta2, settings.eps)
    step = torch.compile(opt.step, fullgraph=True) if compiled else opt.step
    for _ in range(5):
        grads = [torch.randn_like(p) for p in ours]
        step(grads)
        for p, g in zip(theirs, grads):
            p.grad = g.clone()
        ref.step()
    for a, b in zip(ours, theirs):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-7)
    assert float(opt.state["step"][0]) == 5
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


@pytest.mark.parametrize("compiled", [False, True])
def test_adam_follows_torch_optim_with_transposed_gradients(compiled):
    """autograd.grad can return non-contiguous gradients; torch's fused CPU Adam misreads those
    (updates the wrong elements) unless they are made contiguous first."""
    torch.manual_seed(2)
    ours = [torch.randn(1, 2, 32, dtype=torch.float64)]
    theirs = [ours[0].clone().requires_grad_()]
    start = ours[0].clone()
    opt = Optimizer(ours, OptimizerSettings("adam", 1e-2, 0.5, 0.999))
    ref = make_optimizer(theirs, "adam", 1e-2, 0.5, 0.999)
    step = torch.compile(opt.step, fullgraph=True) if compiled else opt.step
    for _ in range(4):
        grad = torch.randn(1, 32, 2, dtype=torch.float64).transpose(1, 2)
        assert not grad.is_contiguous()
        step([grad])
        theirs[0].grad = grad.contiguous()
        ref.step()
    assert torch.allclose(ours[0], theirs[0], rtol=1e-12, atol=1e-12)  # float64: rounding aside
    assert (ours[0] - start).abs().max() > 1e-2  # moved far beyond the tolerance


def test_compiled_adam_matches_torch_optim_and_resumes_its_corrections():
    """The compiled update computes the bias corrections one update ahead; a loaded state must
    give the same next update as an uninterrupted optimiser."""
    torch.manual_seed(3)
    grads = [[torch.randn(3, 4, dtype=torch.float64)] for _ in range(8)]
    ours = [torch.randn(3, 4, dtype=torch.float64)]
    theirs = [ours[0].clone().requires_grad_()]
    opt = Optimizer(ours, OptimizerSettings("adam", 1e-2, 0.0, 0.9))
    ref = make_optimizer(theirs, "adam", 1e-2, 0.0, 0.9)
    step = torch.compile(opt.step, fullgraph=True)
    for g in grads[:4]:
        step(g)
        theirs[0].grad = g[0].clone()
        ref.step()
    resumed = [ours[0].clone()]
    opt_resumed = Optimizer(resumed, OptimizerSettings("adam", 1e-2, 0.0, 0.9))
    opt_resumed.load_state_dict(opt.state_dict())
    step_resumed = torch.compile(opt_resumed.step, fullgraph=True)
    for g in grads[4:]:
        step(g)
        step_resumed(g)
        theirs[0].grad = g[0].clone()
        ref.step()
    assert float(opt.state["step"][0]) == 8
    assert torch.allclose(ours[0], theirs[0], rtol=1e-12, atol=1e-12)
    assert torch.equal(ours[0], resumed[0])
