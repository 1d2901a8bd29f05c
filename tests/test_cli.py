"""The command-line contract other tools rely on: train, sample, list, and one-line errors."""

import numpy as np
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
        (["train", "--data", "moons", "--out", tmp_path / "b"], "unknown data preset 'moons'"),
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


def test_evaluate_writes_eval_json_matching_the_last_training_evaluation(tmp_path):
    import json

    out = tmp_path / "run"
    result = invoke("train", "--steps", 40, "--out", out, "--eval-every", 20, *SMALL, "--set", "eval.samples=300")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval" in r]
    assert [r["step"] for r in evals] == [20, 40]
    assert set(evals[-1]["eval"]) == {"modes", "modes_1pct", "hq", "reverse_kl", "log_likelihood",
                                      "kde_log_likelihood", "w2", "js"}
    result = invoke("evaluate", out)
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "eval.json").read_text())
    assert saved["step"] == 40 and saved["samples"] == 300 and saved["players"] == 1
    assert saved["metrics"] == evals[-1]["eval"]  # same latents, same reference samples
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
