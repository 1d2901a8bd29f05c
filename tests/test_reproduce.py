"""The reproduction commands end to end at toy size, and their statistics."""

import csv
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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
                             overrides=TINY + ["auction.period=5", "auction.lot_size=16", "eval.mode_samples=100"],
                             compile_=False)
    assert len(tasks) == 8
    outcomes = run_many(tasks, workers=2)
    assert all(o.status == "finished" for o in outcomes), [o.error for o in outcomes]
    summary = bid_picture.summarise(outcomes)
    for variant, steps, disc_steps in (("ns", 20, 1), ("wgan", 10, 5)):
        for mode in ("auction", "classical"):
            rows = summary[variant]["seeds"][mode]
            assert [r["seed"] for r in rows] == [0, 1]
            for row in rows:  # the table's numbers are the players' numbers in each run's eval.json
                players = json.loads((tmp_path / variant / mode / f"seed{row['seed']}" / "eval.json").read_text())
                lls = players["metrics"]["log_likelihood/players"]
                assert row["mean_ll"] == pytest.approx(np.mean(lls)) and row["worst_ll"] == min(lls)
                assert row["worst_modes"] == min(players["metrics"]["modes/players"])
                # What each arm paid: every step's critic steps, plus one alignment step per auction
                # (4 auctions in 20 steps, 2 in 10) for the one discriminator that is not the best.
                auctions = steps // 5 if mode == "auction" else 0
                assert row["d_updates"] == steps * disc_steps + auctions / 2 and row["g_updates"] == steps
        a, c = summary[variant]["seeds"]["auction"], summary[variant]["seeds"]["classical"]
        expected = paired_wilcoxon([r["worst_ll"] for r in a], [r["worst_ll"] for r in c])
        assert summary[variant]["p_worst_ll"] == expected or (math.isnan(expected) and math.isnan(summary[variant]["p_worst_ll"]))
    table = bid_picture.markdown(summary)
    assert "| ns | auction (2 seeds) |" in table and "-3.235 / -4.995" in table
    assert "| 22 / 20 |" in table and "| 20 / 20 |" in table  # ns: 20 + 2 alignment steps per player, vs 20
    # The auction runs logged auctions; the classical ones did not.
    auction_log = (tmp_path / "ns" / "auction" / "seed0" / "metrics.jsonl").read_text()
    assert auction_log.count('"auction"') == 4
    assert '"auction"' not in (tmp_path / "ns" / "classical" / "seed0" / "metrics.jsonl").read_text()


def test_first_below_finds_the_first_step_at_or_under_the_threshold():
    steps, values = np.array([100, 200, 300, 400]), np.array([0.9, 0.6, 0.4, 0.5])
    assert robust_w.first_below(steps, values, 0.5) == 300
    assert robust_w.first_below(steps, values, 0.6) == 200
    assert math.isnan(robust_w.first_below(steps, values, 0.3))


def test_robust_w_at_toy_size(tmp_path):
    tasks = robust_w.plan(tmp_path, seeds=1, steps=20, datasets=("ring8",), eval_every=5, eval_samples=100,
                          warmup=5, overrides=TINY, compile_=False)
    assert [t.name for t in tasks] == ["ring8/ns/seed0", "ring8/wgan-gp/seed0", "ring8/robust-w(gamma=5)/seed0",
                                       "ring8/robust-w(gamma=50)/seed0"]
    outcomes = run_many(tasks, workers=2)
    traces = {o.name.split("/")[1]: robust_w.trace(o.out) for o in outcomes}
    # A threshold inside the range of the traced values, so that some runs reach it late or never.
    threshold = float(np.median(np.concatenate([w2 for _, _, w2 in traces.values()])))
    summary = robust_w.summarise(outcomes, {"ring8": threshold})
    for label, runs in summary["results"]["ring8"].items():
        steps, seconds, w2 = traces[label]
        assert runs[0]["steps"] == [5, 10, 15, 20] and len(runs[0]["seconds"]) == 4, label
        assert runs[0]["final_w2"] == w2[-1] and runs[0]["best_w2"] == w2.min()
        below = [s for s, v in zip(steps, w2) if v <= threshold]
        if below:
            assert runs[0]["steps_to"] == below[0], label
        else:
            assert math.isnan(runs[0]["steps_to"]), label
    robust_w.plot(summary, tmp_path / "w2.png")
    assert (tmp_path / "w2.png").stat().st_size > 10_000
    assert "| ring8 | robust-w(gamma=50) |" in robust_w.markdown(summary)


