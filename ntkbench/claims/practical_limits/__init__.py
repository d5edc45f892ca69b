"""Claim family: the kernel regime's benefits need widths far beyond practice [W].

[W] argues that wide networks in the NTK regime optimise faster (second-order methods),
forget less in continual learning and give reliable uncertainty, but that convergence to
that regime needs width >> depth, so networks of practical width do not show these
benefits. The paper publishes no numbers (abstract only); the experiments are ours, on
ReLU MLPs and teacher tasks they can learn, each decided by a bootstrap CI over seeds, each
in its own module (with its decision rules, control and figures):

  movement      (a) the ENTK still moves at practical width: less with width, more with
                depth, and the width where the kernel regime would begin;
  optimisation  (b) damped Gauss-Newton needs more steps on the network than on its
                linearisation, a gap that closes with width;
  forgetting    (c) forgetting of a first task falls with width when training stops early;
  uncertainty   (d) the NTK-GP is better calibrated than the trained network's linearised
                Laplace.

This module runs their cells and assembles the claim's one result.

References:
  [W] Wenger, Dangel, Kristiadi, "On the disconnect between theory and practice of neural
  networks: limits of the NTK perspective", 2023.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from ntkbench import config, cost, stats, train
from ntkbench.claims.practical_limits import forgetting, movement, networks, optimisation, uncertainty
from ntkbench.claims.registry import Claim
from ntkbench.config import PracticalConfig
from ntkbench.results import ClaimResult, Statistics
from ntkbench.runner import Cell, Runner

CLAIM = "practical_limits"
TITLE = "The kernel regime's benefits need widths far beyond practice"
SOURCE = "[W] Wenger, Dangel, Kristiadi 2023 (abstract; no published numbers)"


def decide(cfg: PracticalConfig, change, mse, steps: dict, forgot: dict, uq: dict
           ) -> tuple[Statistics, list[str]]:
    """The claim's statistics and notes from its per-seed measurements (arrays with seeds on
    axis 0): (a) the relative kernel change and training MSE of each of
    `movement.cells(cfg.movement)`; (b) the step counts `steps[key]` per width; (c) forgetting
    per width, `forgot["short"]` and `["converged"]`; (d) the scores `uq[key]` per width."""
    statistics = Statistics()
    notes = movement.decide(statistics, cfg.movement, change, mse)
    notes += optimisation.decide(statistics, cfg.optimisation, steps)
    forgetting.decide(statistics, cfg.forgetting, forgot)
    uncertainty.decide(statistics, cfg.uncertainty, uq)
    return statistics, notes


def _cells(kind: str, fn, cfg: PracticalConfig, part, grid) -> list[Cell]:
    """One cell of `fn` per element of `grid` (keyword dicts), computing from the shared
    settings and the experiment's own `part`."""
    c = cfg.shared() | dataclasses.asdict(part)
    return [Cell(f"{CLAIM}.{kind}", fn, dict(cfg=c, **params)) for params in grid]


def run(cfg: PracticalConfig, runner: Runner, data_dir=None) -> ClaimResult:
    start = time.perf_counter()
    movement_cells = movement.cells(cfg.movement)
    moved = runner.map(_cells("movement", movement.cell, cfg, cfg.movement,
                              [dict(depth=d, width=w, lr_factor=f) for d, w, f in movement_cells]),
                       "a: kernel movement")
    optimised = runner.map(_cells("optimisation", optimisation.cell, cfg, cfg.optimisation,
                                  [dict(width=w) for w in cfg.optimisation.widths]), "b: Gauss-Newton vs GD")
    learned = runner.map(_cells("continual", forgetting.cell, cfg, cfg.forgetting,
                                [dict(width=w) for w in cfg.forgetting.widths]), "c: continual learning")
    calibrated = runner.map(_cells("uncertainty", uncertainty.cell, cfg, cfg.uncertainty,
                                   [dict(width=w) for w in cfg.uncertainty.widths]), "d: uncertainty")

    def grid(cells, key):
        """(seeds, cells) array of `key`."""
        return np.stack([np.asarray(cell[key], np.float64) for cell in cells], 1)

    n_main = len(cfg.movement.depths) * len(cfg.movement.widths)
    change = grid(moved, "change")
    steps = {k: grid(optimised, k) for k in optimised[0] if k != "seconds"}
    forgot = {k: grid(learned, f"{k}/forgetting") for k in forgetting.BUDGETS}
    uq = {k: grid(calibrated, k) for k in calibrated[0] if k not in ("seconds", "nn_test")}
    statistics, notes = decide(cfg, change, grid(moved, "train_mse"), steps, forgot, uq)
    ensemble = uncertainty.ensemble_scores(cfg.uncertainty, cfg.n_test, cfg.dim,
                                           np.stack([cell["nn_test"] for cell in calibrated]))
    measurements = {
        "a": {"cells": [list(m) for m in movement_cells],
              **{k: grid(moved, k).tolist() for k in moved[0] if k != "seconds"}},
        "b": {k: v.tolist() for k, v in steps.items()},
        "c": {k: grid(learned, k).tolist() for k in learned[0] if k != "seconds"},
        "d": {k: v.tolist() for k, v in uq.items()}
        | {"ensemble/nll": ensemble[:, 0].tolist(), "ensemble/ece": ensemble[:, 1].tolist()},
    }
    return ClaimResult(
        claim=CLAIM, title=TITLE, source=SOURCE, scale=cfg.scale, statistics=statistics,
        measurements=measurements, config=cfg.as_dict(), protocol=protocol(cfg),
        figures=movement.figures(cfg.movement, change[:, :n_main], grid(moved, "lambda_min")[:, :n_main],
                                 grid(moved, "lambda_min_inf")[:, :n_main], statistics)
        + optimisation.figures(cfg.optimisation, steps) + forgetting.figures(cfg.forgetting, forgot)
        + uncertainty.figures(cfg.uncertainty, uq, ensemble[:, 1]),
        seconds=time.perf_counter() - start, notes=notes)


