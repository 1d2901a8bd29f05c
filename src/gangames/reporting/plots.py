"""The report's figures (matplotlib, rendered to PNG bytes)."""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gangames.data.synthetic import GaussianMixture  # noqa: E402
from gangames.reporting.collect import Group  # noqa: E402

plt.rcParams.update({"figure.dpi": 100, "font.size": 9, "axes.grid": True, "grid.alpha": 0.3,
                     "axes.spines.top": False, "axes.spines.right": False})


def png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _extent(mixture: dict | None, samples: np.ndarray) -> tuple[float, float, float, float]:
    if mixture:
        c, sigma = np.asarray(mixture["centres"]), mixture["sigma"]
        pad = 0.6 * max(np.ptp(c[:, 0]), np.ptp(c[:, 1])) / 2 + 10 * sigma
        return c[:, 0].min() - pad, c[:, 0].max() + pad, c[:, 1].min() - pad, c[:, 1].max() + pad
    lo, hi = np.percentile(samples, [1, 99], axis=0)
    pad = 0.2 * (hi - lo).max()
    return lo[0] - pad, hi[0] + pad, lo[1] - pad, hi[1] + pad


def samples_2d(group: Group, mixture: dict | None, reference: np.ndarray | None, max_panels: int = 8) -> bytes:
    """Generated samples (last snapshot) over the true density's contours (a mixture's centres and
    sigma, as run.json records them) or over real samples: one panel per seed, or per player of the
    first seeds for several players."""
    panels = []
    for run in group.runs:
        last = run.last_samples()
        if last is None:
            continue
        step, samples = last
        samples = samples if samples.ndim == 3 else samples[None]
        for p, player in enumerate(samples):
            title = f"seed {run.seed}" + (f", player {p}" if len(samples) > 1 else "") + f" (step {step})"
            panels.append((title, player))
    panels = panels[:max_panels]
    if not panels:
        return b""
    cols = min(4, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.1 * cols, 3.0 * rows), squeeze=False)
    shown = [p for _, p in panels] + ([reference] if reference is not None else [])
    x0, x1, y0, y1 = _extent(mixture, np.vstack(shown))
    density = GaussianMixture("", np.asarray(mixture["centres"]), mixture["sigma"]) if mixture else None
    for ax, (title, points) in zip(axes.flat, panels):
        if density is not None:
            gx, gy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
            log_p = density.log_density(np.stack([gx.ravel(), gy.ravel()], 1)).reshape(gx.shape)
            ax.contour(gx, gy, log_p, levels=np.linspace(log_p.max() - 12, log_p.max(), 5), colors="#888", linewidths=0.6)
        elif reference is not None:
            ax.scatter(reference[:, 0], reference[:, 1], s=1, c="#bbb", alpha=0.5, rasterized=True)
        ax.scatter(points[:, 0], points[:, 1], s=1.5, c="#d1495b", alpha=0.6, rasterized=True)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=8)
        ax.grid(False)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(f"{group.label} on {group.data}: generated (red) over the data density", fontsize=10)
    return png(fig)


def curves(groups: list[Group], keys: list[tuple[str, str]], title: str) -> bytes:
    """One panel per (kind, key): kind 'log' (metrics.jsonl losses) or 'eval'; seeds overlaid."""
    keys = [k for k in keys if any(len(_series(r, *k)[0]) for g in groups for r in g.runs)]
    if not keys:
        return b""
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, (kind, key) in zip(axes.flat, keys):
        for i, g in enumerate(groups):
            series = [_series(run, kind, key) for run in g.runs]
            series = [(s, v) for s, v in series if len(s)]
            if not series:
                continue
            common = min(len(s) for s, _ in series)
            steps = series[0][0][:common]
            if len(series) > 1 and all(np.array_equal(s[:common], steps) for s, _ in series):
                # several seeds: their median, and the band between the quartiles
                stacked = np.stack([v[:common] for _, v in series])
                low, median, high = np.nanpercentile(stacked, [25, 50, 75], axis=0)
                ax.fill_between(steps, low, high, color=f"C{i % 10}", alpha=0.2, lw=0)
                ax.plot(steps, median, color=f"C{i % 10}", lw=1.4, label=f"{g.label} (median of {len(series)})")
            else:
                for j, (s_, v) in enumerate(series):
                    ax.plot(s_, v, color=f"C{i % 10}", alpha=0.7, lw=1.1, label=g.label if j == 0 else None)
        ax.set_title(key)
        ax.set_xlabel("step")
        if kind == "eval" and key in ("w1", "w2", "sliced_w2", "fid", "kid", "js") and \
                all((_series(r, kind, key)[1] > 0).all() for g in groups for r in g.runs if len(_series(r, kind, key)[1])):
            ax.set_yscale("log")
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return png(fig)