def test_many_paths_at_toy_size(tmp_path):
    tasks = many_paths.line_plan(tmp_path, dims=(2, 10), seeds=3, steps={2: 40, 10: 40}, games=("ns", "wgan-gp"),
                                 compile_=False, overrides=["eval.samples=200"])
    assert len(tasks) == 4  # the 3 seeds of a game train as one stacked run
    table = many_paths.line_summary(run_many(tasks, workers=2))
    assert set(table) == {"d2", "d10"} and set(table["d2"]) == {"ns", "wgan-gp"}
    assert len(table["d10"]["ns"]) == 3
    run = table["d10"]["ns"][1]
    assert run["trace"]["step"] == [2 * i for i in range(1, 21)] and len(run["trace"]["js"]) == 20
    js = run["trace"]["js"]  # the share of intervals in which JS fell by more than the tolerance
    assert run["js_fell"] == pytest.approx(np.mean([b < a - 1e-4 for a, b in zip(js, js[1:])]))
    # Player 1's trace is its own, not player 0's (three seeds of one stacked run).
    assert run["trace"]["w2"] != table["d10"]["ns"][0]["trace"]["w2"]
    text = many_paths.line_markdown(table)
    for dim in ("d2", "d10"):
        cells = [f"{sum(r['solved'] for r in table[dim][g])}/3" for g in ("ns", "wgan-gp")]
        assert f"| {dim[1:]} | {cells[0]} | {cells[1]} |" in text


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
                                     "discriminator": {"hidden": [16]}, "eval": {"mode_samples": 200}},
                            "space": {"generator.lr": {"loguniform": [1e-4, 1e-3]}}}))
    result = CliRunner().invoke(app, ["reproduce", "many-paths", "--size", "quick", "--part", "sweep", "--out",
                                      str(tmp_path), "--no-compile", "--workers", "2", "--trials", "3",
                                      "--sweep-steps", "7"])
    assert result.exit_code == 0, result.output
    assert asked == [("ring8", 3, 7)]
    text = (tmp_path / "sweep.md").read_text()
    assert "share with >= 7 modes" in text and "Against ns, configuration by configuration: gan-gp covers more modes in " in text
    assert (tmp_path / "sweep.png").exists() and (tmp_path / "sweep" / "ring8" / "trials.csv").exists()


def test_the_image_sweep_plays_the_papers_batch_and_scores_fid_and_kid():
    digits, ring = many_paths.robustness_spec("digits", 30, 1000), many_paths.robustness_spec("ring8", 30, 1000)
    assert (digits.metrics, digits.objective, digits.base["data"]["batch_size"]) == (["fid", "kid"], "fid", 64)
    assert (ring.metrics[0], ring.objective, "batch_size" in ring.base["data"]) == ("modes", "modes", False)
    assert digits.axes == ring.axes and digits.ties == ring.ties and digits.games == ring.games == list(many_paths.SWEEP_GAMES)


def test_the_sweep_pairs_each_game_with_ns_configuration_by_configuration():
    def row(config, game, fid, status="finished"):
        return {"config": config, "game": game, "status": status, "fid": fid}

    table = [row("c0", "ns", 10.0), row("c0", "wgan-gp", 5.0), row("c0", "gan-gp", 10.0),
             row("c1", "ns", 10.0), row("c1", "wgan-gp", 20.0), row("c1", "gan-gp", math.nan, "diverged"),
             row("c2", "ns", math.nan, "failed"), row("c2", "wgan-gp", 30.0), row("c2", "gan-gp", 1.0, "failed"),
             row("c3", "wgan-gp", 1.0)]  # ns never played c3: not a pair
    # lower FID is better: wgan-gp beats ns on c0 and c2 (ns failed), loses on c1; gan-gp ties c0 and c2
    # (both failed there: a failed run's FID does not count), loses c1 (diverged against a finished ns)
    assert many_paths.paired_with_baseline(table, "fid", higher_is_better=False) == {"wgan-gp": (2, 1, 3), "gan-gp": (0, 1, 3)}
    modes = [{**r, "modes": r["fid"]} for r in table]  # the same numbers as modes, higher is better
    assert many_paths.paired_with_baseline(modes, "modes", higher_is_better=True) == {"wgan-gp": (2, 1, 3), "gan-gp": (0, 1, 3)}
    assert many_paths.paired_with_baseline([r for r in table if r["game"] != "ns"], "fid", False) == {}
    for r in table:
        r.update({"generator.lr": 1e-3, "generator.beta1": 0.5, "game.disc_steps": 2, "kid": r["fid"] / 10})
    text = many_paths.robustness_markdown("digits", table)  # wgan-gp's FIDs: 5, 20, 30, 1 (c2: ns failed)
    assert "| wgan-gp | 4/4 | 12.5 [4.0, 22.5] | 1.2 [0.4, 2.2] | fid 1 (lr 1.0e-03, β1 0.50, 2 D steps) | 2 / 1 of 3 |" in text
    assert "| gan-gp | 1/3 | 10.0 [10.0, 10.0] |" in text and text.count("| – |") == 1  # ns has no pairing cell


