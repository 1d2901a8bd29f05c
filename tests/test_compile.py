"""The compiled game step gives the eager step's parameters; a compiler failure falls back to eager."""

import json
import warnings
from pathlib import Path

import pytest
import torch

from gangames import build
from gangames.config import Config, apply_overrides
from gangames.errors import ConfigError
from gangames.training.compiled import GuardedCompile, compile_function, use_cache_dir
from gangames.training.trainer import Trainer


def params(game):
    return [p.detach().clone() for m in game.modules().values() for p in m.parameters()]


@pytest.fixture
def in_float64():
    """Build and play in float64: a float32 gradient that is 0 in one graph and 1e-9 in the other
    moves a weight by +-lr at Adam's first step, and how often that happens depends on the host."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


@pytest.mark.parametrize("name", ["ns", pytest.param("gan-gp", marks=pytest.mark.slow),
                                  pytest.param("wgan-gp", marks=pytest.mark.slow)])
def test_compiled_and_eager_steps_give_the_same_parameters(name, in_float64):
    """Twenty steps, in five compiled calls of four unrolled rounds (run.steps_per_call = 4): the
    players and every piece of state a step updates in place (optimiser moments and counts, the
    generator's average and its count) as the eager steps leave them. WGAN-GP in a short run plays
    one graph per update (run.compile_unit = auto), its critic's called five times a round."""
    cfg = build.resolve(apply_overrides(Config(), [f"game.name={name}", "generator.hidden=[32, 32]",
                                                   "discriminator.hidden=[32, 32]", "data.batch_size=64",
                                                   "run.steps_per_call=4", "generator.ema=0.999",
                                                   "generator.ema_rampup=true"]))
    assert cfg.run.compile_unit == ("update" if name == "wgan-gp" else "round")
    data = build.build_data(cfg)
    eager, compiled = build.build_game_for(cfg, data), build.build_game_for(cfg, data)
    parts = []
    play = compiled.compiled_steps(lambda fn: parts.append(compile_function(fn)) or parts[-1])
    rng = torch.Generator().manual_seed(0)
    inputs = [eager.draw(data, 64, rng, i) for i in range(1, 21)]
    for start in range(0, 20, 4):
        b = play(inputs[start:start + 4])[-1]
    for x in inputs:
        a = eager.steps([x])[-1]  # as the trainer plays it: the generator's average follows each round
    assert len(parts) == (2 if name == "wgan-gp" else 1)
    assert all(part.failed is None and part.compile_seconds > 0 for part in parts)
    assert all(p.dtype == torch.float64 for p in params(compiled))
    assert torch.allclose(a["d_loss"], b["d_loss"], rtol=1e-9, atol=1e-10)
    for x, y in zip(params(eager), params(compiled)):
        assert torch.allclose(x, y, rtol=1e-9, atol=1e-10)
    moved = max((x - p).abs().max() for x, p in zip(params(eager), params(build.build_game_for(cfg, data))))
    assert moved > 1e-3  # twenty steps moved the players far more than the tolerance
    for role, opt in eager.optimizers().items():  # the generator's average is one of them ("generator_ema")
        mine = compiled.optimizers()[role].state_dict()
        for key, tensors in opt.state_dict().items():
            for x, y in zip(tensors, mine[key]):
                assert torch.allclose(x, y, rtol=1e-9, atol=1e-10), (role, key)
    assert eager.players.ema.count.item() == compiled.players.ema.count.item() == 20


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


def test_a_compiled_call_plays_one_round_unless_set():
    """One round per call: four unrolled rounds compiled 2.5x as long for 2-4 % of the step rate (docs/speed.md)."""
    of = lambda *o: build.resolve(apply_overrides(Config(), list(o))).run.steps_per_call  # noqa: E731
    assert (of("game.name=ns"), of("game.name=wgan-gp"), of("game.name=auction")) == (1, 1, 1)
    assert of("game.name=wgan", "run.steps_per_call=2") == 2
    with pytest.raises(ConfigError, match="run.steps_per_call must be >= 1, got 0"):
        of("run.steps_per_call=0")


def test_compile_is_chosen_by_run_length_and_the_cache_unless_set(tmp_path, monkeypatch):
    from gangames.training.compiled import compiled_before, remember_compiled

    monkeypatch.setenv("GANGAMES_CACHE", str(tmp_path))  # a machine that never compiled
    of = lambda *o: build.resolve(apply_overrides(Config(), list(o)))  # noqa: E731
    assert of("run.steps=100").run.compile is False
    assert of("run.steps=20000").run.compile is False  # a cold compile would not be repaid
    assert of("run.steps=49999").run.compile is False and of("run.steps=50000").run.compile is True
    assert of("run.steps=200000", "run.compile=false").run.compile is False
    remember_compiled(of("run.steps=20000"))
    assert of("run.steps=20000").run.compile is True  # the same structure: from the cache
    assert of("run.steps=20000", "run.seed=3", "generator.lr=3e-4", "eval.samples=10").run.compile is True
    assert of("run.steps=4000").run.compile is False  # too short even from the cache
    assert of("run.steps=20000", "generator.hidden=[64]").run.compile is False  # another graph
    assert of("run.steps=20000", "game.name=wgan-gp").run.compile is False
    assert not compiled_before(of("run.steps=20000", "data.batch_size=64"))


def test_another_gangames_code_is_another_structure(tmp_path, monkeypatch):
    """A mark left by another version of gangames (or an edited checkout) does not count: its graphs
    differ, so the inductor cache does not hold this code's kernels."""
    from gangames.training import compiled

    monkeypatch.setenv("GANGAMES_CACHE", str(tmp_path))
    cfg = build.resolve(apply_overrides(Config(), ["run.steps=20000"]))
    digest = compiled.code_digest.__wrapped__
    compiled.remember_compiled(cfg)
    assert compiled.compiled_before(cfg)
    monkeypatch.setattr(compiled, "code_digest", lambda: "another version")
    assert not compiled.compiled_before(cfg)
    # The digest follows the sources: names and contents.
    package = tmp_path / "package"
    (package / "sub").mkdir(parents=True)
    (package / "sub" / "a.py").write_text("x = 1\n")
    first = digest(package)
    (package / "sub" / "a.py").write_text("x = 2\n")
    second = digest(package)
    (package / "sub" / "a.py").rename(package / "b.py")
    assert len({first, second, digest(package)}) == 3
    # Every run records the digest of the code that made it.
    from gangames.training.run_dir import versions

    assert versions()["gangames_code"] == digest() != digest(package)


def test_a_compiled_run_marks_its_structure_as_cached(tmp_path, monkeypatch, small_cfg):
    """The trainer's part, with a stand-in compiler (one new graph on the first call, then the step
    itself): a run that compiled leaves the mark, one whose compiler failed or that ran eagerly does not."""
    from gangames.training import compiled, trainer

    def stand_in(step, cpp_wrapper=True):
        def first_call_compiles(*args):
            if not calls:
                torch._dynamo.utils.counters["stats"]["unique_graphs"] += 1
            calls.append(1)
            return step(*args)
        return GuardedCompile(step, first_call_compiles)

    def failing(step, cpp_wrapper=True):  # compiles a graph on its first call, fails to recompile on the next
        def compiles_then_fails(*args):
            calls.append(1)
            if len(calls) > 1:
                raise torch._dynamo.exc.Unsupported("no")
            torch._dynamo.utils.counters["stats"]["unique_graphs"] += 1
            return step(*args)
        return GuardedCompile(step, compiles_then_fails)

    monkeypatch.setenv("GANGAMES_CACHE", str(tmp_path / "cache"))
    calls = []
    monkeypatch.setattr(trainer, "compile_function", stand_in)
    cfg = small_cfg("ns", run={"steps": 8, "compile": True, "steps_per_call": 2})
    assert not compiled.compiled_before(cfg)
    Trainer(cfg, tmp_path / "run").run()
    assert calls and compiled.compiled_before(cfg)
    eager = small_cfg("ns", run={"steps": 8, "compile": False}, generator={"hidden": [8]})
    Trainer(eager, tmp_path / "eager").run()
    assert not compiled.compiled_before(eager)  # an eager run leaves no mark
    monkeypatch.setattr(trainer, "compile_function", failing)
    calls.clear()
    broken = small_cfg("ns", run={"steps": 8, "compile": True, "steps_per_call": 2}, generator={"hidden": [4]})
    with pytest.warns(UserWarning, match="torch.compile failed"):
        Trainer(broken, tmp_path / "broken").run()
    assert not compiled.compiled_before(broken)  # nothing was compiled


def test_a_default_compiled_run_plays_its_first_steps_eagerly(tmp_path, monkeypatch, small_cfg):
    """run.compile unset: the compiled step (a stand-in that notes how many eager rounds came before
    its first call) takes over only after run.compile_after steps; set, it takes over at once."""
    from gangames.training import trainer

    eager_rounds, first_call = [], []

    def stand_in(step, cpp_wrapper=True):
        def notes_its_first_call(rounds):
            if not first_call:
                first_call.append(len(eager_rounds))
            return step(rounds)
        return GuardedCompile(step, notes_its_first_call)

    monkeypatch.setattr(trainer, "compile_function", stand_in)
    of = lambda *o: build.resolve(apply_overrides(Config(), list(o)))  # noqa: E731
    assert of("run.steps=200000").run.compile_after == 1000 and of("run.compile=true").run.compile_after == 0
    assert of("run.compile_after=7").run.compile_after == 7
    with pytest.raises(ConfigError, match="run.compile_after must be >= 0"):
        of("run.compile_after=-1")
    for after, expected in ((10, 10), (0, 0)):
        eager_rounds.clear(), first_call.clear()
        cfg = small_cfg("ns", run={"steps": 24, "compile": True, "steps_per_call": 2, "compile_after": after})
        t = Trainer(cfg, tmp_path / f"after{after}")
        eager_steps = t.game.steps
        t.game.steps = lambda rounds: eager_rounds.extend(rounds) or eager_steps(rounds)
        assert t.run().step == 24
        assert first_call == [expected], after


def test_compiled_kernels_and_headers_go_to_our_cache_unless_the_user_chose_a_folder(tmp_path, monkeypatch):
    from torch._inductor import codecache
    from torch._inductor.runtime.cache_dir_utils import cache_dir, default_cache_dir

    for name in ("_HEADER_DIR", "_HEADER_LOCK_DIR"):  # torch's; put back after the test
        monkeypatch.setattr(codecache, name, getattr(codecache, name))
    monkeypatch.setenv("GANGAMES_CACHE", str(tmp_path / "ours"))
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", default_cache_dir())  # what importing torch._dynamo does
    use_cache_dir()
    assert cache_dir() == str(tmp_path / "ours" / "inductor")
    # The precompiled headers outlive a reboot with the kernels (torch's own folder is temporary).
    assert codecache._HEADER_DIR == str(tmp_path / "ours" / "inductor" / "precompiled_headers")
    assert codecache._HEADER_LOCK_DIR == str(tmp_path / "ours" / "inductor" / "precompiled_headers" / "locks")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "theirs"))
    use_cache_dir()
    assert cache_dir() == str(tmp_path / "theirs")
    assert codecache._HEADER_DIR == str(Path(default_cache_dir()) / "precompiled_headers")


