"""The auction game: bids against a direct loop, the winner, the auxiliary stage, batching, learning."""

import json

import numpy as np
import pytest
import torch

from gangames import build
from gangames.games.auction import AuctionGame, auction_scores, bid_matrix
from gangames.metrics.mixture import mode_coverage
from gangames.reference import plain_copy
from gangames.train import checkpoint
from gangames.train.trainer import Trainer
from helpers import metric_rows


def auction_game(small_cfg, players=4, seed=0, **auction):
    cfg = small_cfg("auction", auction={"players": players, "lot_size": 64, **auction}, run={"seed": seed})
    data = build.build_data(cfg)
    game = build.build_game_for(cfg, data)
    assert isinstance(game, AuctionGame) and game.players.count == players
    return cfg, data, game


@pytest.mark.parametrize("player_game, space, mode", [("ns", "probability", "raw"), ("wgan", "critic", "centered")])
def test_bid_matrix_against_a_direct_loop(small_cfg, player_game, space, mode):
    cfg, data, game = auction_game(small_cfg, player_game=player_game)
    assert (cfg.auction.bid_space, cfg.auction.bid_mode) == (space, mode)
    rng = torch.Generator().manual_seed(1)
    lots_latent, real = game.players.latent((4, 64), rng), data.sample(64, rng)
    result = game.auction(lots_latent, real)
    G = [plain_copy(game.players.generator, p) for p in range(4)]
    D = [plain_copy(game.players.discriminator, p) for p in range(4)]
    score = torch.sigmoid if space == "probability" else (lambda t: t)
    with torch.no_grad():
        lots = [G[i](lots_latent[i]) for i in range(4)]
        for j in range(4):
            for i in range(4):
                if i == j:
                    assert torch.isnan(result["bids"][j, i])
                    continue
                bid = score(D[j](lots[i])).mean()
                if mode == "centered":
                    bid = bid - score(D[j](real)).mean()
                assert result["bids"][j, i].item() == pytest.approx(bid.item(), rel=1e-5, abs=1e-6)
    received = [np.mean([result["bids"][j, i].item() for j in range(4) if j != i]) for i in range(4)]
    assert result["scores"].numpy() == pytest.approx(received, rel=1e-5)
    assert result["winner"].item() == int(np.argmax(received))


def test_score_rules_and_winner_on_a_hand_made_matrix():
    bids = torch.tensor([[0.0, 0.9, 0.1], [0.2, 0.0, 0.3], [0.4, 0.5, 0.0]])
    bids = bid_matrix(bids[:, :, None], None)  # M = 1 lot sample each
    assert torch.isnan(bids.diagonal()).all()
    assert auction_scores(bids, "mean").tolist() == pytest.approx([0.3, 0.7, 0.2])
    assert auction_scores(bids, "sum").tolist() == pytest.approx([0.6, 1.4, 0.4])
    assert auction_scores(bids, "median").tolist() == pytest.approx([0.2, 0.5, 0.1])  # lower median of 2
    centred = bid_matrix(torch.ones(3, 3, 2), torch.tensor([[1.0, 1.0], [0.5, 0.5], [0.0, 0.0]]))
    assert centred[0, 1].item() == 0.0 and centred[1, 0].item() == 0.5 and centred[2, 0].item() == 1.0


@pytest.mark.parametrize("best_rule", ["partner", "lowest_bids_given"])
def test_auxiliary_stage_moves_only_the_others_toward_the_best(small_cfg, best_rule):
    cfg, data, game = auction_game(small_cfg, aux_steps=5, best_rule=best_rule)
    rng = torch.Generator().manual_seed(2)
    result = game.auction(game.players.latent((4, 64), rng), data.sample(64, rng))
    best = result["best"].item()
    if best_rule == "lowest_bids_given":
        assert best == int(np.nanargmin(np.nanmean(result["bids"].numpy(), axis=1)))
    before = {k: v.clone() for k, v in game.players.discriminator.state_dict().items()}
    generators = {k: v.clone() for k, v in game.players.generator.state_dict().items()}
    aligned = game.auxiliary_stage(result, None)
    after = game.players.discriminator.state_dict()
    for key in before:
        assert torch.equal(after[key][best], before[key][best]), key  # the best one is untouched
        for p in range(4):
            if p != best:
                assert not torch.equal(after[key][p], before[key][p]), (key, p)
    for key, value in game.players.generator.state_dict().items():
        assert torch.equal(value, generators[key])  # generators are not touched (B6 default)
    others = [p for p in range(4) if p != best]
    assert aligned["disagreement_before"][best] == 0 and aligned["disagreement_after"][best] == 0
    assert (aligned["disagreement_after"][others] < aligned["disagreement_before"][others]).all()