def test_many_paths_sweep_on_digits_at_toy_size(tmp_path, monkeypatch):
    real_spec = many_paths.robustness_spec

    def tiny(preset, trials, steps):
        spec = real_spec(preset, trials, steps, games=("ns", "wgan-gp"), samples=200)
        spec.base.update({"generator": {"hidden": [8, 8]}, "discriminator": {"hidden": [8, 8]}})
        return spec

    monkeypatch.setattr(many_paths, "robustness_spec", tiny)
    refused = CliRunner().invoke(app, ["reproduce", "many-paths", "--part", "sweep", "--sweep-data", "digits,nope",
                                       "--out", str(tmp_path / "x")])
    assert refused.exit_code != 0 and "unknown data set 'nope'" in refused.output and not (tmp_path / "x").exists()
    result = CliRunner().invoke(app, ["reproduce", "many-paths", "--size", "quick", "--part", "sweep", "--sweep-data",
                                      "digits", "--out", str(tmp_path), "--workers", "2", "--trials", "2",
                                      "--sweep-steps", "5"])
    assert result.exit_code == 0, result.output
    table = [r for r in csv.DictReader((tmp_path / "sweep" / "digits" / "trials.csv").open())]
    assert len(table) == 4 and {r["status"] for r in table} == {"finished"} and all(float(r["fid"]) > 0 for r in table)
    text = (tmp_path / "sweep.md").read_text()
    assert "| game | finished | FID: median [q1, q3] | KID: median [q1, q3] |" in text
    assert " of 2 |" in text and (tmp_path / "sweep.png").exists()


def test_pacgan_protocol_at_toy_size(tmp_path):
    from gangames.reproduce import pacgan

    tasks = pacgan.plan(tmp_path, trials=2, steps=10, games=("ns", "auction"),
                        overrides=TINY + ["auction.players=2", "auction.period=5", "auction.lot_size=16",
                                          "eval.every=5", 'eval.metrics=["modes"]'], compile_=False)
    assert len(tasks) == 2 * 2 * 2 and {t.cfg.data.preset for t in tasks} == {"ring8-pacgan", "grid25"}
    assert all(t.cfg.eval.mode_samples == 2500 and t.eval_samples == 2500 for t in tasks)
    assert sorted(t.cfg.run.seed for t in tasks if t.name.startswith("grid25/ns/")) == [0, 1]
    outcomes = run_many(tasks, workers=2)
    assert all(o.status == "finished" for o in outcomes), [o.error for o in outcomes]
    summary = pacgan.summarise(outcomes)
    for data in pacgan.DATASETS:
        results = summary["results"][data]
        assert set(results) == {"ns", "auction (mean player)", "auction (worst player)"}
        for trial in (0, 1):  # the table's numbers are each run's eval.json: the mean and the worst player
            m = json.loads((tmp_path / data / "auction" / f"trial{trial}" / "eval.json").read_text())["metrics"]
            mean_row, worst_row = (results[f"auction ({w} player)"]["trials"][trial] for w in ("mean", "worst"))
            assert mean_row["modes"] == pytest.approx(np.mean(m["modes/players"])) and mean_row["hq"] == m["hq"]
            assert worst_row["modes"] == min(m["modes/players"]) and worst_row["reverse_kl"] == m["reverse_kl/worst"]
            ns = json.loads((tmp_path / data / "ns" / f"trial{trial}" / "eval.json").read_text())["metrics"]
            assert results["ns"]["trials"][trial]["reverse_kl"] == ns["reverse_kl"]
            seconds = json.loads((tmp_path / data / "ns" / f"trial{trial}" / "run.json").read_text())["train_seconds"]
            assert results["ns"]["trials"][trial]["seconds"] == seconds > 0  # what the trial cost, from its run.json
    table = pacgan.markdown(summary)
    ns_seconds = [r["seconds"] for r in summary["results"]["grid25"]["ns"]["trials"]]
    assert f"| grid25 | ns | 2 | {fmt([r['modes'] for r in summary['results']['grid25']['ns']['trials']], 1)}" in table
    assert [line for line in table.splitlines() if line.startswith("| grid25 | ns |")][0].endswith(f"| {fmt(ns_seconds, 0)} |")
    assert "| ring8-pacgan | **PacGAN4 (published)** | 10 | 7.8 ± 0.1 | 95.9 % | 0.07 | |" in table
    assert "| grid25 | **GAN (published)** | 10 | 17.3 ± 0.8 | 94.8 % | 0.70 | |" in table
    # The evaluations during training (eval.every = 5): each trial's curve, read from its metrics.jsonl
    for trial in (0, 1):
        rows = [json.loads(line) for line in (tmp_path / "grid25" / "ns" / f"trial{trial}" / "metrics.jsonl").open()]
        assert [r["step"] for r in rows if "eval" in r] == [5, 10]
        assert summary["convergence"]["grid25"]["ns"][trial] == pacgan.convergence(rows, "grid25")
    assert "| grid25 | ns | 0 of 2 | – | – | – |" in table  # 10 steps reach no mode's 3 sigma


