"""The compiled game step gives the eager step's parameters; a compiler failure falls back to eager."""

import warnings

import pytest
import torch

from gangames import build
from gangames.config import Config, apply_overrides
from gangames.errors import ConfigError
from gangames.train.compiled import GuardedCompile, compile_function, use_cache_dir


def params(game):
    return [p.detach().clone() for m in game.modules().values() for p in m.parameters()]


@pytest.mark.parametrize("name", ["ns", "gan-gp"])
def test_compiled_and_eager_steps_give_the_same_parameters(name):
    """Twenty steps, in five compiled calls of four steps."""
    cfg = build.resolve(apply_overrides(Config(), [f"game.name={name}", "generator.hidden=[32, 32]",
                                                   "discriminator.hidden=[32, 32]", "data.batch_size=64"]))
    assert cfg.run.steps_per_call == 4
    data = build.build_data(cfg)
    eager, compiled = build.build_game_for(cfg, data), build.build_game_for(cfg, data)
    play = compiled.compiled_steps(compile_function)
    rng = torch.Generator().manual_seed(0)
    inputs = [eager.draw(data, 64, rng, i) for i in range(1, 21)]
    for start in range(0, 20, 4):
        b = play(inputs[start:start + 4])[-1]
    for x in inputs:
        a = eager.step(x)
    assert play.failed is None and play.compile_seconds > 0
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


def test_steps_per_call_is_four_for_games_of_one_critic_step_unless_set():
    of = lambda *o: build.resolve(apply_overrides(Config(), list(o))).run.steps_per_call  # noqa: E731
    assert (of("game.name=ns"), of("game.name=wgan-gp"), of("game.name=auction")) == (4, 1, 4)
    assert of("game.name=wgan", "run.steps_per_call=2") == 2
    with pytest.raises(ConfigError, match="run.steps_per_call must be >= 1, got 0"):
        of("run.steps_per_call=0")


def test_compile_is_chosen_by_run_length_unless_set():
    assert build.resolve(apply_overrides(Config(), ["run.steps=100"])).run.compile is False
    assert build.resolve(apply_overrides(Config(), ["run.steps=20000"])).run.compile is True
    assert build.resolve(apply_overrides(Config(), ["run.steps=20000", "run.compile=false"])).run.compile is False


def test_compiled_kernels_go_to_our_cache_unless_the_user_chose_a_folder(tmp_path, monkeypatch):
    from torch._inductor.runtime.cache_dir_utils import cache_dir, default_cache_dir

    monkeypatch.setenv("GANGAMES_CACHE", str(tmp_path / "ours"))
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", default_cache_dir())  # what importing torch._dynamo does
    use_cache_dir()
    assert cache_dir() == str(tmp_path / "ours" / "inductor")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "theirs"))
    use_cache_dir()
    assert cache_dir() == str(tmp_path / "theirs")
