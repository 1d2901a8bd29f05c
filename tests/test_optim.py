"""The functional optimisers give torch.optim's numbers, eagerly and over stacked players."""

import pytest
import torch

from gangames.optim import Optimizer, OptimizerSettings
from gangames.reference import make_optimizer


@pytest.fixture(autouse=True)
def fresh_compiler():
    """Each test compiles ``Optimizer.step`` anew: dynamo allows 8 graphs per code object."""
    torch._dynamo.reset()


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
    start = [p.clone() for p in ours]
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
    assert float(opt.counts) == 5
    # Five updates moved every parameter tensor far beyond the tolerance (a no-op would fail above).
    assert all((a - s).abs().max() > 1e-3 for a, s in zip(ours, start))


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("name", ["adam", "rmsprop", "sgd"])
def test_frozen_players_keep_their_parameters_state_and_step_count(name, compiled):
    """Three stacked players; player 1 is frozen for updates 4 and 5. Every player must follow its own
    torch.optim optimiser fed only the updates it took: for Adam that needs per-player step counts
    (a shared count would give player 1 the bias corrections of 7 updates after taking 5)."""
    torch.manual_seed(4)
    settings = OptimizerSettings(name, 1e-2, 0.5 if name != "rmsprop" else 0.0, 0.999 if name == "adam" else 0.9)
    ours = [torch.randn(3, 4, 2, dtype=torch.float64), torch.randn(3, 1, 5, dtype=torch.float64)]
    theirs = [[p[i].clone().requires_grad_() for p in ours] for i in range(3)]
    refs = [make_optimizer(t, settings.name, settings.lr, settings.beta1, settings.beta2) for t in theirs]
    opt = Optimizer(ours, settings, players=3)
    step = torch.compile(opt.step, fullgraph=True) if compiled else opt.step
    frozen = torch.tensor([False, True, False])
    for update in range(7):
        grads = [torch.randn_like(p) for p in ours]
        skip = update in (3, 4)
        if skip:
            opt.step(grads, frozen=frozen)  # frozen updates are eager (the auction's stage)
        else:
            step(grads)
        for i in range(3):
            if skip and i == 1:
                continue
            for p, g in zip(theirs[i], grads):
                p.grad = g[i].clone()
            refs[i].step()
    assert opt.counts.tolist() == [7.0, 5.0, 7.0]
    for i in range(3):
        for p, theirs_p in zip(ours, theirs[i]):
            assert torch.allclose(p[i], theirs_p, rtol=1e-12, atol=1e-12), (name, i)


def test_a_frozen_update_needs_stacked_players():
    opt = Optimizer([torch.zeros(3, 2)], OptimizerSettings())
    with pytest.raises(ValueError, match="needs stacked players"):
        opt.step([torch.ones(3, 2)], frozen=torch.tensor([True, False, False]))
    with pytest.raises(ValueError, match="no leading axis of 4 players"):
        Optimizer([torch.zeros(3, 2)], OptimizerSettings(), players=4)


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
    assert float(opt.counts) == 8
    assert torch.allclose(ours[0], theirs[0], rtol=1e-12, atol=1e-12)
    assert torch.equal(ours[0], resumed[0])
