"""The reproduction commands end to end at toy size, and their statistics."""

import math
import re

import numpy as np
import pytest
from scipy.stats import wilcoxon
from typer.testing import CliRunner

from gangames.cli import app
from gangames.reproduce import bid_picture, many_paths, robust_w
from gangames.reproduce.stats import fmt, mean_std, paired_wilcoxon
from gangames.runner import run_many

TINY = ["generator.hidden=[16]", "discriminator.hidden=[16]", "data.batch_size=32"]


def test_stats():
    assert mean_std([1.0, 3.0, float("nan")]) == (2.0, 1.0)  # population std, NaN ignored
    assert fmt([1.0, 3.0], 1) == "2.0 ± 1.0"
    treated, control = np.arange(10) + 1.0, np.zeros(10)
    assert paired_wilcoxon(treated, control) == pytest.approx(1 / 1024)  # every difference positive
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=12), rng.normal(size=12)
    assert paired_wilcoxon(a, b) == pytest.approx(wilcoxon(a - b, alternative="greater").pvalue)
    assert math.isnan(paired_wilcoxon([1.0, 2.0], [1.0, 2.0]))


def test_bid_picture_at_toy_size(tmp_path):
    tasks = bid_picture.plan(tmp_path, seeds=2, steps={"ns": 20, "wgan": 10}, players=2,
                             overrides=TINY + ["auction.period=5", "auction.lot_size=16"], compile_=False)
    assert len(tasks) == 8
    outcomes = run_many(tasks, workers=2)
    assert all(o.status == "finished" for o in outcomes), [o.error for o in outcomes]
    summary = bid_picture.summarise(outcomes)
    for variant in ("ns", "wgan"):
        for mode in ("auction", "classical"):
            rows = summary[variant]["seeds"][mode]
            assert [r["seed"] for r in rows] == [0, 1]
            assert all(r["worst_ll"] <= r["mean_ll"] for r in rows)
        assert 0 < summary[variant]["p_worst_ll"] <= 1
    table = bid_picture.markdown(summary)
    assert "| ns | auction (2 seeds) |" in table and "-3.235 / -4.995" in table
    # The auction runs logged auctions; the classical ones did not.
    auction_log = (tmp_path / "ns" / "auction" / "seed0" / "metrics.jsonl").read_text()
    assert '"auction"' in auction_log
    assert '"auction"' not in (tmp_path / "ns" / "classical" / "seed0" / "metrics.jsonl").read_text()


def test_robust_w_at_toy_size(tmp_path):
    tasks = robust_w.plan(tmp_path, seeds=1, steps=20, datasets=("ring8",), eval_every=10, eval_samples=100,
                          warmup=5, overrides=TINY, compile_=False)
    assert [t.name for t in tasks] == ["ring8/ns/seed0", "ring8/wgan-gp/seed0", "ring8/robust-w(gamma=5)/seed0",
                                       "ring8/robust-w(gamma=50)/seed0"]
    summary = robust_w.summarise(run_many(tasks, workers=2), {"ring8": 100.0})
    for label, runs in summary["results"]["ring8"].items():
        assert runs[0]["steps"] == [10, 20] and len(runs[0]["seconds"]) == 2, label
        assert runs[0]["steps_to"] == 10  # a threshold every run meets at its first evaluation
    robust_w.plot(summary, tmp_path / "w2.png")
    assert (tmp_path / "w2.png").stat().st_size > 10_000
    assert "| ring8 | robust-w(gamma=50) |" in robust_w.markdown(summary)


def test_many_paths_at_toy_size(tmp_path):
    tasks = many_paths.line_plan(tmp_path, dims=(2, 10), seeds=3, steps={2: 40, 10: 40}, games=("ns", "wgan-gp"),
                                 compile_=False)
    assert len(tasks) == 4  # the 3 seeds of a game train as one stacked run
    table = many_paths.line_summary(run_many(tasks, workers=2))
    assert set(table) == {"d2", "d10"} and set(table["d2"]) == {"ns", "wgan-gp"}
    assert len(table["d10"]["ns"]) == 3
    run = table["d10"]["ns"][1]
    assert run["trace"]["step"] == [2 * i for i in range(1, 21)] and len(run["trace"]["js"]) == 20
    assert 0 <= run["js_fell"] <= 1
    text = many_paths.line_markdown(table)
    assert re.search(r"\| 2 \| [0-3]/3 \| [0-3]/3 \|", text) and re.search(r"\| 10 \| [0-3]/3 \| [0-3]/3 \|", text)


def test_the_two_dimensional_line_starts_parallel_at_distance_two():
    from gangames import build
    from gangames.config import Config, apply_overrides
    from gangames.metrics.line import line_metrics

    cfg = build.resolve(apply_overrides(Config(), ["data.preset=line-d", "data.dim=2", "data.line_start=2.0"]))
    data = build.build_data(cfg)
    game = build.build_game_for(cfg, data)
    import torch

    samples = game.sample(torch.randn(1, 2000, 1))[0].numpy()
    stats = line_metrics(samples, data.origin, data.direction, samples)
    assert stats["angle"] == pytest.approx(0.0, abs=1e-3) and stats["offset"] == pytest.approx(2.0, abs=0.1)


def test_many_paths_command_quick_sweep_part(tmp_path, monkeypatch):
    asked = []
    monkeypatch.setattr(many_paths, "robustness_spec",
                        lambda preset, trials, steps: asked.append((preset, trials, steps)) or many_paths.parse({
                            "sweep": {"name": "t", "games": ["ns", "gan-gp"], "trials": 2, "metrics": ["modes", "w2"],
                                      "objective": "modes", "eval_samples": 200},
                            "base": {"run": {"steps": 10}, "data": {"batch_size": 32}, "generator": {"hidden": [16]},
                                     "discriminator": {"hidden": [16]}},
                            "space": {"generator.lr": {"loguniform": [1e-4, 1e-3]}}}))
    result = CliRunner().invoke(app, ["reproduce", "many-paths", "--size", "quick", "--part", "sweep", "--out",
                                      str(tmp_path), "--no-compile", "--workers", "2", "--trials", "3",
                                      "--sweep-steps", "7"])
    assert result.exit_code == 0, result.output
    assert asked == [("ring8", 3, 7)]
    assert "share with >= 7 modes" in (tmp_path / "sweep.md").read_text()
    assert (tmp_path / "sweep.png").exists() and (tmp_path / "sweep" / "ring8" / "trials.csv").exists()
