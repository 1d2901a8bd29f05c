"""The generator's moving average: its update rule, its ramp-up, resume, and what sampling uses."""

import json

import numpy as np
import pytest
import torch
from torch import nn

import gangames
from gangames.nets.ema import ParameterEMA
from gangames.training import checkpoint
from gangames.training.trainer import Trainer
from test_trainer import assert_same_state, call_lengths, cfg_of  # noqa: F401  (call_lengths: a fixture)


def test_the_update_rule_by_hand():
    layer = nn.Linear(3, 2)
    start = [p.detach().clone() for p in layer.parameters()]
    ema = ParameterEMA(layer, 0.9)
    expected = [s.clone() for s in start]
    for k in range(1, 6):
        with torch.no_grad():
            for p in layer.parameters():
                p.add_(float(k))  # a known trajectory
        ema.update()
        expected = [0.9 * e + 0.1 * p.detach() for e, p in zip(expected, layer.parameters())]
    for a, e in zip(ema.average, expected):
        assert torch.allclose(a, e, atol=1e-6)
    assert float(ema.count) == 5
    # a_5 is neither the start nor the current weights
    assert not torch.allclose(ema.average[0], layer.weight) and not torch.allclose(ema.average[0], start[0])


def test_the_ramp_up_forgets_the_start_sooner():
    layer = nn.Linear(1, 1, bias=False)
    ema = ParameterEMA(layer, 0.999, rampup=True)
    betas = []
    for t in range(1, 4):
        betas.append(float(ema.beta()))
        ema.update()
    assert betas == pytest.approx([2 / 11, 3 / 12, 4 / 13])  # min(0.999, (1 + t) / (10 + t))
    ema.count.fill_(100_000)
    assert float(ema.beta()) == pytest.approx(0.999)


def test_a_checkpoint_with_the_earlier_0d_count_loads():
    """Checkpoints written before 2026-12-06 hold the count as a 0-d tensor (now shape (1,), which a
    compiled step updates: tests/test_compile.py)."""
    layer = nn.Linear(2, 2)
    ema = ParameterEMA(layer, 0.999, rampup=True)
    ema.load_state_dict({"average": [a.clone() for a in ema.average], "count": [torch.tensor(7.0, dtype=torch.float64)]})
    assert ema.count.shape == (1,) and float(ema.count) == 7 and float(ema.beta()) == pytest.approx(9 / 18)


def test_swapping_in_the_average_restores_the_trained_weights_exactly():
    layer = nn.Linear(4, 4)
    ema = ParameterEMA(layer, 0.5)
    with torch.no_grad():
        layer.weight.mul_(3.0)
    trained = layer.weight.detach().clone()
    with ema.swapped():
        assert torch.equal(layer.weight, ema.average[0])
    assert torch.equal(layer.weight, trained)


def test_a_run_with_the_average_resumes_bit_identically_and_samples_from_it(tmp_path):
    common = ["game.name=ns", "run.seed=2", "run.checkpoint_every=10", "run.keep_checkpoints=5", "generator.ema=0.9",
              "generator.ema_rampup=false"]
    Trainer(cfg_of(*common, "run.steps=20"), tmp_path / "straight").run()
    Trainer(cfg_of(*common, "run.steps=10"), tmp_path / "resumed").run()
    Trainer.resume(tmp_path / "resumed", steps=20).run()
    a = checkpoint.load_latest(tmp_path / "straight" / "checkpoints")
    b = checkpoint.load_latest(tmp_path / "resumed" / "checkpoints")
    assert "generator_ema" in a["optimizers"]
    assert_same_state(a, b)
    assert float(a["optimizers"]["generator_ema"]["count"][0]) == 20

    run = gangames.load(tmp_path / "straight")
    samples = run.sample(300, seed=4)
    z = torch.randn((1, 300, 2), generator=torch.Generator().manual_seed(4))
    from gangames.training.restore import load_run

    loaded = load_run(tmp_path / "straight")
    G = loaded.game.players.generator
    trained = G(z)[0].detach().numpy()
    with torch.no_grad():
        for p, average in zip(G.parameters(), a["optimizers"]["generator_ema"]["average"]):
            p.copy_(average)
    assert np.allclose(samples, G(z)[0].detach().numpy(), atol=1e-6)
    assert not np.allclose(samples, trained, atol=1e-4)  # not the trained weights
    result = run.evaluate(metrics=["w2"], num=300)
    assert result["weights"] == "the generator's moving average (decay 0.9)"
    assert json.loads((tmp_path / "straight" / "eval.json").read_text())["weights"].startswith("the generator's moving")


def test_the_average_follows_every_step_of_a_compiled_call(tmp_path, call_lengths):  # noqa: F811
    common = ["game.name=ns", "run.seed=1", "run.steps=12", "generator.ema=0.8", "run.checkpoint_every=12"]
    Trainer(cfg_of(*common, "run.compile=false"), tmp_path / "one").run()
    Trainer(cfg_of(*common, "run.compile=true", "run.steps_per_call=4"), tmp_path / "four").run()
    assert call_lengths and set(call_lengths) == {4}
    assert_same_state(checkpoint.load_latest(tmp_path / "one" / "checkpoints"),
                      checkpoint.load_latest(tmp_path / "four" / "checkpoints"))
