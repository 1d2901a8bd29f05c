"""One self-contained HTML page (images embedded, no network) from finished runs or a sweep."""

from __future__ import annotations

import base64
import datetime as dt
import html
import math
from pathlib import Path

import numpy as np
import torch

from gangames import __version__
from gangames.io import write_text
from gangames.reporting import plots
from gangames.reporting.collect import Group, Run, group, metric_summary
from gangames.statistics import significant

STYLE = """
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
main{max-width:1280px;margin:auto;padding:24px 32px 60px}
h1{font-size:26px;margin:8px 0 4px}h2{font-size:20px;margin:36px 0 10px;border-bottom:1px solid #dde1e8;padding-bottom:4px}
h3{font-size:16px;margin:22px 0 6px}.meta{color:#5a6273;font-size:13px}
table{border-collapse:collapse;background:#fff;font-size:13px;box-shadow:0 1px 2px #0001;margin:8px 0}
th,td{padding:6px 10px;border-bottom:1px solid #e8ebf0;text-align:right;vertical-align:top}
th{background:#eef1f5;position:sticky;top:0}td:first-child,th:first-child{text-align:left;font-weight:600}
td small{display:block;color:#6b7385;font-weight:400}table.headline td{font-variant-numeric:tabular-nums}.best{color:#17803d}.note{color:#5a6273;font-size:13px;max-width:900px}
figure{margin:10px 0;background:#fff;padding:10px;box-shadow:0 1px 2px #0001;display:inline-block}
figure img{max-width:100%}figcaption{font-size:12px;color:#5a6273}.grids{display:flex;flex-wrap:wrap;gap:10px}
.grids figure img{image-rendering:pixelated;width:220px}
"""

SELF_CHECK = """
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.getElementById('selfcheck').textContent = JSON.stringify({images: images.length, loaded: loaded});
});
"""


def _img(data: bytes, alt: str, caption: str = "") -> str:
    if not data:
        return ""
    encoded = base64.b64encode(data).decode()
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">{cap}</figure>'


def number(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, int) or float(value).is_integer() and abs(value) < 1e6:
        return f"{int(value)}" if float(value).is_integer() else f"{value:.4g}"
    return f"{value:.4g}"


def results_table(groups: list[Group]) -> str:
    summaries = {id(g): metric_summary(g) for g in groups}
    keys = list(dict.fromkeys(k for s in summaries.values() for k in s))
    if not keys:
        return "<p class='note'>No evaluations yet (no eval.json in these runs).</p>"
    labels = {k: v for g in groups for r in g.runs if r.eval for k, v in r.eval.get("definitions", {}).items()}
    head = "".join(f"<th>{html.escape(labels.get(k, k))} {'↑' if summaries_direction(summaries, k) else '↓'}</th>"
                   for k in keys)
    rows = []
    for g in groups:
        s = summaries[id(g)]
        cells = []
        for key in keys:
            e = s.get(key)
            if not e:
                cells.append("<td>–</td>")
                continue
            extra = f"best seed {e['best'][0]}: {number(e['best'][1])}; worst seed {e['worst'][0]}: {number(e['worst'][1])}"
            if "worst_player_mean" in e:
                extra += f"; worst player (mean over seeds): {number(e['worst_player_mean'])}"
            cells.append(f"<td data-metric='{html.escape(key)}'>{number(e['mean'])} ± {number(e['std'])}"
                         f"<small>{extra}</small></td>")
        seeds = len(g.runs)
        rows.append(f"<tr><td>{html.escape(g.label)}<small>{html.escape(g.data)}, {seeds} seed{'s' * (seeds != 1)}"
                    f"</small></td>{''.join(cells)}</tr>")
    evaluated = next((r.eval for g in groups for r in g.runs if r.eval), None)
    note = ""
    if evaluated:
        note = (f"<p class='note'>Mean ± standard deviation (ddof 0) over seeds of each run's last checkpoint, "
                f"{evaluated['samples']} generated samples per player against {html.escape(evaluated['reference'])}. "
                f"↑: higher is better. Units: W1/W2/sliced W2 in data units; JS and KL in nats; "
                f"log-likelihoods in nats per sample.</p>")
    return f"<table id='results'><tr><th>game</th>{head}</tr>{''.join(rows)}</table>{note}"


