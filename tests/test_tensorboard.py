"""TensorBoard events read back with TensorBoard's own reader: the same numbers as metrics.jsonl."""

import json

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from gangames.training.trainer import Trainer
from test_trainer import cfg_of


def events(folder):
    accumulator = EventAccumulator(str(folder / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    accumulator.Reload()
    return accumulator


def rows(folder):
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def test_losses_evaluations_and_auctions_as_scalars(tmp_path):
    run = tmp_path / "run"
    Trainer(cfg_of("game.name=auction", "auction.players=2", "auction.period=5", "auction.lot_size=16",
                   "run.steps=20", "run.log_every=5", "eval.every=10", "eval.samples=300", "eval.mode_samples=300",
                   'eval.metrics=["w2"]', "run.tensorboard=true"), run).run()
    logged = events(run)
    scalars = set(logged.Tags()["scalars"])
    assert {"d_loss/player0", "d_loss/player1", "g_loss/player1", "eval/w2", "auction/winner",
            "auction/score/player0"} <= scalars
    losses = [r for r in rows(run) if "d_loss" in r]
    assert [e.step for e in logged.Scalars("d_loss/player1")] == [r["step"] for r in losses] == [5, 10, 15, 20]
    assert [e.value for e in logged.Scalars("d_loss/player1")] == pytest.approx([r["d_loss"][1] for r in losses])
    evals = [r for r in rows(run) if "eval" in r]
    assert [e.value for e in logged.Scalars("eval/w2")] == pytest.approx([r["eval"]["w2"] for r in evals])
    auctions = [r for r in rows(run) if "auction" in r]
    assert [(e.step, e.value) for e in logged.Scalars("auction/winner")] == [(r["step"], r["auction"]["winner"]) for r in auctions]


def test_sample_grids_as_images_and_a_resumed_run_purges_the_replayed_steps(tmp_path):
    run = tmp_path / "run"
    common = ["data.preset=digits", "generator.hidden=[8, 16]", "discriminator.hidden=[8, 16]", "data.batch_size=8",
              "run.log_every=5", "run.snapshot_every=10", "run.checkpoint_every=10", "run.keep_checkpoints=5",
              "run.snapshot_size=16", "run.tensorboard=true"]
    Trainer(cfg_of(*common, "run.steps=20"), run).run()
    (run / "checkpoints" / "step-00000020.pt").unlink()  # a crash after step 20's rows, before its checkpoint
    Trainer.resume(run).run()
    logged = events(run)
    images = logged.Images("samples")
    assert [i.step for i in images] == [10, 20] and images[0].width == images[0].height > 0
    steps = [e.step for e in logged.Scalars("d_loss")]
    assert steps == [5, 10, 15, 20]  # 15 and 20 written twice, the first time purged
    assert [e.value for e in logged.Scalars("d_loss")] == pytest.approx([r["d_loss"] for r in rows(run) if "d_loss" in r])
