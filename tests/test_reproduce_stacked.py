"""`gangames reproduce stacked`: the plan's settings, the table's statistics, the command end to end."""

import json
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from gangames import build
from gangames.cli import app
from gangames.reproduce import stacked
from gangames.runner import Outcome


def test_every_variant_is_ns_with_its_options_and_nothing_else(tmp_path):
    tasks = stacked.plan(tmp_path, seeds=2, steps=10)
    assert len(tasks) == 2 * len(stacked.GAMES)
    resolved = {t.name: build.resolve(t.cfg) for t in tasks}
    options = lambda c: (c.generator.ema, c.generator.ema_rampup, c.discriminator.spectral_norm, c.data.augment)  # noqa: E731
    assert options(resolved["ns/seed1"]) == (0.0, False, False, "")
    assert options(resolved["ns+ema/seed1"]) == (0.999, True, False, "")
    assert options(resolved["ns+sn/seed1"]) == (0.0, False, True, "")
    assert options(resolved["ns+diffaugment/seed1"]) == (0.0, False, False, "color,translation")
    assert options(resolved["ns+sn+ema+diffaugment/seed0"]) == (0.999, True, True, "color,translation")
    for name, cfg in resolved.items():
        label, seed = name.split("/")
        assert cfg.game.name == stacked.VARIANTS.get(label, (label,))[0] and cfg.run.seed == int(seed[-1])
        assert cfg.data.preset == "stacked-fashion-mnist" and cfg.run.label == label
        # The shared setting reaches every game: one Adam, the small players, batch 64
        assert (cfg.generator.lr, cfg.discriminator.lr, cfg.discriminator.beta2, cfg.data.batch_size) == (2e-4, 2e-4, 0.9, 64)
        assert cfg.generator.hidden == [16, 32] and cfg.discriminator.features == 64
        if label not in stacked.VARIANTS:
            assert options(cfg)[2:] == (False, "")
    # Each penalty keeps its own game's weight: lambda = 10 for the gradient penalties, gamma = 1 for r3gan
    assert resolved["wgan-gp/seed0"].game.penalty_weight == 10 and resolved["r3gan/seed0"].game.penalty_weight == 1
    assert resolved["robust-w/seed0"].robust.mode == "feature" and resolved["auction/seed0"].auction.players == 4
    assert all(t.eval_samples == stacked.SAMPLES and t.metrics == stacked.METRICS for t in tasks)


def _outcome(name: str, metrics: dict, status: str = "finished") -> Outcome:
    return Outcome(name, Path(name), status, {"metrics": metrics}, seconds=10.0)


def _scores(modes, kl, fid=100.0, kid=1.0) -> dict:
    return {"stacked_modes": modes, "stacked_kl": kl, "fid": fid, "kid": kid}


def test_the_table_gives_intervals_over_seeds_and_pairs_each_label_with_ns_by_seed():
    ns_modes, sn_modes = [100, 400, 250], [112, 412, 262]  # sn = ns + 12 on every seed
    outcomes = [_outcome(f"ns/seed{s}", _scores(m, 2.0 + s)) for s, m in enumerate(ns_modes)]
    outcomes += [_outcome(f"ns+sn/seed{s}", _scores(m, 1.0 + s)) for s, m in enumerate(sn_modes)]
    auction = {**_scores(300, 1.5), **{f"{k}/worst": v for k, v in _scores(200, 2.5).items()}}
    outcomes += [_outcome("auction/seed0", auction), _outcome("auction/seed1", _scores(1, 1, 1, 1), status="diverged")]
    summary = stacked.summarise(outcomes)
    ns = summary["results"]["ns"]
    mean, se = sum(ns_modes) / 3, stats.tstd(ns_modes) / math.sqrt(3)
    t = stats.t.ppf(0.975, 2)  # Student's t with 2 degrees of freedom, by hand
    assert ns["mean"]["stacked_modes"] == pytest.approx(mean)
    assert ns["interval"]["stacked_modes"] == pytest.approx((mean - t * se, mean + t * se))
    # Paired by seed, ns+sn is 12 modes ahead on every seed: an interval of width 0 (unpaired, it
    # would span hundreds) and 1 lower on KL
    against = {(d["game"], d["metric"]): d for d in summary["against_baseline"]}
    assert (against["ns+sn", "stacked_modes"]["mean"], against["ns+sn", "stacked_modes"]["low"],
            against["ns+sn", "stacked_modes"]["high"]) == pytest.approx((12, 12, 12))
    assert against["ns+sn", "stacked_kl"]["mean"] == pytest.approx(-1)
    # The auction: its mean and worst player as two rows; a diverged seed counts in neither mean
    assert summary["results"]["auction (mean player)"]["mean"]["stacked_modes"] == 300
    assert summary["results"]["auction (worst player)"]["mean"]["stacked_kl"] == 2.5
    table = stacked.markdown(summary)
    assert "| **PacDCGAN4 (published, Stacked MNIST)** | | 1000 | 0.07 |" in table
    assert f"| ns | 3 | {mean:.0f} [{mean - t * se:.0f}, {mean + t * se:.0f}] |" in table
    assert "| auction (worst player) | 1 of 2 | 200 | 2.50 |" in table  # one seed: no interval