def test_pacgan_convergence_is_the_first_evaluation_at_the_bars_row():
    from gangames.reproduce import pacgan

    at = {"modes": 8, "hq": 0.96, "reverse_kl": 0.01}
    rows = [{"step": 50, "d_loss": 1.0},  # a plain log row
            {"step": 1000, "seconds": 10.0, "eval": {**at, "reverse_kl": 0.08}},  # short of PacGAN4's KL only
            {"step": 2000, "seconds": 21.0, "eval": at},
            {"step": 3000, "seconds": 30.0, "eval": {**at, "hq": 0.9}},
            {"step": 4000, "seconds": 42.0, "eval": at}]
    assert pacgan.convergence(rows, "ring8-pacgan") == {"reached": True, "steps": 2000, "seconds": 21.0, "stays": 2 / 3}
    never = pacgan.convergence(rows, "grid25")  # 8 modes of 25: one evaluation after the end
    assert never["reached"] is False and (never["steps"], never["seconds"]) == (5000, 42.0 * 5000 / 4000)
    assert math.isnan(never["stays"])
    assert pacgan.convergence(rows[:1], "grid25") is None  # no evaluation during training


def test_pacgan_claim_pairs_the_robust_game_with_each_baseline_by_trial():
    from gangames.reproduce import pacgan

    def curve(steps_of):
        return {t: {"reached": True, "steps": steps_of(t), "seconds": steps_of(t) / 100, "stays": 1.0} for t in range(10)}

    curves = {"grid25": {"ns": curve(lambda t: 1000), "wgan-gp": curve(lambda t: 3000),
                         "robust-w": curve(lambda t: 2000 + 100 * t)}}
    found = {(d["baseline"], d["metric"]): d for d in pacgan.claim(curves)}
    assert len(found) == 6 and all(d["game"] == "robust-w" and d["n"] == 10 for d in found.values())
    for metric in ("steps", "seconds"):  # later than ns on every trial, earlier than wgan-gp on every one
        assert found["ns", metric]["verdict"] == "worse" and found["wgan-gp", metric]["verdict"] == "better"
    assert found["ns", "steps"]["mean"] == pytest.approx(1450) and found["wgan-gp", "seconds"]["mean"] == pytest.approx(-5.5)
    assert found["ns", "steps"]["p_holm"] == pytest.approx(6 * found["ns", "steps"]["p"])  # Holm over all six
    assert found["ns", "stays"]["verdict"] == "no difference shown at n = 10"
    lines = pacgan.convergence_markdown({"convergence": curves, "claim": pacgan.claim(curves)})
    assert "| grid25 | robust-w | 10 of 10 | 2450 [2000, 2900] | 24 [20, 29] | 100 % |" in lines
    assert any(line.startswith("- grid25, steps (lower is better), robust-w − ns: 1.45e+03") and line.endswith(": worse.")
               for line in lines)


