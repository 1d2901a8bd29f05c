"""Helpers shared by the tests."""

from gangames.optim import Optimizer, OptimizerSettings

SGD = OptimizerSettings("sgd", lr=0.05, beta1=0.0)


def in_float64_with_sgd(game):
    """Run the comparison in float64 with plain SGD. Adam and RMSprop divide by the gradient's own
    size, so a gradient that is exactly 0 in one implementation and 1e-17 in the other (the critic's
    last bias under the Wasserstein loss) would move by +-lr; their update rules are checked against
    torch.optim in test_optim.py."""
    for role in ("generator", "discriminator"):
        module = getattr(game.players, role).double()
        setattr(game.players, f"{role}_opt", Optimizer(list(module.parameters()), SGD))
    return game


def double(inputs):
    """Every tensor of a step's inputs in float64 (flags and other values unchanged)."""
    if isinstance(inputs, dict):
        return {k: double(v) for k, v in inputs.items()}
    return inputs.double() if hasattr(inputs, "double") else inputs


def metric_rows(path):
    """metrics.jsonl rows without their wall-clock "seconds" (which no two runs share)."""
    import json

    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]
