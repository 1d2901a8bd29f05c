"""Defaults per kind of data (gangames/defaults.py): which fields they fill, and where they stay off."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gangames import build, defaults
from gangames.cli import app
from gangames.config import Config, apply_overrides
from gangames.errors import ConfigError
from gangames.reproduce import pacgan, tuned
from gangames.runner import Outcome


def resolved(*overrides: str) -> Config:
    return build.resolve(apply_overrides(Config(), list(overrides)))


@pytest.mark.parametrize("preset", ["ring8", "ring8-pacgan", "grid25"])
def test_on_the_mixtures_ns_plays_the_tuned_settings(preset):
    cfg = resolved("game.name=ns", f"data.preset={preset}")
    for player in (cfg.generator, cfg.discriminator):
        assert (player.optimizer, player.lr, player.beta1, player.beta2) == ("adam", 1e-3, 0.5, 0.9)
    assert (cfg.generator.ema, cfg.generator.ema_rampup) == (0.999, True)


def test_paper_defaults_are_the_registry_entries_settings():
    cfg = resolved("game.name=wgan-gp", "data.preset=grid25", "game.defaults=paper")
    assert (cfg.generator.lr, cfg.generator.beta1, cfg.generator.beta2) == (1e-4, 0.0, 0.9)
    assert cfg.game.penalty_weight == 10.0 and cfg.generator.ema == 0.0 and cfg.generator.ema_rampup is False
    tuned_cfg = resolved("game.name=wgan-gp", "data.preset=grid25")
    assert tuned_cfg.game.penalty_weight == 0.1 and tuned_cfg.generator.lr == 1e-3


def test_data_without_a_profile_keeps_the_papers_settings():
    for preset in ("fashion-mnist", "line-d", "swissroll"):
        cfg = resolved("game.name=ns", f"data.preset={preset}")
        assert (cfg.generator.lr, cfg.generator.beta2, cfg.generator.ema) == (1e-4, 0.999, 0.0), preset
        assert cfg.game.penalty == "none", preset


def test_on_digits_ns_plays_r1_and_the_image_settings_and_other_games_their_papers():
    cfg = resolved("game.name=ns", "data.preset=digits")
    for player in (cfg.generator, cfg.discriminator):
        assert (player.optimizer, player.lr, player.beta1, player.beta2) == ("adam", 2e-3, 0.0, 0.99)
    assert (cfg.game.penalty, cfg.game.penalty_weight) == ("r1", 1.0)
    assert (cfg.generator.ema, cfg.generator.ema_rampup) == (0.999, True)
    own = resolved("game.name=ns", "data.preset=digits", "game.penalty=none")
    assert own.game.penalty == "none" and own.generator.lr == 2e-3  # a penalty set (off) is kept
    paper = resolved("game.name=ns", "data.preset=digits", "game.defaults=paper")
    assert (paper.game.penalty, paper.generator.lr, paper.generator.ema) == ("none", 1e-4, 0.0)
    gp = resolved("game.name=wgan-gp", "data.preset=digits")
    assert (gp.game.penalty, gp.game.penalty_weight, gp.generator.lr) == ("interpolate", 10.0, 1e-4)


def test_games_without_tuned_settings_keep_their_own():
    cfg = resolved("game.name=r3gan", "data.preset=grid25")
    assert (cfg.generator.lr, cfg.generator.beta1, cfg.game.penalty_weight, cfg.generator.ema) == (2e-4, 0.0, 1.0, 0.0)


def test_what_the_config_sets_wins_and_the_rest_is_filled():
    cfg = resolved("game.name=ns", "data.preset=grid25", "generator.lr=5e-4", "generator.ema=0")
    assert cfg.generator.lr == 5e-4 and cfg.discriminator.lr == 1e-3
    assert cfg.generator.ema == 0.0  # 0 set is "off", not "unset"
    assert cfg.generator.beta1 == 0.5


def test_another_optimiser_takes_its_own_defaults_not_the_profiles_adam():
    cfg = resolved("game.name=wgan", "data.preset=ring8")
    assert cfg.generator.optimizer == "adam" and cfg.generator.lr == 1e-3  # WGAN's RMSprop replaced on the ring
    cfg = resolved("game.name=ns", "data.preset=ring8", "generator.optimizer=sgd")
    assert cfg.generator.lr == defaults_of("sgd").lr and cfg.generator.beta1 == defaults_of("sgd").beta1
    assert cfg.discriminator.lr == 1e-3 and cfg.generator.ema == 0.999  # the rest still tuned


def defaults_of(name):
    from gangames.optim import OptimizerSettings

    return OptimizerSettings(name)


def test_an_unknown_defaults_choice_is_one_line():
    with pytest.raises(ConfigError, match="game.defaults"):
        resolved("game.defaults=best")


def test_the_papers_reproductions_play_paper_settings(tmp_path):
    """PacGAN's shared setting is what its table states, for every game alike (r3gan's own Adam and
    gamma do not come in, nor do tuned defaults), and the main job plays no average."""
    for task in pacgan.plan(tmp_path, trials=1, steps=10, games=("ns", "wgan-gp", "r3gan", "robust-w")):
        cfg = build.resolve(task.cfg)
        assert (cfg.generator.lr, cfg.generator.beta1, cfg.generator.ema, cfg.game.penalty_weight) == (1e-3, 0.5, 0.999, 0.1)
        assert cfg.game.defaults == "paper", task.name
    main_job = build.resolve(apply_overrides(__import__("gangames.config", fromlist=["load"]).load(
        Path(__file__).parents[1] / "examples" / "ring8.toml"), ["game.name=ns"]))
    assert main_job.generator.ema == 0.0  # the README main job's numbers are without an average


def test_the_defaults_bar_runs_each_game_at_its_defaults(tmp_path):
    tasks = tuned.plan(tmp_path)
    assert len(tasks) == (len(tuned.GAMES) * 2 + 1) * 5  # the first family on both mixtures, ns on digits
    for task in tasks:
        cfg = build.resolve(task.cfg)
        profile = "images" if cfg.data.preset == "digits" else "mixture"
        assert cfg.run.steps == tuned.BARS[cfg.data.preset].steps and task.eval_samples == 2500
        assert cfg.run.steps == (5000 if profile == "images" else 10_000) and cfg.eval.mode_samples == 2500
        assert cfg.generator.lr == defaults.settings(profile, cfg.game.name)["generator.lr"], task.name
        assert cfg.generator.ema == 0.999
    assert {t.cfg.game.name for t in tasks if t.cfg.data.preset == "digits"} == {"ns"}
    assert len(tuned.plan(tmp_path, games=["wgan"])) == 2 * 5  # digits holds no wgan


def _outcome(name: str, modes: float, hq: float) -> Outcome:
    return Outcome(name, Path("."), "finished",
                   {"step": 10_000, "metrics": {"modes": modes, "hq": hq, "reverse_kl": 0.1}})


def _digits(seed: int, inception: float, recall: float) -> Outcome:
    return Outcome(f"digits/ns/trial{seed}", Path("."), "finished",
                   {"step": 5000, "metrics": {"is": inception, "recall": recall}})


def test_the_defaults_bar_is_on_the_medians():
    seeds = [(8, 0.9), (8, 0.81), (7, 0.80), (2, 0.1), (3, 0.2)]  # medians 7 modes and 0.80 hq: at the bar
    outcomes = [_outcome(f"ring8-pacgan/ns/trial{i}", m, h) for i, (m, h) in enumerate(seeds)]
    outcomes += [_outcome(f"grid25/ns/trial{i}", 20, 0.6) for i in range(3)]
    outcomes += [_digits(i, s, r) for i, (s, r) in enumerate([(9.0, 0.9), (8.0, 0.5), (7.25, 0.1)])]
    summary = tuned.summarise(outcomes)
    assert summary["results"]["ring8-pacgan"]["ns"]["median"] == {"modes": 7, "hq": 0.80}
    assert summary["results"]["digits"]["ns"]["median"] == {"is": 8.0, "recall": 0.5}
    assert all(summary["results"][d]["ns"]["meets_bar"] for d in tuned.DATASETS)
    table = tuned.markdown(summary)
    assert table.rstrip().endswith("Short of the bar: none.")
    assert "| ns | 3 | 8 (9, 8, 7.25) | 0.5 (0.9, 0.5, 0.1) | yes |" in table
    for name, short in (("ring8-pacgan", _outcome("ring8-pacgan/ns/trial0", 6, 0.9)),  # one step short on modes,
                        ("ring8-pacgan", _outcome("ring8-pacgan/ns/trial0", 8, 0.79)),  # then on high quality,
                        ("digits", _digits(0, 7.99, 0.9)), ("digits", _digits(0, 9.0, 0.49))):  # IS, then recall
        bad = tuned.summarise([short])
        assert not bad["results"][name]["ns"]["meets_bar"]
        assert tuned.markdown(bad).rstrip().endswith(f"Short of the bar: ns ({name}).")
    assert not tuned.meets("grid25", {"modes": 19, "hq": 0.9}) and not tuned.meets("grid25", {"modes": 25, "hq": 0.59})


def test_list_says_where_a_game_has_tuned_defaults_and_where_they_fall_short(monkeypatch):
    import re

    monkeypatch.setitem(defaults.SHORT_OF_BAR, ("mixture", "wgan"), "grid25 3 of 25 modes")
    note = defaults.note("wgan")
    assert "tuned defaults on ring8, ring8-pacgan, grid25" in note and "mixture: grid25 3 of 25 modes" in note
    assert defaults.note("r3gan") == ""
    flat = re.sub(r"[\s│]", "", CliRunner().invoke(app, ["list"]).output)  # the table wraps at any width
    assert re.sub(r"\s", "", note) in flat


def test_the_defaults_bar_at_toy_size_reads_every_seeds_eval(tmp_path):
    import json

    from gangames.runner import run_many

    tiny = ["generator.hidden=[16]", "discriminator.hidden=[16]", "data.batch_size=32"]
    tasks = tuned.plan(tmp_path, seeds=2, steps=10, games=("ns", "wgan"), overrides=tiny, compile_=False)
    outcomes = run_many(tasks, workers=2)
    assert all(o.status == "finished" for o in outcomes), [o.error for o in outcomes]
    summary = tuned.summarise(outcomes)
    assert set(summary["results"]) == set(tuned.DATASETS) and set(summary["results"]["digits"]) == {"ns"}
    # the table says the steps the runs played, and the protocol's where they differ
    assert "**digits**, 10 steps (bar: ≥ 8 classifier IS and ≥ 0.5 recall; the bar's protocol: 5000 steps)" \
        in tuned.markdown(summary)
    for data, by_game in summary["results"].items():
        assert set(by_game) == ({"ns"} if data == "digits" else {"ns", "wgan"})
        for game, entry in by_game.items():
            for seed in (0, 1):
                saved = json.loads((tmp_path / data / game / f"trial{seed}" / "eval.json").read_text())
                assert saved["weights"].startswith("the generator's moving average")  # the tuned EMA is on
                stats = tuned.BARS[data].least
                assert {k: entry["seeds"][seed][k] for k in stats} == {k: saved["metrics"][k] for k in stats}


def test_the_defaults_command_refuses_an_unknown_game_or_data_set_before_running(tmp_path):
    result = CliRunner().invoke(app, ["reproduce", "defaults", "--out", str(tmp_path), "--games", "ns,nope"])
    assert result.exit_code != 0 and "unknown game 'nope'" in result.output
    result = CliRunner().invoke(app, ["reproduce", "defaults", "--out", str(tmp_path), "--data", "grid25,ring9"])
    assert result.exit_code != 0 and "unknown data set 'ring9'" in result.output
    result = CliRunner().invoke(app, ["reproduce", "defaults", "--out", str(tmp_path), "--games", "wgan",
                                      "--data", "digits"])
    assert result.exit_code != 0 and "no data set's bar holds wgan (the bars' games: digits: ns)" in result.output
    assert not any(tmp_path.iterdir())


def test_a_game_built_on_another_plays_its_tuned_settings():
    """Robust-w against wgan-gp, an auction of ns pairs against ns: the arms of such a comparison
    differ in the game only, not in their defaults."""
    for built, base in ((["game.name=robust-w"], "wgan-gp"), (["game.name=auction"], "ns"),
                        (["game.name=independent", "auction.player_game=gan-gp"], "gan-gp")):
        a, b = resolved(*built, "data.preset=grid25"), resolved(f"game.name={base}", "data.preset=grid25")
        for field in ("lr", "beta1", "beta2", "ema", "ema_rampup"):
            assert getattr(a.generator, field) == getattr(b.generator, field), (built, field)
        assert a.discriminator.lr == b.discriminator.lr == 1e-3
        assert a.game.penalty_weight == b.game.penalty_weight, built
    assert resolved("game.name=auction", "data.preset=grid25", "game.defaults=paper").generator.lr == 1e-4
