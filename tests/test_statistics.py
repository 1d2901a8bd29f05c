"""Paired comparisons: intervals and p-values against SciPy, Holm's correction by hand, coverage."""

import math

import numpy as np
import pytest
from scipy import stats

from gangames import statistics as S


def bootstrap_t_by_loop(d, resamples, seed):
    """The same interval written as a plain loop over resamples (an independent implementation)."""
    rng = np.random.default_rng(seed)
    n, m = len(d), d.mean()
    se = d.std(ddof=1) / math.sqrt(n)
    indices = rng.integers(0, n, (resamples, n))
    ts = []
    for b in range(resamples):
        r = d[indices[b]]
        s = r.std(ddof=1) / math.sqrt(n)
        if s > 0:
            ts.append((r.mean() - m) / s)
    hi, lo = np.quantile(ts, [0.975, 0.025])
    return m - hi * se, m - lo * se


def test_the_interval_is_the_bootstrap_t_of_the_paired_differences():
    d = np.array([0.3, -0.1, 0.5, 0.2, 0.9, 0.1, 0.4])
    low, high = S.paired_interval(d, resamples=4999, seed=3)
    assert (low, high) == pytest.approx(bootstrap_t_by_loop(d, 4999, 3))
    assert low < d.mean() < high
    # For normal-looking data it is close to Student's t interval (SciPy), as it should be.
    t_low, t_high = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    assert low == pytest.approx(t_low, abs=0.1) and high == pytest.approx(t_high, abs=0.1)
    assert S.paired_interval([0.2, 0.2, 0.2]) == (pytest.approx(0.2), pytest.approx(0.2))
    assert all(map(math.isnan, S.paired_interval([1.0])))


def test_below_six_seeds_the_interval_is_students_t():
    """At 5 seeds the bootstrap-t's width is erratic (a few distinct resamples); Student's t is used."""
    d = np.array([0.8, -3.0, 1.0, 5.0, 1.2])
    low, high = S.paired_interval(d)
    assert (low, high) == pytest.approx(stats.t.interval(0.95, 4, loc=d.mean(), scale=stats.sem(d)))
    six = np.append(d, 0.9)  # from 6 seeds on: the bootstrap-t again
    assert S.paired_interval(six, resamples=999, seed=2) == pytest.approx(bootstrap_t_by_loop(six, 999, 2))


def test_the_p_value_is_the_two_sided_wilcoxon_of_the_differences_and_needs_six_seeds():
    d = np.array([0.3, -0.1, 0.5, 0.2, 0.9, 0.1, 0.4])
    assert S.wilcoxon_p(d) == pytest.approx(stats.wilcoxon(d, alternative="two-sided").pvalue)
    assert S.wilcoxon_p(d) > stats.wilcoxon(d, alternative="greater").pvalue  # two-sided, not one-sided
    assert S.wilcoxon_p(d[:5]) is None and S.wilcoxon_p(np.zeros(8)) == 1.0


def test_holm_by_hand():
    # sorted 0.01, 0.02, 0.04 (m = 3): 0.03, max(0.03, 0.04) = 0.04, max(0.04, 0.04) = 0.04
    assert S.holm([0.04, 0.01, None, 0.02]) == [pytest.approx(0.04), pytest.approx(0.03), None, pytest.approx(0.04)]
    assert S.holm([0.5, 0.6]) == [1.0, 1.0]


def test_verdicts_follow_the_metrics_direction_and_the_corrected_p():
    assert S.verdict(-0.2, 0.01, 8, higher_is_better=False) == "better"  # lower W2
    assert S.verdict(-0.2, 0.01, 8, higher_is_better=True) == "worse"
    assert S.verdict(-0.2, 0.2, 8, higher_is_better=True) == "no difference shown at n = 8"
    assert S.verdict(-0.2, None, 5, higher_is_better=True) == "no difference shown at n = 5"


def test_compare_to_baseline_pairs_by_seed_and_corrects_across_games():
    rng = np.random.default_rng(0)
    base = {s: 1.0 + rng.normal() for s in range(8)}
    values = {"ns": base,
              "wgan-gp": {s: v - 0.5 + 0.05 * rng.normal() for s, v in base.items()},  # lower by 0.5, every seed
              "gan-gp": {s: v + 0.05 * rng.normal() for s, v in base.items()},
              "dragan-ns": {s: base[s] - 0.5 for s in range(3)}}  # only three seeds
    found = {d.game: d for d in S.compare_to_baseline(values, "ns", "w2", higher_is_better=False)}
    assert found["wgan-gp"].verdict == "better" and found["wgan-gp"].mean == pytest.approx(-0.5, abs=0.05)
    p = [found[g].p for g in ("wgan-gp", "gan-gp")]
    assert [found[g].p_holm for g in ("wgan-gp", "gan-gp")] == pytest.approx(S.holm(p))
    assert found["gan-gp"].verdict.startswith("no difference shown at n = 8")
    assert found["dragan-ns"].n == 3 and found["dragan-ns"].verdict == "no difference shown at n = 3"
    # Unpaired, the baseline's spread across seeds (std 1) would hide a difference of 0.5:
    unpaired = stats.mannwhitneyu(list(values["wgan-gp"].values()), list(base.values())).pvalue
    assert unpaired > 0.05 > found["wgan-gp"].p


