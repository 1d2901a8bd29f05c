"""Config: TOML files, --set overrides, resolution of game defaults, and one-line errors."""

import pytest

from gangames import build
from gangames import config as C
from gangames.errors import ConfigError


def test_set_overrides_parse_types_and_bare_strings():
    cfg = C.apply_overrides(C.Config(), ["game.penalty_weight=5", "data.preset=grid25", "generator.hidden=[64, 64]",
                                          "run.compile=true", 'game.name="wgan-gp"'])
    assert cfg.game.penalty_weight == 5.0 and isinstance(cfg.game.penalty_weight, float)
    assert cfg.data.preset == "grid25" and cfg.generator.hidden == [64, 64] and cfg.run.compile is True
    assert cfg.game.name == "wgan-gp"


def test_unknown_key_names_it_and_lists_the_valid_keys():
    with pytest.raises(ConfigError) as err:
        C.apply_overrides(C.Config(), ["game.penalty_wieght=5"])
    message = str(err.value)
    assert "'game.penalty_wieght'" in message and "penalty_weight" in message and "\n" not in message
    with pytest.raises(ConfigError, match="unknown config key 'gme'"):
        C.from_dict({"gme": {"name": "ns"}})


def test_wrong_value_types_are_one_line_errors():
    with pytest.raises(ConfigError, match="run.steps must be an integer, got 'many'"):
        C.apply_overrides(C.Config(), ["run.steps=many"])
    with pytest.raises(ConfigError, match="generator.hidden must be a list of int"):
        C.apply_overrides(C.Config(), ["generator.hidden=64"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        C.apply_overrides(C.Config(), ["game.name"])
    with pytest.raises(ConfigError, match="is a section"):
        C.apply_overrides(C.Config(), ["game=ns"])


@pytest.mark.parametrize("field, value, message", [
    # (games registered by other test modules may follow in the list)
    ("game.name", "nss", "unknown game 'nss'; choose one of: auction, dragan-ns, gan-gp, hinge, independent, lsgan, minimax, ns, r3gan, robust-w"),
    ("data.preset", "ring9", "unknown data preset 'ring9'; choose one of: array, cifar10, csv, digits, fashion-mnist, grid25, idx, image-folder, line-d, ring8, ring8-pacgan, stacked-fashion-mnist, swissroll"),
    ("game.penalty", "l2", "unknown penalty 'l2'"),
    ("game.dragan_form", "C", "unknown dragan_form 'C'"),
    ("generator.optimizer", "adamw", "unknown generator.optimizer 'adamw'; choose one of: adam, rmsprop, sgd"),
    ("run.steps", "0", "run.steps must be >= 1, got 0"),
    ("discriminator.lr", "-1.0", "discriminator.lr must be > 0"),
])
def test_resolve_rejects_bad_names_and_values(field, value, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        build.resolve(C.apply_overrides(C.Config(), [f"{field}={value}"]))


def test_game_defaults_fill_the_config_and_user_values_win():
    """Each game's own (paper) settings; the tuned ones per kind of data are tests/test_defaults.py's."""
    wgan = build.resolve(C.apply_overrides(C.Config(), ["game.name=wgan", "game.defaults=paper"]))
    assert (wgan.game.loss, wgan.game.disc_steps, wgan.game.clip) == ("wasserstein", 5, 0.01)
    assert (wgan.discriminator.optimizer, wgan.discriminator.lr) == ("rmsprop", 5e-5)
    gp = build.resolve(C.apply_overrides(C.Config(), ["game.name=wgan-gp", "game.penalty_weight=1", "game.defaults=paper"]))
    assert (gp.game.penalty, gp.game.penalty_weight, gp.generator.beta1, gp.generator.beta2) == ("interpolate", 1.0, 0.0, 0.9)
    dragan = build.resolve(C.apply_overrides(C.Config(), ["game.name=dragan-ns", "game.dragan_form=B"]))
    assert (dragan.game.penalty, dragan.game.dragan_scale) == ("dragan", 1.0)
    line = build.resolve(C.apply_overrides(C.Config(), ["data.preset=line-d", "data.dim=100"]))
    assert (line.generator.net, line.generator.latent_dim) == ("line", 1)


def test_resolved_config_round_trips_through_toml(tmp_path):
    cfg = build.resolve(C.apply_overrides(C.Config(), ["game.name=dragan-ns", "generator.hidden=[32]"]))
    path = tmp_path / "config.toml"
    path.write_text(C.dumps(cfg))
    again = C.load(path)
    assert again == cfg
    assert build.resolve(again) == cfg


def test_bad_toml_file_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[game\nname = 'ns'")
    with pytest.raises(ConfigError, match="not valid TOML"):
        C.load(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        C.load(tmp_path / "missing.toml")