def test_pacgan_bar_is_pacgan4s_row_on_every_statistic():
    from gangames.reproduce import pacgan

    at = {"modes": 7.8, "hq": 0.959, "reverse_kl": 0.07}
    assert pacgan.reaches("ring8-pacgan", at)
    for key, worse in (("modes", 7.7), ("hq", 0.95), ("reverse_kl", 0.08)):
        assert not pacgan.reaches("ring8-pacgan", {**at, key: worse})
    assert not pacgan.reaches("grid25", at)  # 7.8 modes of 25
    assert pacgan.reaches("grid25", {"modes": 25, "hq": 0.94, "reverse_kl": 0.03})
    row = {"trials": [], "mean": {}, "reaches_bar": True}
    summary = {"setting": [], "samples": 2500, "results": {"ring8-pacgan": {"a": row, "b": {**row, "reaches_bar": False}},
                                                            "grid25": {"a": row, "b": row}}}
    assert pacgan.markdown(summary).rstrip().endswith("At or beyond PacGAN4 on every data set: a.")


def test_pacgan_shows_an_auction_trial_that_left_no_evaluation_in_both_player_rows(tmp_path):
    from gangames.reproduce import pacgan
    from gangames.runner import Outcome

    scored = {"modes": 8, "hq": 0.9, "reverse_kl": 0.1, "modes/worst": 6, "hq/worst": 0.8, "reverse_kl/worst": 0.3}
    outcomes = [Outcome("grid25/auction/trial0", tmp_path / "a0", "finished", {"metrics": scored}, seconds=5.0),
                Outcome("grid25/auction/trial1", tmp_path / "a1", "failed", None, error="lost worker"),
                Outcome("grid25/robust-w(gamma=50)/trial0", tmp_path / "r0", "failed", None, error="lost worker")]
    results = pacgan.summarise(outcomes)["results"]["grid25"]
    assert set(results) == {"auction (mean player)", "auction (worst player)", "robust-w(gamma=50)"}
    worst = results["auction (worst player)"]["trials"]
    assert [(r["status"], r["modes"]) for r in worst[:1]] == [("finished", 6)] and worst[1]["status"] == "failed"
    assert math.isnan(worst[1]["modes"]) and results["auction (mean player)"]["trials"][0]["modes"] == 8
    table = pacgan.markdown(pacgan.summarise(outcomes))
    assert "| grid25 | auction (worst player) | 1 of 2 | 6.0 ± 0.0 |" in table


def test_pacgan_command_refuses_an_unknown_game_before_running(tmp_path):
    result = CliRunner().invoke(app, ["reproduce", "pacgan", "--out", str(tmp_path), "--games", "ns,nope"])
    assert result.exit_code != 0 and "unknown game 'nope'" in result.output
    assert not any(tmp_path.iterdir())


def test_pacgan_plays_a_labelled_variant_as_its_game_with_its_own_settings(tmp_path, monkeypatch):
    from gangames import build, cli
    from gangames.reproduce import pacgan

    tasks = pacgan.plan(tmp_path, trials=1, steps=10, games=("robust-w", "robust-w(gamma=50)"), datasets=("grid25",))
    default, variant = (build.resolve(t.cfg) for t in tasks)
    assert default.game.name == variant.game.name == "robust-w"
    assert (default.robust.gamma, variant.robust.gamma) == (5.0, 50.0)  # the rest is the shared setting
    assert variant.generator.lr == default.generator.lr == 1e-3 and variant.data.batch_size == 256
    assert tasks[1].name == "grid25/robust-w(gamma=50)/trial0" and tasks[1].out == tmp_path / "grid25" / "robust-w(gamma50)" / "trial0"
    asked = []
    monkeypatch.setattr(cli, "_run_reproduction", lambda tasks, out, workers: asked.extend(tasks) or [])
    result = CliRunner().invoke(app, ["reproduce", "pacgan", "--out", str(tmp_path), "--trials", "1",
                                      "--games", "ns,robust-w(gamma=50)"])
    assert result.exit_code == 0, result.output
    assert [t.name for t in asked] == [f"{d}/{g}/trial0" for d in pacgan.DATASETS for g in ("ns", "robust-w(gamma=50)")]