def _series(run, kind: str, key: str):
    return run.eval_series(key) if kind == "eval" else run.series(key)


def auction_history(group: Group) -> bytes:
    """Every player's auction score S(i) over time, the winners, and the mean bid matrix."""
    run = group.runs[0]
    auctions = run.auctions()
    if not auctions:
        return b""
    steps = np.array([a["step"] for a in auctions])
    scores = np.array([a["scores"] for a in auctions], dtype=float)
    winners = np.array([a["winner"] for a in auctions])
    bids = np.array([a["bids"] for a in auctions], dtype=float).mean(axis=0)  # the NaN diagonal stays NaN
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.2), gridspec_kw={"width_ratios": [2.2, 1.6, 1.2]})
    for p in range(scores.shape[1]):
        axes[0].plot(steps, scores[:, p], color=f"C{p}", lw=1, label=f"player {p}")
    axes[0].set_title("auction score S(i) (mean bid received)")
    axes[0].set_xlabel("step")
    axes[0].legend(fontsize=7, ncol=2)
    axes[1].scatter(steps, winners, c=[f"C{w}" for w in winners], s=10)
    axes[1].set_yticks(range(scores.shape[1]))
    axes[1].set_title("winner of each auction")
    axes[1].set_xlabel("step")
    image = axes[2].imshow(bids, cmap="viridis")
    axes[2].set_title("mean bid b[j, i] over auctions")
    axes[2].set_xlabel("auctioneer i (lot)")
    axes[2].set_ylabel("bidder j")
    axes[2].grid(False)
    fig.colorbar(image, ax=axes[2], fraction=0.046)
    fig.suptitle(f"{group.label} on {group.data}, seed {run.seed}: {len(auctions)} auctions", fontsize=10)
    fig.tight_layout()
    return png(fig)


def search_progress(search: list[dict], objective: str | None, title: str) -> bytes:
    """Each configuration's value in the order it was proposed (by phase), and the best so far."""
    values = [r for r in search if r["value"] is not None]
    if not values:
        return b""
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    index = {r["config"]: i for i, r in enumerate(search)}
    for phase, colour in (("wide", "#4c72b0"), ("narrow", "#dd8452")):
        mine = [r for r in values if r["phase"] == phase]
        if mine:
            ax.scatter([index[r["config"]] for r in mine], [r["value"] for r in mine], s=16, color=colour,
                       label=f"{phase} search")
    ax.step([index[r["config"]] for r in values], [r["best_so_far"] for r in values], where="post", color="#222",
            label="best so far")
    ax.set_xlabel("configuration, in the order proposed")
    ax.set_ylabel(f"{objective or 'objective'} (games' mean)")
    ax.legend(fontsize=8, frameon=False)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return png(fig)


def distributions(table: list[dict], metrics: list[str], title: str) -> bytes:
    """Box plots of each metric per game over a sweep's finished trials (all of them, not the best)."""
    games = list(dict.fromkeys(r["game"] for r in table))
    metrics = [m for m in metrics if any(isinstance(r.get(m), (int, float)) for r in table)]
    if not metrics:
        return b""
    fig, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3.2), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        values = [[r[metric] for r in table if r["game"] == g and r["status"] == "finished"
                   and isinstance(r.get(metric), (int, float)) and not math.isnan(r[metric])] for g in games]
        ax.boxplot(values, tick_labels=games, showmeans=True)
        for i, v in enumerate(values, start=1):
            ax.scatter(np.full(len(v), i) + np.random.default_rng(i).uniform(-0.12, 0.12, len(v)), v, s=8,
                       alpha=0.5, color="#333")
        ax.set_title(metric)
        ax.tick_params(axis="x", labelrotation=20)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return png(fig)