def headline_section(groups: list[Group], baseline: str | None = None) -> str:
    """Per data set: the ranked headline table of the last checkpoints, its sentences, then the same
    table of the best values logged during training (report/headline.py)."""
    from gangames.reporting import headline as H

    by_data: dict[str, list[Group]] = {}
    for g in groups:
        by_data.setdefault(g.data, []).append(g)
    out = []
    for data, gs in by_data.items():
        for which in ("last", "best"):
            h = H.headline(gs, which, baseline)
            if h is None:
                continue
            head = "".join(f"<th>{html.escape(h.labels.get(m, m))} {'↑' if h.higher(m) else '↓'}</th>" for m in h.metrics)
            rows = []
            for rank, g in enumerate(h.ranked, start=1):
                cells = []
                for m in h.metrics:
                    value, diff = H.cell(h, g.label, m)
                    cells.append(f"<td data-metric='{html.escape(m)}' data-value='{h.means[g.label][m]!r}'>{value}"
                                 f"<small>{html.escape(diff)}</small></td>")
                rows.append(f"<tr><td>{rank}. {html.escape(g.label)}<small>{h.seeds[g.label]} seeds</small></td>"
                            f"{''.join(cells)}</tr>")
            title = f"{data}: {H.WHICH[which]}"
            out.append(f"<h3>{html.escape(title)}</h3><table class='headline' id='headline-{which}-{html.escape(data)}'>"
                       f"<tr><th>game (ranked by {html.escape(h.labels.get(h.metrics[0], h.metrics[0]))})</th>{head}</tr>"
                       f"{''.join(rows)}</table>")
            if which == "last":
                out.append("<ul class='note'>" + "".join(f"<li>{html.escape(t)}</li>" for t in h.sentences) + "</ul>")
    if out:
        out.append("<p class='note'>Each cell: the mean over seeds (3 significant digits) and, below it, the mean paired "
                   "difference to the baseline over the seeds both ran, with its 95 % bootstrap-t interval and the "
                   "verdict: better or worse when the two-sided Wilcoxon signed-rank test (≥ 6 seeds), Holm-corrected "
                   "across the games, gives p &lt; 0.05; n.s. otherwise (docs/report.md says what is paired).</p>")
    return "".join(out)


def summaries_direction(summaries: dict, key: str) -> bool:
    for s in summaries.values():
        if key in s:
            return s[key]["higher_is_better"]
    return True


def samples_section(groups: list[Group]) -> str:
    parts = []
    for g in groups:
        info = g.runs[0].data_info
        if info.get("kind") == "images":
            figures = []
            for r in g.runs:
                for path in r.last_grids():
                    figures.append(_img(path.read_bytes(), f"{g.label} samples",
                                        f"{g.label}, seed {r.seed}, {path.stem}"))
            parts.append(f"<h3>{html.escape(g.label)}</h3><div class='grids'>{''.join(figures)}</div>")
        elif info.get("sample_shape") == [2]:
            parts.append(_img(plots.samples_2d(g, info.get("mixture"), g.runs[0].reference()), f"{g.label} samples"))
    return "".join(parts)


def curves_section(groups: list[Group]) -> str:
    out = []
    by_data: dict[str, list[Group]] = {}
    for g in groups:
        by_data.setdefault(g.data, []).append(g)
    for data, gs in by_data.items():
        eval_keys = list(dict.fromkeys(k for g in gs for r in g.runs for row in r.rows if "eval" in row
                                       for k in row["eval"] if "/" not in k))
        keys = [("log", "d_loss"), ("log", "g_loss"), ("log", "penalty"), ("log", "transport")]
        keys += [("eval", k) for k in eval_keys]
        out.append(_img(plots.curves(gs, keys, f"training curves on {data}: seeds' median, band between the quartiles"),
                        f"curves {data}"))
        out.append(trace_table(gs))
    return "".join(out)


def trace_table(groups: list[Group]) -> str:
    from gangames.metrics.registry import divergence_traces

    rows = []
    for g in groups:
        for run in g.runs:
            traces = divergence_traces(run.rows, run.setting("eval", "trace_tolerance", 1e-4))
            for key, t in traces.items():
                if t["points"] > 1:
                    rows.append(f"<tr><td>{html.escape(g.label)}</td><td>{run.seed}</td><td>{key}</td>"
                                f"<td>{t['decreased_fraction']:.0%}</td><td>{number(t['first'])}</td>"
                                f"<td>{number(t['last'])}</td><td>{number(t['min'])}</td></tr>")
    if not rows:
        return ""
    return ("<h3>Divergence traces</h3><p class='note'>Share of evaluation intervals in which each divergence fell "
            "(Fedus et al.: training can converge without a divergence falling at every step).</p>"
            "<table><tr><th>game</th><th>seed</th><th>divergence</th><th>fell in</th><th>first</th><th>last</th>"
            f"<th>min</th></tr>{''.join(rows)}</table>")