def test_a_machines_first_compile_starts_its_one_time_set_up_in_a_helper_process_once(tmp_path, monkeypatch):
    """On a machine without precompiled headers, the first compiled call starts one helper process
    (given the header folder and our inductor settings); no second one in the same process, none on
    a machine that has headers, none for the GPU's Python launcher."""
    from torch._inductor import codecache

    from gangames.training import compiled

    started, waited = [], []

    class Helper:
        def __init__(self, args, **kwargs):
            started.append(args)

        def wait(self):
            waited.append(self)

    monkeypatch.setattr(compiled, "_set_up", [])
    monkeypatch.setattr(codecache, "_HEADER_DIR", str(tmp_path / "headers"))
    monkeypatch.setattr(compiled.subprocess, "Popen", Helper)
    calls = []
    step = compiled.GuardedCompile(lambda x: x, lambda x: calls.append(x) or x,
                                   before_first_call=compiled.set_up_machine_aside)
    assert not started  # nothing before the first call
    assert step(1) == 1 and step(2) == 2 and calls == [1, 2]
    assert len(started) == 1
    assert started[0][3] == str(tmp_path / "headers") and started[0][4] == json.dumps(compiled.inductor_options(True))
    assert compiled.set_up_machine_aside() is None and len(started) == 1  # once per process
    compiled.wait_for_set_up()
    assert len(waited) == 1  # a benchmark can wait for it
    monkeypatch.setattr(compiled, "_set_up", [])
    (tmp_path / "headers").mkdir()
    (tmp_path / "headers" / "kernels.h.gch").write_bytes(b"")
    assert compiled.set_up_machine_aside() is None and len(started) == 1  # headers there: nothing to build
    assert compile_function(lambda x: x, cpp_wrapper=True).before_first_call is compiled.set_up_machine_aside
    assert compile_function(lambda x: x, cpp_wrapper=False).before_first_call is None


