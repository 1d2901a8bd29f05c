"""The command-line contract other tools rely on: train, sample, list, and one-line errors."""

import numpy as np
import pytest
from typer.testing import CliRunner

from gangames.cli import app

runner = CliRunner()
SMALL = ["--set", "generator.hidden=[16]", "--set", "discriminator.hidden=[16]", "--set", "data.batch_size=32", "--no-progress"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_train_then_sample_writes_float32_samples(tmp_path):
    out = tmp_path / "run"
    result = invoke("train", "--game", "wgan-gp", "--data", "grid25", "--steps", 20, "--seed", 4, "--out", out, *SMALL)
    assert result.exit_code == 0, result.output
    assert "finished step 20" in result.output
    cfg = (out / "config.toml").read_text()
    assert 'name = "wgan-gp"' in cfg and 'preset = "grid25"' in cfg and "seed = 4" in cfg
    result = invoke("sample", out, "--num", 123, "--output", tmp_path / "s.npy")
    assert result.exit_code == 0, result.output
    samples = np.load(tmp_path / "s.npy")
    assert samples.shape == (123, 2) and samples.dtype == np.float32
    again = tmp_path / "t.npy"
    invoke("sample", out, "--num", 123, "--output", again)
    assert np.array_equal(np.load(again), samples)  # same seed, same samples


def test_config_file_and_set_precedence(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[game]\nname = "gan-gp"\npenalty_weight = 3.0\n[run]\nsteps = 7\n')
    out = tmp_path / "run"
    result = invoke("train", "--config", config, "--steps", 5, "--out", out, "--set", "game.penalty_weight=2", *SMALL)
    assert result.exit_code == 0, result.output
    text = (out / "config.toml").read_text()
    assert "penalty_weight = 2.0" in text and "steps = 5" in text and 'name = "gan-gp"' in text


def test_resume_extends_a_run(tmp_path):
    out = tmp_path / "run"
    assert invoke("train", "--steps", 10, "--out", out, *SMALL).exit_code == 0
    result = invoke("train", "--resume", out, "--steps", 15, "--no-progress")
    assert result.exit_code == 0, result.output
    assert "steps 10 -> 15" in result.output and "finished step 15" in result.output


def test_errors_are_one_line_with_exit_code_2(tmp_path):
    cases = [
        (["train", "--game", "nsgan", "--out", tmp_path / "a"], "unknown game 'nsgan'; choose one of:"),
        (["train", "--data", "moons", "--out", tmp_path / "b"], "data 'moons' is neither a data preset nor an existing file"),
        (["train", "--out", tmp_path / "c", "--set", "gam.name=ns"], "unknown config key 'gam'"),
        (["train", "--steps", 5], "train needs --out RUN_DIR"),
        (["sample", tmp_path / "nothing"], "is not a gangames run folder"),
        (["train", "--resume", tmp_path / "nothing", "--game", "ns"], "drop --game"),
    ]
    for args, message in cases:
        result = invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output
        assert result.output.strip().count("\n") == 0, result.output
        assert result.output.startswith("error: "), result.output  # no literal markup, no colour codes
        assert "[" not in result.output.split(":")[0] and "\x1b" not in result.output


def test_an_existing_run_is_never_overwritten(tmp_path):
    out = tmp_path / "run"
    assert invoke("train", "--steps", 3, "--out", out, *SMALL).exit_code == 0
    before = (out / "metrics.jsonl").read_text()
    result = invoke("train", "--steps", 3, "--out", out, *SMALL)
    assert result.exit_code == 2 and "already holds a run" in result.output
    assert (out / "metrics.jsonl").read_text() == before


def test_list_names_every_game_and_preset():
    result = invoke("list")
    assert result.exit_code == 0
    for name in ("minimax", "ns", "wgan", "wgan-gp", "gan-gp", "dragan-ns", "hinge", "lsgan",
                 "ring8", "ring8-pacgan", "grid25", "line-d", "swissroll"):
        assert name in result.output
    flat = " ".join(result.output.replace("│", " ").split())
    assert "(Gao & Tembine; config [robust])" in flat  # text in brackets is text, not a style tag
    assert "[mixture] PacGAN's Table 1" in flat


def test_evaluate_writes_eval_json_that_an_independent_computation_reproduces(tmp_path):
    """eval.json against numbers computed here without the evaluator: the newest checkpoint's
    generator on the documented latents and reference (keys 3 and 4 of eval.seed), W2 by an optimal
    assignment (SciPy), modes and hq by hand, the log-likelihood by SciPy's normal density."""
    import json

    import torch
    from scipy.optimize import linear_sum_assignment
    from scipy.special import logsumexp
    from scipy.spatial.distance import cdist
    from scipy.stats import multivariate_normal

    from gangames import build, config as config_io
    from gangames.training import checkpoint

    out = tmp_path / "run"
    result = invoke("train", "--steps", 40, "--out", out, "--eval-every", 20, *SMALL, "--set", "eval.samples=300",
                    "--set", "eval.mode_samples=300", "--set", "eval.seed=7",
                    "--set", "generator.ema=0")  # the trained weights are evaluated (no average)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval" in r]
    assert [r["step"] for r in evals] == [20, 40]
    result = invoke("evaluate", out)
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "eval.json").read_text())
    assert saved["step"] == 40 and saved["samples"] == 300 and saved["players"] == 1
    assert saved["metrics"] == evals[-1]["eval"]  # and what training logged at step 40

    cfg = build.resolve(config_io.load(out / "config.toml"))
    data = build.build_data(cfg)
    game = build.build_game_for(cfg, data)
    game.players.generator.load_state_dict(checkpoint.read(out / "checkpoints" / "step-00000040.pt")["modules"]["generator"])
    z = torch.randn((1, 300, 2), generator=torch.Generator().manual_seed(build.derive_seed(7, 3)))
    fake = game.players.generator(z)[0].detach().double().numpy()
    real = data.sample(300, torch.Generator().manual_seed(build.derive_seed(7, 4))).double().numpy()
    sq = cdist(fake, real, "sqeuclidean")
    rows_, cols = linear_sum_assignment(sq)
    assert saved["metrics"]["w2"] == pytest.approx(np.sqrt(sq[rows_, cols].mean()), rel=1e-6)
    nearest = cdist(fake, data.centres).min(1)
    assert saved["metrics"]["hq"] == pytest.approx(float((nearest <= 0.06).mean()))
    good = cdist(fake, data.centres).argmin(1)[nearest <= 0.06]
    assert saved["metrics"]["modes"] == len(set(good.tolist()))
    log_parts = [multivariate_normal(c, 0.02**2 * np.eye(2)).logpdf(fake) for c in data.centres]
    log_density = logsumexp(log_parts, axis=0) - np.log(8)
    assert saved["metrics"]["log_likelihood"] == pytest.approx(log_density.mean(), rel=1e-9)
    assert saved["trace"]["w2"]["points"] == 2
    assert "trace w2: fell at" in result.output


def test_evaluate_options_and_errors(tmp_path):
    import json

    out = tmp_path / "run"
    assert invoke("train", "--data", "swissroll", "--steps", 5, "--out", out, *SMALL).exit_code == 0
    result = invoke("evaluate", out, "--metrics", "w1,sliced_w2", "--num", 100, "--json")
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.output)["metrics"]) == {"w1", "sliced_w2"}
    result = invoke("evaluate", out, "--metrics", "modes")
    assert result.exit_code == 2 and "needs a Gaussian mixture" in result.output