def panels_section(groups: list[Group]) -> list[str]:
    """The extra sections the games ask for (run.json's panels), each drawn once for the groups that ask."""
    by_title: dict[str, tuple[dict, list[Group]]] = {}
    for g in groups:
        for panel in g.runs[0].panels:
            by_title.setdefault(panel["title"], (panel, []))[1].append(g)
    out = []
    for title, (panel, asking) in by_title.items():
        out.append(f"<h2>{html.escape(title)}</h2>")
        if panel.get("note"):
            out.append(f"<p class='note'>{html.escape(panel['note'])}</p>")
        if panel["kind"] == "auctions":
            out += [_img(plots.auction_history(g), f"{title} {g.label}") for g in asking]
        elif panel["kind"] == "curves":
            out.append(_img(plots.curves(asking, [("log", k) for k in panel["keys"]], title), title))
    return out


def sweep_section(name: str, sweep: dict) -> list[str]:
    """A sweep (``sweep.results.summary``): the search and its best so far, what mattered, the
    distribution of every run per game, and the repeated configurations against the baseline."""
    table, objective = sweep["rows"], sweep.get("objective")
    out = [f"<h2>Sweep {html.escape(name)}</h2>"]
    if sweep.get("search"):
        out.append(f"<p class='note'>{len(sweep['search'])} configurations, each played by every game on the same "
                   f"seeds; a configuration's value is its games' mean {html.escape(str(objective))}.</p>")
        out.append(_img(plots.search_progress(sweep["search"], objective, f"{name}: the search"), f"search {name}"))
    if sweep.get("importance"):
        cells = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:.2f}</td></tr>" for k, v in sweep["importance"].items())
        out.append("<table><caption>Parameter importance (Optuna's fANOVA, wide search)</caption>"
                   f"<tr><th>parameter</th><th>importance</th></tr>{cells}</table>")
    metrics = [k for k in ("modes", "hq", "w2", "fid", "kid", "stacked_modes", "log_likelihood") if any(k in r for r in table)]
    out.append(f"<p class='note'>Every finished run, not only the best: {len(table)} runs.</p>")
    out.append(_img(plots.distributions(table, metrics, f"{name}: distribution per game"), f"sweep {name}"))
    if sweep.get("repeats"):
        rows_ = "".join(
            f"<tr><td>{html.escape(r['config'])}</td><td>{html.escape(r['game'])}</td><td>{r['seeds']}</td>"
            f"<td>{significant(r['mean'])}</td><td>{_difference(r)}</td><td>{html.escape(r['verdict'])}</td></tr>"
            for r in sweep["repeats"])
        out.append(f"<table><caption>The best configurations repeated over seeds: {html.escape(str(objective))}, "
                   "mean and paired difference to the first game [95 % bootstrap interval]</caption>"
                   f"<tr><th>configuration</th><th>game</th><th>seeds</th><th>mean</th><th>difference</th>"
                   f"<th>verdict</th></tr>{rows_}</table>")
    return out


def _difference(row: dict) -> str:
    if row["difference"] is None:
        return "baseline"
    return f"{significant(row['difference'])} [{significant(row['low'])}, {significant(row['high'])}]"


def build_page(runs: list[Run], title: str, sweeps: dict[str, dict] | None = None,
               baseline: str | None = None) -> str:
    groups = group(runs)
    datasets = sorted({g.data for g in groups})
    steps = sorted({r.steps for r in runs})
    header = (f"<h1>{html.escape(title)}</h1><p class='meta'>gangames {__version__} · "
              f"{dt.datetime.now().strftime('%Y-%m-%d %H:%M')} · data: {', '.join(datasets)} · "
              f"{len(groups)} games, {len(runs)} runs · steps: {', '.join(map(str, steps))}</p>")
    body = [header, "<h2>Which game works</h2>", headline_section(groups, baseline),
            "<h2>Results per seed</h2>", results_table(groups), "<h2>Samples</h2>", samples_section(groups),
            "<h2>Training</h2>", curves_section(groups)]
    body += panels_section(groups)
    for name, sweep in (sweeps or {}).items():
        body += sweep_section(name, sweep)
    body.append("<pre id='selfcheck' hidden></pre>")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><main>{''.join(body)}</main><script>{SELF_CHECK}</script>"
            "</body></html>")


def write_report(runs: list[Run], path: str | Path, title: str = "gangames report",
                 sweeps: dict[str, dict] | None = None, baseline: str | None = None) -> Path:
    path = Path(path)
    write_text(path, build_page(runs, title, sweeps, baseline))
    return path