@pytest.mark.slow
def test_the_helper_process_builds_the_precompiled_headers(tmp_path, monkeypatch):
    """The helper's own code, run for real: it leaves the two precompiled headers in the folder it
    was given and its kernels (the CPU probe among them) in the kernel cache it inherited (about
    12 s of g++)."""
    from torch._inductor import codecache

    from gangames.training import compiled

    monkeypatch.setattr(compiled, "_set_up", [])
    monkeypatch.setattr(codecache, "_HEADER_DIR", str(tmp_path / "headers"))
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "kernels"))
    helper = compiled.set_up_machine_aside()
    assert helper.wait(timeout=300) == 0
    assert len(list((tmp_path / "headers").glob("*.h.gch"))) == 2  # the kernels' (-O3) and the launcher's (-O1)
    assert list((tmp_path / "kernels").rglob("*.so"))


# Settings a sweep varies (game: its base settings, the settings changed). Each must enter the
# compiled step as an input: as a constant of the graph, every trial would compile the whole step
# again (40-150 s on 2 cores, docs/speed.md).
SWEPT = {
    "wgan": ([], ["generator.lr=3e-4", "discriminator.beta2=0.5", "game.clip=0.05"]),  # RMSprop, clipping
    "wgan-gp": ([], ["generator.lr=3e-3", "discriminator.beta1=0.3", "generator.beta2=0.95", "game.penalty_weight=2.5"]),
    "robust-w": (["robust.radius=0.5"], ["robust.gamma=9", "robust.step_size=0.01", "robust.radius=0.2", "discriminator.lr=2e-3"]),
    "ns": (["generator.optimizer=sgd", "generator.beta1=0.5"], ["generator.lr=0.05", "generator.beta1=0.7"]),  # SGD, momentum
}