def stages(cfg: PracticalConfig) -> list:
    """What `run` computes, stage by stage (`ntkbench.cost`): per cell, each seed's networks,
    their ENTK Grams at init and after training, and the solves and eigendecompositions
    on them; (b) at its worst, every Gauss-Newton step taken up to its cap. An infinite
    kernel does not depend on the width, so it is priced as the width-1 network's."""
    shape, m, o, f, u = (cfg.dim,), cfg.movement, cfg.optimisation, cfg.forgetting, cfg.uncertainty

    def sgd(spec, n, steps, evals):
        return cost.Training(spec, shape, n, train.epochs_for(steps, n, cfg.batch_size)
                             * train.steps_per_epoch(n, cfg.batch_size), cfg.batch_size, 1, evals)

    def gram(spec, n):
        return cost.EmpiricalGram(spec, shape, n, n)

    def moved(d, w):
        spec = networks.mlp(d, w)
        return [gram(spec, m.n), sgd(spec, m.n, m.steps, cfg.n_test), gram(spec, m.n),
                cost.InfiniteGram(networks.mlp(d, 1), shape, m.n**2), cost.Solve(m.n, 2)]

    def optimised(w):
        spec = networks.mlp(o.depth, w)
        gd = cost.Training(spec, shape, o.n, o.max_gd_steps, o.n, 1, 60 * o.n)
        return ([gram(spec, o.n), cost.Solve(o.n), gd, cost.KernelFit(o.n, o.n, o.max_gd_steps, 60)]
                + [gram(spec, o.n), cost.Solve(o.n)] * (2 * o.max_gn_steps) + [cost.Solve(o.n, 2)])

    def learned(w):
        spec = networks.mlp(2, w)
        return [gram(spec, f.n), cost.Solve(f.n)] + [sgd(spec, f.n, s, cfg.n_test) for s in f.steps for _ in "ab"]

    def calibrated(w):
        spec, n = networks.mlp(2, w), u.n + cfg.n_test
        return [gram(spec, n), cost.Solve(u.n), sgd(spec, u.n, u.steps, n), gram(spec, n),
                cost.InfiniteGram(networks.mlp(2, 1), shape, n * n), cost.Solve(n, 3)]

    def stage(label, per_seed, grid):
        return cost.Stage(label, tuple(tuple(per_seed(*g)) * cfg.seeds for g in grid))

    return [stage("a: kernel movement", moved, [(d, w) for d, w, _ in movement.cells(m)]),
            stage("b: Gauss-Newton vs GD", optimised, [(w,) for w in o.widths]),
            stage("c: continual learning", learned, [(w,) for w in f.widths]),
            stage("d: uncertainty", calibrated, [(w,) for w in u.widths])]


def protocol(cfg: PracticalConfig) -> list[str]:
    return [
        f"ReLU MLPs (W_std sqrt 2, b_std 0.1, NTK parameterization); tasks y = sign(w . x), x ~ "
        f"N(0, I_{cfg.dim}), w one of fixed orthonormal directions; {cfg.seeds} seeds; SGD with "
        f"momentum 0.9, batch {cfg.batch_size}, lr = {cfg.lr_scale} / lambda_max(K0 / n) of each "
        "network's own ENTK at init.",
        movement.protocol(cfg.movement), optimisation.protocol(cfg.optimisation),
        forgetting.protocol(cfg.forgetting), uncertainty.protocol(cfg.uncertainty),
        "Statistics: paired over seeds; fits and picks are redone in every bootstrap resample. "
        + stats.INTERVALS,
        "Differences from [W] at every preset: [W] publishes its argument and no protocol or numbers; "
        "every experiment, task, width grid and rule here is ours"
        + (" (quick preset: widths up to 512, depths up to 16, 5 seeds)." if cfg.scale == "quick" else "."),
    ]


def quick_tolerance(statistic: str) -> dict:
    """Exponents, log-widths, log2 step gaps and their slopes: 0.15; calibration and NLL gaps:
    0.05; slopes of forgetting: 0.01 (absolute); verdicts must not change."""
    if statistic.startswith(("d/", "control/d")):
        return {"absolute": 0.05}
    return {"absolute": 0.01 if statistic.startswith("c/") else 0.15}


def _shrunk(cfg: PracticalConfig) -> PracticalConfig:
    """Every experiment's widths, depths, samples and steps cut to seconds."""
    return dataclasses.replace(
        cfg, seeds=2, n_test=16,
        movement=dataclasses.replace(cfg.movement, depths=(2, 4), widths=(4, 8), n=16, steps=8),
        optimisation=dataclasses.replace(cfg.optimisation, widths=(4, 8), n=8, max_gn_steps=3, max_gd_steps=8),
        forgetting=dataclasses.replace(cfg.forgetting, widths=(4, 8), n=16, steps=(4, 8)),
        uncertainty=dataclasses.replace(cfg.uncertainty, widths=(4, 8), n=16, steps=8))


DEFINITION = Claim(CLAIM, TITLE, SOURCE, config.practical_limits, run, quick_tolerance, shrink=_shrunk,
                   position=5, stages=stages)
