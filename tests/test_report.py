"""The report: a self-contained page that a real browser renders, with every image and the numbers of eval.json."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gangames import config as config_io
from gangames.cli import app
from gangames.reporting.html import number
from gangames.statistics import significant

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
OUTPUT = Path(__file__).resolve().parent.parent / "test-output"


def chromium(page: Path, profile: Path, *args) -> str:
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: run ./scripts/system-packages")
    result = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
                            capture_output=True, text=True, timeout=120)
    return result.stdout


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    config = out / "shared.toml"  # every run must take these, with --steps and --set on top
    config.write_text("[run]\nsteps = 999\n[robust]\ngamma = 7.5\n[auction]\nplayers = 3\n"
                      "[discriminator]\nhidden = [64]\n")
    result = CliRunner().invoke(app, [
        "compare", "--games", "ns,auction,robust-w", "--seeds", "2", "--steps", "30", "--out", str(out), "--no-compile",
        "--config", str(config),
        "--workers", "2", "--set", "generator.hidden=[16]", "--set", "discriminator.hidden=[16]",
        "--set", "data.batch_size=32", "--set", "auction.period=10", "--set", "auction.lot_size=16",
        "--set", "robust.warmup=5"])
    assert result.exit_code == 0, result.output
    # The terminal ends with the headline and the report's path, not with a line per run.
    flat = " ".join(result.output.split())  # (the terminal wraps at 80 columns)
    assert "the paired difference to ns [95 % interval]" in flat and "report: " in result.output.splitlines()[-1]
    assert "finished  ns/seed0" not in result.output
    return out


def test_compare_takes_the_config_file_then_flags_then_set(compared):
    for game in ("ns", "auction", "robust-w"):
        text = (compared / game / "seed0" / "config.toml").read_text()
        cfg = config_io.load(compared / game / "seed0" / "config.toml")
        assert (cfg.game.name, cfg.run.steps, cfg.discriminator.hidden) == (game, 30, [16])
        # each run's file holds the sections its game plays, with the shared file's values
        assert ("[robust]" in text, "[auction]" in text) == (game == "robust-w", game == "auction")
        assert json.loads((compared / game / "seed0" / "eval.json").read_text())["step"] == 30
    assert config_io.load(compared / "robust-w" / "seed0" / "config.toml").robust.gamma == 7.5
    assert config_io.load(compared / "auction" / "seed0" / "config.toml").auction.players == 3


def test_compare_writes_one_self_contained_page(compared):
    page = (compared / "report.html").read_text()
    assert "http://" not in page and "https://" not in page  # nothing to fetch
    for section in ("Which game works", "Results per seed", "Samples", "Training", "Auctions", "Robust game: transport",
                    "Divergence traces"):
        assert f">{section}<" in page, section
    assert page.count("data:image/png;base64,") >= 6


def test_a_real_browser_loads_every_image_and_shows_the_numbers(compared, tmp_path):
    page = compared / "report.html"
    dom = chromium(page, tmp_path / "profile", "--dump-dom")
    check = json.loads(re.search(r'<pre id="selfcheck"[^>]*>(.*?)</pre>', dom).group(1))
    assert check["images"] >= 6 and check["loaded"] == check["images"], check
    headline = dom[dom.index('id="headline-last-ring8"'):]
    headline = headline[:headline.index("</table>")]
    details = dom[dom.index('id="results"'):]
    for game in ("ns", "auction"):
        seeds = [json.loads((compared / game / f"seed{s}" / "eval.json").read_text())["metrics"] for s in (0, 1)]
        label = "auction(ns x3)" if game == "auction" else game
        for key in ("w2", "modes", "log_likelihood"):
            mean = sum(m[key] for m in seeds) / 2
            # the headline: the mean over seeds, to 3 significant digits ...
            row = headline[headline.index(f". {label}<"):]
            cell = re.search(rf'<td data-metric="{key}" data-value="([^"]*)">([^<]*)<', row)
            assert float(cell.group(1)) == pytest.approx(mean) and cell.group(2) == significant(mean), (game, key)
            # ... and the per-seed details: mean +- std
            cell = re.search(rf"<td data-metric=\"{key}\">([^<]*)<", details[details.index(f">{label}<"):])
            spread = abs(seeds[0][key] - seeds[1][key]) / 2
            assert cell.group(1) == f"{number(mean)} ± {number(spread)}", (game, key, cell.group(1))
    assert "baseline" in headline and re.search(r"-?[0-9.e]+ \[[^\]]*\] (n\.s\.|better|worse)", headline)
    OUTPUT.mkdir(exist_ok=True)
    shot = OUTPUT / "report.png"
    chromium(page, tmp_path / "profile2", "--window-size=1300,2000", f"--screenshot={shot}")
    assert shot.exists() and shot.stat().st_size > 50_000


def test_report_from_a_sweep_shows_every_trial(tmp_path):
    from gangames.sweep.run import run_sweep
    from gangames.sweep.spec import parse

    spec = parse({"sweep": {"name": "s", "games": ["ns", "gan-gp"], "trials": 2, "metrics": ["modes", "w2"],
                            "eval_samples": 200},
                  "base": {"run": {"steps": 10}, "data": {"batch_size": 32}, "generator": {"hidden": [16]},
                           "discriminator": {"hidden": [16]}, "eval": {"mode_samples": 200}},
                  "space": {"generator.lr": {"loguniform": [1e-4, 1e-3]}}})
    run_sweep(spec, tmp_path / "sweep", workers=2)
    result = CliRunner().invoke(app, ["report", str(tmp_path / "sweep" / "study.db"), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r.html").read_text()
    assert "Sweep s" in page and "4 runs" in page and "2 configurations, each played by every game" in page


def test_report_errors_are_one_line(tmp_path):
    result = CliRunner().invoke(app, ["report", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "does not exist" in result.output
    result = CliRunner().invoke(app, ["compare", "--games", "ns,bogus", "--out", str(tmp_path / "c")])
    assert result.exit_code == 2 and "unknown game 'bogus'" in result.output


def test_run_label_names_variants_of_one_game_apart(tmp_path):
    """Two comparisons of the same game with different settings, named by run.label: one report
    shows two groups, each with its own seeds, compared with each other."""
    import gangames

    small = {"generator": {"hidden": [16]}, "data": {"batch_size": 32}, "eval": {"every": 1000}}  # no curves
    for label, sn in (("ns", False), ("ns+sn", True)):
        gangames.compare(["ns"], seeds=1, steps=20, out=tmp_path / label, workers=1,
                         config={**small, "run": {"label": label, "compile": False},
                                 "discriminator": {"hidden": [16], "spectral_norm": sn}})
    page = gangames.report([tmp_path / "ns", tmp_path / "ns+sn"], tmp_path / "r.html").read_text()
    headline = page[page.index("Which game works"):page.index("Results per seed")]
    assert "ns+sn" in headline and headline.count("baseline") >= 1
    assert json.loads((tmp_path / "ns+sn" / "ns" / "seed0" / "run.json").read_text())["label"] == "ns+sn"