class Graphs(list):
    """A dynamo backend that keeps the code of each FX graph it is given and runs the graph as
    traced: inductor would only add compile time (the graph is what its cache is keyed on)."""

    def __call__(self, graph, example_inputs):
        self.append(graph.code)
        return graph.forward


def traced(name, overrides, graphs: Graphs):
    """A game of ``name`` played two compiled calls of one round with the ``graphs`` backend, and an
    eager copy of the same game given the same inputs; returns both players' parameters and the
    parameters they started from."""
    cfg = build.resolve(apply_overrides(Config(), [
        f"game.name={name}", "generator.hidden=[8, 8]", "discriminator.hidden=[8, 8]", "data.batch_size=16",
        "robust.warmup=0", "robust.steps=2", "game.disc_steps=2", *overrides]))
    data = build.build_data(cfg)
    compiled, eager = build.build_game_for(cfg, data), build.build_game_for(cfg, data)
    play = torch.compile(compiled.steps, backend=graphs, fullgraph=True)
    rng = torch.Generator().manual_seed(0)
    rounds = [[eager.draw(data, 16, rng, i)] for i in (1, 2)]
    with torch._dynamo.config.patch(trace_autograd_ops=True):
        for inputs in rounds:
            play(inputs)
            eager.steps(inputs)
    return params(compiled), params(eager), params(build.build_game_for(cfg, data))


@pytest.mark.parametrize("name", sorted(SWEPT))
def test_swept_settings_are_inputs_of_the_compiled_step(name):
    base, swept = SWEPT[name]
    torch._dynamo.reset()
    graphs = Graphs()
    traced(name, base, graphs)
    assert len(graphs) == 1
    # In the same process, a game with other settings runs the graph already compiled ...
    compiled, eager, start = traced(name, base + swept, graphs)
    assert len(graphs) == 1
    # ... with its own settings: it ends where the eager game with those settings ends.
    for x, y, s in zip(compiled, eager, start):
        assert torch.allclose(x, y, rtol=1e-4, atol=1e-6)
    assert max((x - s).abs().max() for x, s in zip(compiled, start)) > 1e-3
    # In a new process (here: after a reset) it traces the same graph, which the on-disk cache holds.
    torch._dynamo.reset()
    traced(name, base + swept, graphs)
    assert len(graphs) == 2 and graphs[1] == graphs[0]


def test_a_setting_that_is_a_constant_of_the_graph_changes_it():
    """The check above can fail: the penalty's guard is (deliberately) a constant of the graph."""
    torch._dynamo.reset()
    graphs = Graphs()
    traced("wgan-gp", [], graphs)
    torch._dynamo.reset()
    traced("wgan-gp", ["game.penalty_guard=1e-3"], graphs)
    assert len(graphs) == 2 and graphs[1] != graphs[0]


