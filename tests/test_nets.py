"""The players' compile-only forms compute what torch's own modules compute.

Compiled, the activations are ``where`` forms and a layer with one or two inputs is a sum of
broadcast products (nets/stacked.py says why). Here those forms run eagerly, by making
``torch.compiler.is_compiling`` answer True, and are compared with torch's modules.
"""

from unittest import mock

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from gangames.nets.stacked import LeakyReLU, ReLU, StackedLinear, init_players, mlp_critic
from gangames.games.penalties import two_sided_penalty


def compiled_forms():
    return mock.patch.object(torch.compiler, "is_compiling", lambda: True)


@pytest.mark.parametrize("ours, theirs", [(LeakyReLU(0.2), nn.LeakyReLU(0.2)), (ReLU(), nn.ReLU())])
def test_activations_match_torch_in_values_and_gradients(ours, theirs):
    x = torch.tensor([-3.0, -0.5, 0.0, 0.25, 2.0, float("nan")], dtype=torch.float64, requires_grad=True)
    g = torch.tensor([1.0, -2.0, 3.0, 0.5, -1.0, 1.0], dtype=torch.float64)
    with compiled_forms():
        y = ours(x)
        (grad,) = torch.autograd.grad(y, x, g)
    y_ref = theirs(x)
    (grad_ref,) = torch.autograd.grad(y_ref, x, g)
    assert torch.equal(y[:-1], y_ref[:-1]) and torch.equal(grad[:-1], grad_ref[:-1])
    assert torch.isnan(y[-1])  # a NaN reaches the losses, where the trainer stops the run


def critic_pair(players=1, width=16):
    """Our critic and the same weights through torch's own activation modules."""
    critic = init_players(mlp_critic(players, 2, [width, width], "leaky_relu").double(), [3])
    plain = init_players(mlp_critic(players, 2, [width, width], "leaky_relu").double(), [3])
    for i, layer in enumerate(plain.trunk):
        if isinstance(layer, nn.LeakyReLU):
            plain.trunk[i] = nn.LeakyReLU(layer.negative_slope)
    return critic, plain


class CountMatmuls(TorchDispatchMode):
    calls = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func._overloadpacket in (torch.ops.aten.bmm, torch.ops.aten.mm, torch.ops.aten.baddbmm, torch.ops.aten.addmm):
            self.calls += 1
        return func(*args, **(kwargs or {}))


def penalty_gradients(critic, points):
    """The penalty's gradient for every parameter (the first bias's is exactly 0 for a piecewise
    linear critic: our form leaves it out of the graph, torch's computes the zeros)."""
    params = list(critic.parameters())
    with CountMatmuls() as count:
        penalty = two_sided_penalty(critic, points).sum()
        grads = torch.autograd.grad(penalty, params, allow_unused=True, materialize_grads=True)
    return penalty, grads, count.calls


def test_the_gradient_penalty_is_unchanged_and_its_double_backward_does_fewer_products():
    critic, plain = critic_pair()
    points = torch.randn(1, 64, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with compiled_forms():
        penalty, grads, calls = penalty_gradients(critic, points)
    penalty_ref, grads_ref, calls_ref = penalty_gradients(plain, points)
    assert torch.allclose(penalty, penalty_ref, rtol=1e-12)
    for a, b in zip(grads, grads_ref):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)
    # torch's leaky_relu_backward sends zeros back through the earlier layers' products
    assert calls < calls_ref, (calls, calls_ref)


@pytest.mark.parametrize("in_features", [1, 2, 3])
def test_a_layer_of_few_inputs_as_broadcast_products_equals_the_matrix_product(in_features):
    layer = init_players(StackedLinear(2, in_features, 5).double(), [1, 2])
    x = torch.randn(2, 7, in_features, dtype=torch.float64, requires_grad=True)
    with compiled_forms():
        y = layer(x)
        grads = torch.autograd.grad(y.square().sum(), [x, layer.weight, layer.bias])
    y_ref = torch.baddbmm(layer.bias, x, layer.weight)
    grads_ref = torch.autograd.grad(y_ref.square().sum(), [x, layer.weight, layer.bias])
    assert torch.allclose(y, y_ref, rtol=1e-12)
    for a, b in zip(grads, grads_ref):
        assert torch.allclose(a, b, rtol=1e-12, atol=1e-12)