def test_the_interval_covers_the_true_difference_about_95_percent_of_the_time():
    """400 simulated paired experiments of 10 seeds, true mean difference 0.3, normal and skewed
    (exponential) differences: coverage 0.95 +- 0.03 for both."""
    for draw in (lambda rng: rng.normal(size=10), lambda rng: rng.exponential(size=10) - 1):
        rng = np.random.default_rng(1)
        covered = 0
        for trial in range(400):
            low, high = S.paired_interval(0.3 + draw(rng), resamples=1999, seed=trial)
            covered += low <= 0.3 <= high
        assert 0.92 <= covered / 400 <= 0.98, covered / 400


def test_sentence_is_quotable():
    d = S.Difference("w2", "wgan-gp", "ns", 8, -0.5123, -0.61, -0.42, 0.0078, 0.0156, "better")
    text = S.sentence("w2", "W2", False, [d])
    assert text == "W2 (lower is better), against ns: wgan-gp better (-0.51 [-0.61, -0.42], Holm p = 0.016)."


def test_the_headline_ranks_by_the_first_metric_then_the_next(tmp_path):
    """Three fake games on ring8 (written run folders): modes tie, W2 decides; differences are paired."""
    import json

    from gangames.reporting.collect import group, load_run
    from gangames.reporting.headline import cell, headline

    values = {"ns": [(8, 0.5), (8, 0.6), (8, 0.4)], "gan-gp": [(8, 0.3), (8, 0.4), (8, 0.2)],
              "wgan-gp": [(6, 0.1), (6, 0.1), (6, 0.1)]}
    runs = []
    for game, seeds in values.items():
        for seed, (modes, w2) in enumerate(seeds):
            folder = tmp_path / game / f"seed{seed}"
            folder.mkdir(parents=True)
            (folder / "config.toml").write_text(f'[run]\nseed = {seed}\nsteps = 10\n[game]\nname = "{game}"\n'
                                                '[data]\npreset = "ring8"\n')
            (folder / "run.json").write_text(json.dumps({"label": game, "players": 1}))
            (folder / "eval.json").write_text(json.dumps({"metrics": {"modes": modes, "w2": w2}}))
            runs.append(load_run(folder))
    h = headline(group(runs), "last", baseline="ns")
    assert [g.label for g in h.ranked] == ["gan-gp", "ns", "wgan-gp"]  # 8 modes before 6; then lower W2
    d = h.differences["w2"]["gan-gp"]
    assert (d.n, d.mean) == (3, pytest.approx(-0.2)) and d.p is None  # three seeds: an interval, no test
    assert cell(h, "gan-gp", "w2")[0] == "0.3" and cell(h, "ns", "w2") == ("0.5", "baseline")
    assert "no difference shown at n = 3" in h.sentences[1]


@pytest.mark.parametrize("a, b", [("ns", "gan-gp"), ("wgan-gp", "robust-w"), ("ns", "dragan-ns")])
def test_games_of_one_seed_and_as_many_critic_steps_train_on_the_same_minibatches_and_latents(a, b):
    """The data, latent and noise streams are separate: whatever noise a penalty draws, two games
    with the same number of critic steps see the same real batches and latents at every step."""
    import torch

    from gangames.seeds import Streams
    from gangames import build
    from gangames.config import Config, apply_overrides

    games, streams = [], []
    for name in (a, b):
        cfg = build.resolve(apply_overrides(Config(), [f"game.name={name}", "run.seed=4", "robust.warmup=0",
                                                       "generator.hidden=[8]", "discriminator.hidden=[8]"]))
        data = build.build_data(cfg)
        games.append((build.build_game_for(cfg, data), data))
        streams.append(Streams.for_run(4, "cpu"))
    for step in range(1, 6):
        drawn = [game.draw(data, 16, s, step) for (game, data), s in zip(games, streams)]
        for key in ("real", "z_disc", "z_gen"):
            assert torch.equal(drawn[0][key], drawn[1][key]), (step, key)
    assert drawn[0].get("noise", {}).keys() != drawn[1].get("noise", {}).keys() or a == "wgan-gp"