def test_stacked_command_at_toy_size_and_unknown_labels(tmp_path):
    result = CliRunner().invoke(app, ["reproduce", "stacked", "--games", "ns+sn", "--quick", "--out", str(tmp_path),
                                      "--workers", "1", "--set", "run.steps=5"])
    assert result.exit_code == 0, result.output
    run = tmp_path / "ns+sn" / "seed0"
    assert tomllib.loads((run / "config.toml").read_text())["discriminator"]["spectral_norm"] is True
    metrics = json.loads((run / "eval.json").read_text())["metrics"]
    summary = json.loads((tmp_path / "results.json").read_text())
    assert summary["results"]["ns+sn"]["seeds"][0]["stacked_modes"] == metrics["stacked_modes"]
    assert summary["results"]["ns+sn"]["seeds"][0]["fid"] == metrics["fid"]
    assert "| ns+sn | 1 |" in (tmp_path / "results.md").read_text()
    bad = CliRunner().invoke(app, ["reproduce", "stacked", "--games", "ns+gp", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "unknown game 'ns+gp'" in bad.output


def test_the_robust_game_is_paired_with_ns_and_wgan_gp_by_seed_on_every_score_and_on_seconds():
    seeds = range(10)  # enough seeds for a verdict after Holm across the ten comparisons

    def runs(label, modes, seconds):
        return [Outcome(f"{label}/seed{s}", Path(label), "finished", {"metrics": _scores(modes(s), 1.0, 100.0 + s)},
                        seconds=seconds(s)) for s in seeds]

    outcomes = (runs("ns", lambda s: 500 + 7 * s, lambda s: 100.0 + s) + runs("wgan-gp", lambda s: 900 + s, lambda s: 400.0)
                + runs("robust-w", lambda s: 600 + 7 * s + s % 3, lambda s: 300.0 + 2 * s) + runs("ns+sn", lambda s: 1, lambda s: 1))
    found = {(d["baseline"], d["metric"]): d for d in stacked.summarise(outcomes)["claim"]}
    assert len(found) == 2 * 5 and {d["game"] for d in found.values()} == {"robust-w"} and all(d["n"] == 10 for d in found.values())
    assert found["ns", "stacked_modes"]["mean"] == pytest.approx(100 + 0.9)  # 100 + mean of s % 3 over 0..9
    assert found["wgan-gp", "stacked_modes"]["mean"] == pytest.approx(np.mean([600 + 6 * s + s % 3 - 900 for s in seeds]))
    assert found["ns", "seconds"]["mean"] == pytest.approx(np.mean([200.0 + s for s in seeds]))
    # More modes than ns on every seed (better), fewer than wgan-gp (worse); more seconds than ns (worse),
    # fewer than wgan-gp (better); the same KL everywhere (no difference)
    assert (found["ns", "stacked_modes"]["verdict"], found["wgan-gp", "stacked_modes"]["verdict"]) == ("better", "worse")
    assert (found["ns", "seconds"]["verdict"], found["wgan-gp", "seconds"]["verdict"]) == ("worse", "better")
    assert found["ns", "stacked_kl"]["verdict"] == "no difference shown at n = 10"
    assert found["ns", "stacked_modes"]["p_holm"] > found["ns", "stacked_modes"]["p"]  # Holm across the ten
    table = stacked.markdown(stacked.summarise(outcomes))
    assert "- seconds (lower is better), robust-w − ns: 204 [" in table and table.rstrip().endswith(": better.")
    assert "claim" in stacked.summarise(outcomes[:10])  # no robust game: an empty claim
    assert stacked.summarise(outcomes[:10])["claim"] == []