def test_without_auctions_the_batched_players_equal_separate_runs(small_cfg):
    cfg, data, game = auction_game(small_cfg, players=3, enabled=False, seed=9)
    seeds = build.player_seeds(9, 3)
    singles = [build.build_game(small_cfg("ns"), build.build_players(small_cfg("ns"), data, [s])) for s in seeds]
    rng = torch.Generator().manual_seed(0)
    for step in range(1, 4):
        inputs = game.draw(data, cfg.data.batch_size, rng, step)
        assert "auction" not in inputs
        game.step(inputs)
        for p, single in enumerate(singles):
            single.step({"real": inputs["real"][:, p:p + 1], "z_disc": inputs["z_disc"][:, p:p + 1],
                         "z_gen": inputs["z_gen"][p:p + 1], "noise": {}})
    for p, single in enumerate(singles):
        ours = dict(game.players.generator.named_parameters())
        for key, theirs in single.players.generator.named_parameters():
            assert torch.allclose(ours[key][p], theirs[0], rtol=1e-5, atol=1e-6)


def test_several_rounds_in_one_call_hold_their_auction_where_it_falls(small_cfg):
    """``steps`` over rounds 1-5 with an auction after round 3 equals five single steps, and
    a call ends after each auction (``ends_call``)."""
    games, logs = [auction_game(small_cfg, players=3, period=3, seed=4) for _ in range(2)], []
    for (cfg, data, game), together in zip(games, (True, False)):
        rng = torch.Generator().manual_seed(0)
        rounds = [game.draw(data, cfg.data.batch_size, rng, step) for step in range(1, 6)]
        logs.append(game.steps(rounds) if together else [game.step(r) for r in rounds])
    assert ["events" in row for row in logs[0]] == [False, False, True, False, False]
    assert [games[0][2].ends_call(step) for step in range(1, 7)] == [False, False, True, False, False, True]
    for a, b in zip(logs[0], logs[1]):
        assert torch.equal(a["d_loss"], b["d_loss"])
    for role, module in games[0][2].modules().items():
        for key, value in module.state_dict().items():
            assert torch.equal(value, games[1][2].modules()[role].state_dict()[key]), (role, key)


def test_independent_is_the_auction_game_with_auctions_off(small_cfg):
    cfg = small_cfg("independent")
    assert cfg.auction.enabled is False and build.player_count(cfg) == 4


def test_training_logs_every_auction_and_resumes_bit_identically(tmp_path, small_cfg):
    cfg = small_cfg("auction", auction={"players": 3, "period": 5, "lot_size": 32},
                    run={"steps": 20, "checkpoint_every": 10, "log_every": 5, "keep_checkpoints": 5})
    Trainer(cfg, tmp_path / "a").run()
    rows = [json.loads(line) for line in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    auctions = [r for r in rows if "auction" in r]
    assert [r["step"] for r in auctions] == [5, 10, 15, 20]
    first = auctions[0]["auction"]
    assert len(first["bids"]) == 3 and all(len(row) == 3 for row in first["bids"])
    assert first["winner"] == int(np.argmax(first["scores"]))
    losses = next(r for r in rows if "d_loss" in r)
    assert isinstance(losses["d_loss"], list) and len(losses["d_loss"]) == 3
    # Resume from step 10 reproduces the same parameters, optimiser states (the auxiliary one too).
    (tmp_path / "a" / "checkpoints" / "step-00000020.pt").unlink()
    straight = checkpoint.read(next((tmp_path / "a").glob("checkpoints/step-00000010.pt")))
    assert "auxiliary" in straight["optimizers"]
    Trainer(cfg, tmp_path / "b").run()
    Trainer.resume(tmp_path / "a").run()
    a = checkpoint.load_latest(tmp_path / "a" / "checkpoints")
    b = checkpoint.load_latest(tmp_path / "b" / "checkpoints")
    for role in a["modules"]:
        for key in a["modules"][role]:
            assert torch.equal(a["modules"][role][key], b["modules"][role][key])
    assert metric_rows(tmp_path / "a" / "metrics.jsonl") == metric_rows(tmp_path / "b" / "metrics.jsonl")


def test_a_small_auction_run_learns_the_ring(tmp_path, small_cfg):
    """The best player learns the ring and no player collapses.

    At lr 1e-3 single players hop between modes, so "every player >= 6 modes" held on only 11 to
    16 of 18 seeds (and any change of float rounding reshuffles which). At this budget of 2000 steps
    this criterion held on all 36 runs measured (seeds 0-17, before and after a change of rounding):
    the best player had >= 7 modes, the worst >= 4. An untrained generator covers 0 or 1.
    """
    cfg = small_cfg("auction", auction={"players": 2, "period": 100},
                    generator={"hidden": [128, 128, 128], "lr": 1e-3},
                    discriminator={"hidden": [128, 128, 128], "lr": 1e-3},
                    data={"batch_size": 512}, run={"steps": 2000, "snapshot_size": 2000})
    Trainer(cfg, tmp_path / "run").run()
    samples = np.load(tmp_path / "run" / "samples" / "step-00002000.npy")
    assert samples.shape == (2, 2000, 2)
    stats = [mode_coverage(player, build.build_data(cfg).centres, 0.02) for player in samples]
    best = max(stats, key=lambda s: (s["modes"], s["hq"]))
    assert best["modes"] >= 7 and best["hq"] > 0.3, stats
    assert min(s["modes"] for s in stats) >= 3, stats
