"""A game, a loss and a data set of the user's own, registered from Python, played everywhere a
built-in one is: train, evaluate, compare (in worker processes), report, the auction, the CLI."""

import json
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import gangames
from gangames import build
from gangames.cli import app
from gangames.games.entry import Panel
from gangames.games.two_player import TwoPlayer, TwoPlayerGame
from gangames.seeds import Streams

SMALL = {"generator": {"hidden": [16]}, "discriminator": {"hidden": [16]}, "data": {"batch_size": 32},
         "eval": {"samples": 400, "mode_samples": 400}}


# -- a toy game: feature matching (Salimans et al. 2016), with its own config section ------------
@dataclass
class FeatureMatchingSettings:
    weight: float = 1.0  # the generator's loss: weight * |mean features(G(z)) - mean features(x)|^2


class FeatureMatchingGame(TwoPlayerGame):
    """NS-GAN's discriminator; the generator matches the mean of the critic's features on real data."""

    def __init__(self, base: TwoPlayerGame, weight: float):
        super().__init__(base.players, base.loss)
        self.weight = weight

    def draw(self, data, batch_size, streams, step=0):
        inputs = super().draw(data, batch_size, streams, step)
        real = data.sample(self.players.count * batch_size, Streams.of(streams).data)  # real data: the data stream
        inputs["real_gen"] = real.view(self.players.count, batch_size, *real.shape[1:])
        return inputs

    def step(self, inputs):
        logs = self.discriminator_step(inputs, 0)
        D, G = self.players.discriminator, self.players.generator
        gap = (D.features(G(inputs["z_gen"])).mean(1) - D.features(inputs["real_gen"]).mean(1).detach()).pow(2).sum(-1)
        loss = self.weight * gap
        self.players.generator_opt.step(torch.autograd.grad(loss.sum(), list(G.parameters())))
        return {**logs, "g_loss": loss.detach(), "fm_gap": gap.detach()}


@dataclass(frozen=True)
class FeatureMatching(TwoPlayer):
    section = "feature_matching"
    settings = FeatureMatchingSettings
    panels = (Panel("Feature matching", "curves", ("fm_gap",), "The generator's feature gap over training."),)

    def build(self, cfg, players, data):
        return FeatureMatchingGame(super().build(cfg, players, data), cfg.feature_matching.weight)

    def label(self, cfg):
        return f"fm(w={cfg.feature_matching.weight:g})"


gangames.register_game("toy-fm", FeatureMatching("feature matching, a toy plug-in (tests/test_plugins.py)", "ns"))


# -- a loss: least squares with targets -1 / +1 ------------------------------------------------
def symmetric_ls_discriminator(real, fake):
    return 0.5 * (real - 1).pow(2).mean(-1) + 0.5 * (fake + 1).pow(2).mean(-1)


def symmetric_ls_generator(fake):
    return 0.5 * (fake - 1).pow(2).mean(-1)


gangames.register_loss("symmetric-ls", symmetric_ls_discriminator, symmetric_ls_generator, score="critic",
                       description="least squares with targets -1/+1 (a test's loss)")


def test_the_registered_game_owns_a_config_section_and_is_listed(tmp_path):
    cfg = build.resolve(gangames.make_config({"game": {"name": "toy-fm"}, "feature_matching": {"weight": 2.5}}))
    assert cfg.feature_matching.weight == 2.5 and cfg.run.plugins == ["test_plugins"]
    with pytest.raises(gangames.api.ConfigError, match="unknown config key 'feature_matching.wieght'"):
        gangames.make_config({"feature_matching": {"wieght": 1}})
    listed = CliRunner().invoke(app, ["list"]).output
    assert "toy-fm" in listed and "symmetric-ls" not in listed  # games are listed; a loss is a [game] value


def test_a_registered_game_through_train_evaluate_compare_and_report(tmp_path):
    run = gangames.train("toy-fm", "ring8", steps=30, out=tmp_path / "one", config=SMALL, progress=False)
    assert run.status == "finished"
    rows = [r for r in run.metrics if "fm_gap" in r]
    assert len(rows) == 1 and rows[0]["step"] == 30 and rows[0]["fm_gap"] > 0
    assert 'name = "toy-fm"' in (tmp_path / "one" / "config.toml").read_text()
    assert "[feature_matching]" in (tmp_path / "one" / "config.toml").read_text()
    result = run.evaluate(metrics=["w2", "modes"])
    assert result["game"] == "toy-fm" and result["metrics"]["w2"] > 0
    assert run.sample(50).shape == (50, 2)

    # compare: worker processes import this module (run.plugins) to find the game
    comparison = gangames.compare(["toy-fm", "ns"], "ring8", seeds=1, steps=20, out=tmp_path / "cmp", config=SMALL,
                                  workers=2, compile=False)
    assert comparison.failed == [] and [r.status for r in comparison.runs] == ["finished", "finished"]
    assert json.loads((tmp_path / "cmp" / "toy-fm" / "seed0" / "run.json").read_text())["label"] == "fm(w=1)"
    page = comparison.report.read_text()
    assert ">Feature matching<" in page and ">fm(w=1)<" in page and ">ns<" in page

    # the command line: the run's config names the plug-in, so evaluate and report find it
    result = CliRunner().invoke(app, ["evaluate", str(tmp_path / "one"), "--metrics", "w2", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["metrics"]["w2"] > 0


def test_a_registered_loss_plays_inside_the_auction(small_cfg):
    """auction.player_game names a game; game.loss the pairs' loss: here the registered one."""
    cfg = small_cfg("auction", game={"loss": "symmetric-ls"}, auction={"players": 3, "period": 2, "lot_size": 16})
    assert cfg.auction.bid_space == "critic" and cfg.auction.bid_mode == "centered"
    data = build.build_data(cfg)
    game = build.build_game_for(cfg, data)
    rng = torch.Generator().manual_seed(0)
    inputs = game.draw(data, 32, rng, 2)
    D, G = game.players.discriminator, game.players.generator
    with torch.no_grad():
        real, fake = D(inputs["real"][0]), D(G(inputs["z_disc"][0]))
    logs = game.step(inputs)
    expected = symmetric_ls_discriminator(real, fake)  # the loss of the step's critic update, before it
    assert torch.allclose(logs["d_loss"], expected, rtol=1e-5)
    assert "auction" in logs["events"] and len(logs["events"]["auction"]["bids"]) == 3


def test_in_memory_data_an_array_a_tensor_and_a_dataset(tmp_path):
    rng = np.random.default_rng(0)
    points = rng.normal(size=(300, 3)) * [1.0, 5.0, 0.1] + [0.0, 10.0, -2.0]
    dataset = torch.utils.data.TensorDataset(torch.as_tensor(points, dtype=torch.float32), torch.zeros(300))
    for name, data in (("array", points), ("tensor", torch.as_tensor(points)), ("dataset", dataset)):
        run = gangames.train("ns", data, steps=10, out=tmp_path / name, config=SMALL, progress=False)
        saved = np.load(tmp_path / name / "data.npz")
        assert np.allclose(saved["x"], points, atol=1e-6), name
        assert run.config.data.preset == "array" and run.sample(20).shape == (20, 3)
    # A folder that holds a data set takes the same data again, and refuses other data.
    assert gangames.api.data_settings(points, tmp_path / "array")["data.path"].endswith("array/data.npz")
    with pytest.raises(gangames.api.DataError, match="holds other data"):
        gangames.api.data_settings(points[:100], tmp_path / "array")
