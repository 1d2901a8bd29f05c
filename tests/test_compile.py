"""The compiled game step gives the eager step's parameters; a compiler failure falls back to eager."""

import warnings

import pytest
import torch

from gangames import build
from gangames.config import Config, apply_overrides
from gangames.train.compiled import GuardedCompile, compile_function


def params(game):
    return [p.detach().clone() for m in game.modules().values() for p in m.parameters()]


@pytest.mark.parametrize("name", ["ns", "gan-gp"])
def test_compiled_and_eager_steps_give_the_same_parameters(name):
    cfg = build.resolve(apply_overrides(Config(), [f"game.name={name}", "generator.hidden=[32, 32]",
                                                   "discriminator.hidden=[32, 32]", "data.batch_size=64"]))
    data = build.build_data(cfg)
    eager, compiled = build.build_game_for(cfg, data), build.build_game_for(cfg, data)
    step = compiled.compiled_step(compile_function)
    rng = torch.Generator().manual_seed(0)
    for i in range(1, 21):
        inputs = eager.draw(data, 64, rng, i)
        a = eager.step(inputs)
        b = step(inputs)
    assert step.failed is None and step.compile_seconds > 0
    assert torch.allclose(a["d_loss"], b["d_loss"], rtol=1e-4, atol=1e-5)
    for x, y in zip(params(eager), params(compiled)):
        assert torch.allclose(x, y, rtol=1e-4, atol=1e-5)
    moved = max((x - p).abs().max() for x, p in zip(params(eager), params(build.build_game_for(cfg, data))))
    assert moved > 1e-3  # twenty steps moved the players far more than the tolerance


def test_a_compiler_failure_runs_eagerly_with_a_warning():
    calls = []

    def eager(x):
        calls.append(x)
        return x + 1

    def broken(x):
        raise torch._dynamo.exc.Unsupported("no")

    guarded = GuardedCompile(eager, broken)
    with pytest.warns(UserWarning, match="torch.compile failed .*running eagerly"):
        assert guarded(1) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert guarded(2) == 3  # eager from now on, without asking the compiler again
    assert calls == [1, 2]


def test_compile_is_chosen_by_run_length_unless_set():
    assert build.resolve(apply_overrides(Config(), ["run.steps=100"])).run.compile is False
    assert build.resolve(apply_overrides(Config(), ["run.steps=20000"])).run.compile is True
    assert build.resolve(apply_overrides(Config(), ["run.steps=20000", "run.compile=false"])).run.compile is False