@pytest.mark.parametrize("name", ["wgan-gp", "robust-w"])
def test_a_default_game_step_is_traced_once(name):
    """torch 2.13's compiler takes a 0-d float64 tensor input for a Python float, gives up on it once
    the step is traced and traces the whole step again (a sixth of WGAN-GP's cold compile,
    docs/speed.md). The settings kept as graph inputs (lambda, robust-w's gamma and step size, the
    generator average's decay, on by default on the mixtures) must not be such tensors."""
    cfg = build.resolve(apply_overrides(Config(), [
        f"game.name={name}", "generator.hidden=[8, 8]", "discriminator.hidden=[8, 8]", "data.batch_size=16",
        "game.disc_steps=2", "robust.warmup=0", "robust.steps=2", "run.compile_unit=round"]))
    assert cfg.generator.ema > 0 and cfg.game.penalty_weight > 0  # the settings the check is about are on
    data = build.build_data(cfg)
    game = build.build_game_for(cfg, data)
    torch._dynamo.reset()
    torch._dynamo.utils.compilation_time_metrics.clear()
    play = game.compiled_steps(lambda fn: torch.compile(fn, backend="aot_eager", fullgraph=True))
    with torch._dynamo.config.patch(trace_autograd_ops=True):
        play([game.draw(data, 16, torch.Generator().manual_seed(0), 1)])
    attempts = sorted(k for k in torch._dynamo.utils.compilation_time_metrics if k.startswith("compile_attempt_"))
    assert attempts == ["compile_attempt_0"]


@pytest.mark.parametrize("name,graphs,extra", [("wgan-gp", 2, []), ("robust-w", 3, []), ("wgan", 2, []),
                                               ("robust-w", 3, ["robust.mode=feature"])])
def test_the_update_unit_compiles_one_critic_update_and_plays_the_round(name, graphs, extra, in_float64):
    """run.compile_unit = update: one graph for the critic's update, called for each of its steps, and
    one for the generator's (robust-w: a critic graph with and one without the defenders, whose
    warm-up ends after round 1; in feature mode its head's penalty has noise of its own per critic
    step). Four rounds of three critic steps end where the eager rounds do: players, optimiser
    states and the generator's average."""
    cfg = build.resolve(apply_overrides(Config(), [
        f"game.name={name}", "generator.hidden=[8, 8]", "discriminator.hidden=[8, 8]", "data.batch_size=16",
        "game.disc_steps=3", "robust.warmup=1", "robust.steps=2", "generator.ema=0.9", "run.compile_unit=update", *extra]))
    data = build.build_data(cfg)
    eager, compiled = build.build_game_for(cfg, data), build.build_game_for(cfg, data)
    torch._dynamo.reset()
    before = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    play = compiled.compiled_steps(lambda fn: torch.compile(fn, backend="aot_eager", fullgraph=True))
    rng = torch.Generator().manual_seed(0)
    rounds = [eager.draw(data, 16, rng, i) for i in range(1, 5)]
    with torch._dynamo.config.patch(trace_autograd_ops=True):
        b = play(rounds)
    a = eager.steps(rounds)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] - before == graphs
    assert len(b) == 4 and b[-1].keys() == a[-1].keys()
    for key in a[-1]:
        assert torch.allclose(a[-1][key], b[-1][key], rtol=1e-9, atol=1e-10), key
    for x, y in zip(params(eager), params(compiled)):
        assert torch.allclose(x, y, rtol=1e-9, atol=1e-10)
    for role, opt in eager.optimizers().items():
        mine = compiled.optimizers()[role].state_dict()
        for key, tensors in opt.state_dict().items():
            for x, y in zip(tensors, mine[key]):
                assert torch.allclose(x, y, rtol=1e-9, atol=1e-10), (role, key)
    assert compiled.optimizers()["discriminator"].counts.tolist() == [12.0]
    moved = max((x - p).abs().max() for x, p in zip(params(eager), params(build.build_game_for(cfg, data))))
    assert moved > 1e-3


def test_the_compile_unit_is_chosen_by_critic_steps_and_run_length_unless_set():
    """auto: one graph per update where a round makes several critic updates and the run is short
    (the compile saved is not repaid by the faster round, docs/speed.md), else a round per graph."""
    of = lambda *o: build.resolve(apply_overrides(Config(), list(o))).run.compile_unit  # noqa: E731
    assert of("game.name=wgan-gp", "run.steps=5999") == "update"
    assert of("game.name=robust-w", "run.steps=2000") == "update"
    assert of("game.name=wgan-gp", "run.steps=6000") == "round"
    assert of("game.name=ns", "run.steps=2000") == "round"  # one critic step: nothing to reuse
    assert of("game.name=ns", "game.disc_steps=2", "run.steps=2000") == "update"
    assert of("game.name=wgan", "run.steps=2000", "run.compile_unit=round") == "round"
    assert of("game.name=ns", "run.compile_unit=update") == "update"
    with pytest.raises(ConfigError, match="run.compile_unit"):
        of("run.compile_unit=layer")