def test_an_interrupt_drops_the_queued_runs(tmp_path):
    """Ctrl-C in a reproduction or comparison (here: raised in the parent as its first run reports)
    must not leave the pool working through every queued run before the command stops."""
    from gangames.config import Config, apply_overrides
    from gangames.runner import Task

    tasks = [Task(f"t{i}", apply_overrides(Config(), [*TINY, "game.defaults=paper", "run.steps=5", f"run.seed={i}",
                                                      "run.progress=false", "run.compile=false"]),
                  tmp_path / f"t{i}", ["w2"], eval_samples=100) for i in range(12)]

    def interrupt(outcome):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_many(tasks, workers=2, on_done=interrupt)
    started = sum(t.out.exists() for t in tasks)
    # the first one done, the other worker's, and at most one each worker took before the stop was
    # set; not those already handed to the pool's queue (up to workers + 1 more, which used to start)
    assert 1 <= started <= 4, started


def test_a_killed_commands_workers_stop_their_runs_and_exit(tmp_path):
    """kill -9 of a reproduction (or comparison, or sweep) process: its workers' runs checkpoint and
    stop, and the workers exit. They used to wait for a next task forever, each holding its share of
    the cores, so every later run on the machine took fewer threads and warned the cores were taken."""
    from gangames.training.run_dir import RunDir

    # steps of ~0.1 s: the parent's death signals its workers once per thread of the parent as they end,
    # within a step, which the trainer must take as one Ctrl-C (a second aborts without a checkpoint)
    settings = ["generator.hidden=[256,256]", "discriminator.hidden=[256,256]", "data.batch_size=2048",
                "game.defaults=paper", "run.steps=1000000", "run.progress=false", "run.compile=false",
                "run.checkpoint_every=10"]
    outs = [tmp_path / f"t{i}" for i in range(2)]
    script = tmp_path / "parent.py"
    script.write_text(
        "from pathlib import Path\n"
        "from gangames.config import Config, apply_overrides\n"
        "from gangames.runner import Task, run_many\n"
        "if __name__ == '__main__':  # the workers are spawned: they import this file\n"
        f"    run_many([Task(f't{{i}}', apply_overrides(Config(), {settings!r} + [f'run.seed={{i}}']), Path(out), ['w2'], "
        f"eval_samples=100) for i, out in enumerate({[str(o) for o in outs]!r})], workers=2)\n")
    registry = tmp_path / "threads"
    parent = subprocess.Popen([sys.executable, str(script)], env={**os.environ, "GANGAMES_THREADS_DIR": str(registry)},
                              start_new_session=True)  # no signal sent to this test's group reaches the workers
    workers: list[int] = []

    def alive(pid: int) -> bool:  # a zombie has exited
        try:
            return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return False

    try:
        deadline = time.time() + 120
        while not all(RunDir(o).has_checkpoint() for o in outs):
            assert time.time() < deadline and parent.poll() is None, "the runs did not get going"
            time.sleep(0.2)
        workers = [int(p.stem) for p in registry.glob("*.json")]
        assert len(workers) == 2 and parent.pid not in workers, workers
        parent.send_signal(signal.SIGKILL)
        parent.wait(30)
        deadline = time.time() + 60
        while any(alive(pid) for pid in workers) and time.time() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in workers if alive(pid)], "a worker outlived its parent"
        for out in outs:  # each run stopped on the signal and checkpointed where it stopped
            info = RunDir(out).read_info()
            assert info["status"] == "interrupted" and info["sessions"][-1]["to_step"] > 0, info
    finally:
        for pid in [parent.pid, *workers]:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def test_a_resumed_runs_outcome_counts_every_sessions_seconds(tmp_path):
    """A reproduction's table says what each run cost: a run resumed from its checkpoint (after a
    Ctrl-C or a lost worker) must report its whole training time, not its last session's."""
    from gangames.config import Config, apply_overrides
    from gangames.runner import Task, run_task
    from gangames.training.trainer import Trainer

    settings = [*TINY, "game.defaults=paper", "run.seed=0", "run.progress=false", "run.compile=false",
                "run.checkpoint_every=40"]
    out = tmp_path / "run"
    Trainer(apply_overrides(Config(), [*settings, "run.steps=40"]), out).run()  # the first session, then stopped
    outcome = run_task(Task("run", apply_overrides(Config(), [*settings, "run.steps=80"]), out, ["w2"],
                            eval_samples=100), threads=1)
    sessions = json.loads((out / "run.json").read_text())["sessions"]
    assert outcome.status == "finished" and [s["to_step"] for s in sessions] == [40, 80]
    assert outcome.seconds == pytest.approx(sum(s["seconds"] for s in sessions), abs=2e-3)
    assert outcome.seconds > sessions[1]["seconds"] + 2e-3
