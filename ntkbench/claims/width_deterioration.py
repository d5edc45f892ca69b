"""Claim: with width, the network first improves, then deteriorates toward its infinite NTK
[V, Fig. 2b, 2c].

Experiment (Sec. 3 of [V]): at a fixed training-set size n, the test error of the network
(NN) and of its ENTK-init against width, the infinite NTK as the reference line; all three
trained alike (`claims.protocol`), optimal early stopping.

Decision (CLAIMS.md, pre-registered), each a percentile bootstrap over trials:
  (a) ENTK-init falls with width: Spearman's rank correlation of its mean error with width
      below 0; and its widest point is closer to the infinite NTK than its narrowest.
  (b) The NN has an interior minimum: min(error at the narrowest, error at the widest)
      minus the lowest error at an interior width is above 0; and the widest NN is closer
      to the infinite NTK than the best NN. Neither assumes the side from which the NN
      approaches the kernel.
Negative control: the network replaced by its linearisation (ENTK-init) must show no
interior minimum, i.e. statistic (b) of the ENTK curve is not `supported`.

References:
  [V] Vyas, Bansal, Nakkiran, "Limitations of the NTK for understanding generalization in
  deep learning", 2022.
"""

from __future__ import annotations

import time

import numpy as np
from scipy import stats as sps

from ntkbench import stats
from ntkbench.claims.protocol import (curve_cells, measured_critical_lr, ntk_gram, per_trial, prefix_gram, shared,
                                      training)
from ntkbench.config import ExponentSetting, WidthConfig
from ntkbench.report import plots
from ntkbench.results import ClaimResult, Figure, Statistic
from ntkbench.runner import Runner

CLAIM = "width_deterioration"
TITLE = "With width, the network improves, then deteriorates toward its infinite NTK"
SOURCE = "[V] Vyas, Bansal, Nakkiran 2022, Fig. 2b, 2c"


def interior_minimum(curve) -> float:
    """How far the lowest interior point lies below the lower of the two end points."""
    return float(min(curve[0], curve[-1]) - np.min(curve[1:-1]))


def _statistics(task: str, widths, nn, entk, ntk, diverged: dict) -> dict[str, Statistic]:
    """Statistics of one width sweep; `nn`, `entk` (trials, widths), `ntk` (trials, 1);
    `diverged` the fraction of each model's runs that diverged."""
    def rank_trend(e):
        return sps.spearmanr(widths, e).statistic

    def approach(e, k):
        return abs(e[0] - k[0]) - abs(e[-1] - k[0])

    def nn_approach(e, k):
        return abs(e.min() - k[0]) - abs(e[-1] - k[0])

    out = [
        Statistic(f"entk_trend/{task}", stats.curve_statistic(rank_trend, entk),
                  "(a) Spearman correlation of ENTK-init error with width; the claim: below 0"),
        Statistic(f"entk_approach/{task}", stats.curve_statistic(approach, entk, ntk),
                  "(a) |ENTK(narrowest) - NTK| - |ENTK(widest) - NTK|; the claim: above 0"),
        Statistic(f"nn_interior_min/{task}", stats.curve_statistic(interior_minimum, nn),
                  "(b) min(NN at narrowest, NN at widest) - lowest interior NN error; the claim: above 0"),
        Statistic(f"nn_approach/{task}", stats.curve_statistic(nn_approach, nn, ntk),
                  "(b) |NN(best width) - NTK| - |NN(widest) - NTK|; the claim: above 0"),
        Statistic(f"control/{task}/ENTK-interior-min", stats.curve_statistic(interior_minimum, entk),
                  "negative control: statistic (b) of the linearised network (ENTK-init); "
                  "must not be supported"),
    ]
    involved = {"entk": ("ENTK", "NTK"), "nn_interior_min": ("NN",), "nn_approach": ("NN", "NTK"),
                "control": ("ENTK",)}
    for s in out:
        models = next(v for k, v in involved.items() if s.name.startswith(k))
        s.verdict = stats.verdict(s.estimate, -1 if s.name.startswith("entk_trend") else +1,
                                  diverged=max(diverged[m] for m in models))
    return {s.name: s for s in out}


def run(cfgs: tuple[WidthConfig, ...], runner: Runner, data_dir=None) -> ClaimResult:
    start = time.perf_counter()
    statistics, curves, notes = {}, {}, []
    for cfg in cfgs:
        p, task = cfg.protocol, cfg.protocol.task
        full = ntk_gram(shared(p), runner, data_dir)
        critical = measured_critical_lr(p, full, runner, data_dir)
        ntk = prefix_gram(shared(p), full, cfg.n, runner, data_dir)
        cells = [c for w in cfg.widths
                 for c in curve_cells(p, ExponentSetting(f"width-{w}", width=w), critical, ntk, data_dir,
                                      n_grid=(cfg.n,))]
        done = per_trial(runner.map(cells, f"{task}/widths"))
        by_width = [done[i * p.trials:(i + 1) * p.trials] for i in range(len(cfg.widths))]
        errors = {m: np.array([[trial[f"{m}/best"][0] for trial in width] for width in by_width]).T
                  for m in ("NN", "ENTK", "NTK")}
        ntk = errors["NTK"][:, :1]
        curves[task] = {"NN": errors["NN"], "ENTK": errors["ENTK"], "NTK": ntk}
        runs = len(cfg.widths) * p.trials
        diverged = {m: sum(int(t[f"{m}/diverged"]) for w in by_width for t in w) for m in ("NN", "ENTK", "NTK")}
        statistics |= _statistics(task, np.asarray(cfg.widths), errors["NN"], errors["ENTK"], ntk,
                                  {m: d / runs for m, d in diverged.items()})
        gap = [stats.curve_statistic(lambda e, k: e[0] - k[0], errors["ENTK"][:, i:i + 1], ntk)
               for i in range(len(cfg.widths))]
        close = [w for w, g in zip(cfg.widths, gap) if g.low <= 0 <= g.high]
        reach = (f"within noise of it (paired 95% CI of the gap includes 0) from width {close[0]}"
                 if close else f"still above it at width {cfg.widths[-1]}: gap {gap[-1].value:.4f}, "
                 f"95% CI [{gap[-1].low:.4f}, {gap[-1].high:.4f}]")
        notes.append(f"{task}: lr {float(by_width[0][0]['lr']):.4g} (a quarter of the measured "
                     f"critical lr {critical:.4g}); the NN is best at width "
                     f"{cfg.widths[int(np.argmin(errors['NN'].mean(0)))]}; ENTK-init approaches "
                     f"the infinite NTK and is {reach}")
        if any(diverged.values()):
            notes.append(f"{task}: diverged runs of {runs} per model: {diverged}; above "
                         f"{stats.MAX_DIVERGED:.0%} the decisions involving that model are inconclusive")
    return ClaimResult(
        claim=CLAIM, title=TITLE, source=SOURCE, scale=cfgs[0].scale, statistics=statistics,
        measurements={"widths": {c.protocol.task: list(c.widths) for c in cfgs},
                      "errors": {t: {m: v.tolist() for m, v in c.items()} for t, c in curves.items()}},
        config={"sweeps": [c.as_dict() for c in cfgs]}, protocol=protocol(cfgs),
        figures=[Figure(f"Test error vs width, {c.protocol.task}, n = {c.n}",
                        _width_plot(c.widths, curves[c.protocol.task]),
                        "Mean over trials with 95% CIs of the mean (t-interval); the infinite NTK "
                        "as a line with its band. The paper: ENTK-init falls toward the NTK from "
                        "above, the NN dips and rises toward it.") for c in cfgs],
        seconds=time.perf_counter() - start, notes=notes)


def protocol(cfgs) -> list[str]:
    lines = [f"{c.protocol.task}: n = {c.n}, widths {', '.join(map(str, c.widths))}, "
             f"{c.protocol.trials} trials, otherwise the exponent claim's base protocol "
             f"({training(c.protocol)})." for c in cfgs]
    lines.append("Statistics are percentile bootstraps over trials (2000 resamples), paired where "
                 "two curves share trials; minima and best widths are re-picked in every resample.")
    if cfgs[0].scale != "full":
        lines.append("Quick scale differs from the paper in the data (XOR-type task instead of "
                     "CIFAR-5m-bin / SVHN-parity), the architecture (MLP), n and the widths "
                     "(2..256: the network's optimum lies below 16 on this task).")
    return lines


def _width_plot(widths, curve):
    def draw(ax):
        plots.mean_with_ci(ax, widths, curve["NN"], color="C0", label="NN")
        plots.mean_with_ci(ax, widths, curve["ENTK"], color="C2", label="ENTK-init")
        k, half = curve["NTK"][:, 0], float(plots.t_halfwidth(curve["NTK"][:, 0]))
        ax.axhline(k.mean(), color="C1", label="infinite NTK")
        ax.axhspan(k.mean() - half, k.mean() + half, color="C1", alpha=0.2)
        plots.width_axis(ax, widths)
        ax.set_ylabel("test error")
        ax.legend()
    return draw


def quick_tolerance(statistic: str) -> dict:
    """Rank correlations 0.15, error gaps 0.02 (absolute); verdicts must not change."""
    return {"absolute": 0.15 if statistic.startswith("entk_trend") else 0.02}
