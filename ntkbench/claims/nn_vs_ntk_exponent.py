"""Claim: the network's data-scaling exponent beats its NTK's [V, Claim 3.1, Fig. 1A, 2a, 3].

Experiment (Sec. 3 of [V]): learning curves L(n) = a n^(-beta) of the network (NN), its
empirical NTK at initialisation (ENTK-init, no f(w0, x) term) and its infinite-width NTK,
all three trained alike (`claims.protocol`), test error with optimal early stopping.

Decision, per task and setting (the base protocol and the paper's ablations): the paired
bootstrap CI over trials of beta_NN - beta_K, for K in {infinite NTK, ENTK-init};
`supported` when it lies above 0. Negative control: the network replaced by its own
linearisation (the ENTK-init predictor), beta_ENTK - beta_NTK, must not be `supported`.

References:
  [V] Vyas, Bansal, Nakkiran, "Limitations of the NTK for understanding generalization in
  deep learning", 2022.
"""

from __future__ import annotations

import time

import numpy as np

from ntkbench import baselines, config, experiment, scaling, stats
from ntkbench.claims.protocol import (MODELS, NO_NTK, critical_stage, gram_stage, lr_kernel, measured_critical_lr,
                                      models_of, ntk_grams, setting_curves, setting_stages, shared, shrunk,
                                      task_deviations)
from ntkbench.claims.registry import Claim
from ntkbench.config import ExponentConfig
from ntkbench.report import plots
from ntkbench.results import ClaimResult, Figure, Statistics
from ntkbench.runner import Runner

CLAIM = "nn_vs_ntk_exponent"
TITLE = "The network's data-scaling exponent beats its NTK's"
SOURCE = "[V] Vyas, Bansal, Nakkiran 2022, Claim 3.1, Fig. 1A, 2a, 3"
KERNELS = ("NTK", "ENTK")
# Tasks whose direction was stated before the first run; MNIST-1D parity's (a CNN with global
# pooling, the network [V]'s claim is about) on 2026-12-04, before its first run.
PRE_REGISTERED = ("xor", "mnist1d-parity", "cifar5m-bin")


def run(cfgs: tuple[ExponentConfig, ...], runner: Runner, data_dir=None) -> ClaimResult:
    """Runs every task and setting of `cfgs`; image tasks read `data_dir`."""
    start = time.perf_counter()
    statistics, curves, notes, lrs, train_errors, steps = Statistics(), {}, [], {}, {}, {}
    for cfg in cfgs:
        ntk = ntk_grams(shared(cfg), runner, data_dir)
        critical = measured_critical_lr(cfg, ntk, runner, data_dir)
        trained = models_of(shared(cfg))
        notes.append(f"{cfg.task}: measured critical lr of SGD on {lr_kernel(shared(cfg))} {critical:.4g}")
        for s in cfg.settings:
            label = f"{cfg.task}/{s.name}"
            cells = setting_curves(cfg, s, critical, ntk, runner, data_dir)
            which = "best" if s.early_stopping else "final"
            errors = {m: scaling.floor_zeros(np.stack([c[f"{m}/{which}"] for c in cells]), cfg.n_test)
                      for m in trained}
            curves[label] = {m: e[0] for m, e in errors.items()}
            train_errors[label] = np.stack([c["NN/train_error"] for c in cells])
            steps[label] = np.stack([c["NN/steps"] for c in cells])
            notes.append(training_note(label, cfg, train_errors[label], steps[label]))
            lrs[label] = float(cells[0]["lr"])
            zeros = {m: e[1] for m, e in errors.items() if e[1]}
            if zeros:
                notes.append(f"{label}: zero test errors floored at 1/(2 n_test): {zeros}")
            runs = cfg.trials * len(cfg.n_grid)
            diverged = {m: sum(int(c[f"{m}/diverged"]) for c in cells) for m in trained}
            if any(diverged.values()):
                notes.append(f"{label}: runs that diverged (non-finite outputs before the last "
                             f"step; their best error counts only the steps before), of {runs} per "
                             f"model: {diverged}; above {stats.MAX_DIVERGED:.0%} the comparisons "
                             "involving that model are inconclusive")
            untrained = scaling.untrained(cfg.n_grid, train_errors[label].mean(0))
            if untrained:
                notes.append(f"{label}: the networks did not reach {scaling.TRAINED:.0%} training error "
                             f"(trial mean at the end of training) at n = {', '.join(map(str, untrained))}; "
                             "those n are left out of the fits ([V]'s networks reach 0 training error)")
            statistics |= setting_statistics(label, cfg.n_grid, curves[label],
                                             {m: d / runs for m, d in diverged.items()},
                                             pre_registered=cfg.task in PRE_REGISTERED,
                                             train_error=train_errors[label], n_test=cfg.n_test)
    return ClaimResult(
        claim=CLAIM, title=TITLE, source=SOURCE, scale=cfgs[0].scale, statistics=statistics,
        measurements={"errors": {k: {m: v.tolist() for m, v in c.items()} for k, c in curves.items()},
                      "nn_train_error": {k: v.mean(0).tolist() for k, v in train_errors.items()},
                      "nn_steps": {k: v.mean(0).tolist() for k, v in steps.items()}, "lr": lrs},
        config={"tasks": [c.as_dict() for c in cfgs]}, protocol=protocol(cfgs),
        figures=[Figure(f"Learning curves, {label}", _curve_plot(cfgs, label, curves[label], train_errors[label]),
                        "Mean test error over trials (points) and the power law fitted on the shaded "
                        "range of n (lines), log-log; open points lie outside the fitted range.")
                 for label in curves if label.endswith("/base")]
        + [Figure("Exponents with 95% CIs", lambda ax: _exponent_plot(ax, statistics),
                  "Ours (points with CI bars) beside the paper's CIFAR-5m-bin values (crosses).")],
        seconds=time.perf_counter() - start, notes=notes)


def training_note(label: str, cfg: ExponentConfig, train_error, steps) -> str:
    """How long the networks of a setting trained to the training-error target, and which missed it."""
    budget = cfg.rounds * cfg.steps
    missed = train_error > scaling.TRAINED
    return (f"{label}: the networks trained until their training error was at most {scaling.TRAINED:.0%} "
            f"(rounds of {cfg.steps} steps, at most {cfg.rounds}); mean steps by n: "
            + ", ".join(f"{n}: {s:.0f}" for n, s in zip(cfg.n_grid, steps.mean(0)))
            + (f"; {int(missed.sum())} of {missed.size} runs missed the target within their budget of about "
               f"{budget} steps (n = {', '.join(str(n) for n, m in zip(cfg.n_grid, missed.any(0)) if m)})"
               if missed.any() else "; every run met it"))


def stages(cfgs: tuple[ExponentConfig, ...]) -> list:
    """What `run` computes, stage by stage (`ntkbench.cost`): per task its infinite NTK, its
    critical lr and every setting's learning curves."""
    return [stage for cfg in cfgs
            for stage in gram_stage(shared(cfg)) + [critical_stage(shared(cfg))]
            + [s for setting in cfg.settings for s in setting_stages(cfg, setting)]]


def setting_statistics(label: str, ns, curves: dict, diverged: dict, *, pre_registered: bool,
                       train_error=None, n_test: int) -> Statistics:
    """The statistics of one task and setting: each model's exponent, beta_NN - beta_K for
    each kernel (decisions where the task's direction was pre-registered, measurements
    elsewhere) and the negative control beta_ENTK - beta_NTK, all fitted on the power-law
    range of the grid (`scaling.fit_range`, the same range for every model, chosen again in
    every bootstrap resample so that the intervals cover that choice too); those that need
    the NTK only where `curves` has it (`protocol.models_of`).

    `curves[m]` is model m's (trials, len(ns)) test error on `n_test` points, `diverged[m]`
    the fraction of its runs that diverged, `train_error` the networks' (trials, len(ns))
    training error. The fit range is recorded as a choice governing every statistic here.
    """
    out = Statistics()
    grid = np.asarray(ns)
    fitted = scaling.fit_range(grid, curves, train_error, n_test=n_test)
    ns = grid[fitted.mask]
    span = f"n = {ns[0]}..{ns[-1]}"
    for m in curves:
        law = scaling.fit(ns, curves[m][:, fitted.mask].mean(0))
        out.measure(f"beta/{label}/{m}", scaling.exponent(grid, curves[m], within=fitted),
                    f"exponent of {m} on {span}; log-log R^2 {law.r2:.3f}, curvature {law.curvature:+.3f}")
    for k in KERNELS:
        if k not in curves:
            out.omit(f"diff/{label}/NN-{k}", NO_NTK)
            continue
        est = scaling.exponent_difference(grid, curves["NN"], curves[k], within=fitted)
        if pre_registered:
            out.decide(f"diff/{label}/NN-{k}", est, f"beta_NN - beta_{k} on {span}, paired over trials; "
                       "the claim: above 0", direction=+1, diverged=max(diverged["NN"], diverged[k]),
                       unmet=fitted.unmet)
        else:
            out.measure(f"diff/{label}/NN-{k}", est, f"beta_NN - beta_{k} on {span}, paired over trials "
                        "(this task's direction was not pre-registered: a measurement)")
    if "NTK" not in curves:
        out.omit(f"control/{label}/ENTK-NTK", NO_NTK)
    else:
        out.control(f"control/{label}/ENTK-NTK",
                    scaling.exponent_difference(grid, curves["ENTK"], curves["NTK"], within=fitted),
                    f"negative control: the network replaced by its linearisation (ENTK-init), "
                    f"beta_ENTK - beta_NTK on {span}; must not be supported",
                    direction=+1, diverged=max(diverged["ENTK"], diverged["NTK"]), unmet=fitted.unmet)
    out.choose(f"fit range/{label}", grid[fitted.mask], scaling.describe(fitted), margin=fitted.margin,
               governs=list(out))
    return out


def protocol(cfgs) -> list[str]:
    lines = []
    for c in cfgs:
        lines.append(
            f"{c.task}: n = {', '.join(map(str, c.n_grid))} (nested prefixes of each trial's own pool), "
            f"{c.n_test} test points (each trial's own), {c.trials} trials; network {c.depth} layers of width "
            f"{c.width}; SGD with momentum 0.9, batch {c.batch_size}, rounds of {c.steps} steps until the "
            f"training error is at most {scaling.TRAINED:.0%} (at most {c.rounds}), lr = {c.lr_fraction} x "
            f"the largest lr at which the same SGD on {lr_kernel(shared(c))} at n_max stays finite "
            "(measured by bisection; every setting of a task uses it, ablations scale it); test error at "
            f"{c.eval_points} log-spaced steps up to the budget, best of those trained (optimal early "
            "stopping); the networks' training error and steps at their stop are recorded.")
        lines.append(f"{c.task} settings: " + ", ".join(s.name for s in c.settings) + ".")
    lines += [
        "Kernels (infinite NTK and ENTK-init, the latter without the f(w0, x) term) are trained "
        "as predictors sum_i a_i K(x, x_i) by the same SGD (closed-form heavy-ball GD in the "
        "full-batch setting).",
        "Exponent: least squares in log-log on the trial-mean curve, paired over trials for "
        "differences, the fit range chosen again in every bootstrap resample. " + stats.INTERVALS
        + " Best-of-schedule error is optimistic for every model alike.",
        "Pre-registered directions: " + ", ".join(PRE_REGISTERED) + " (NN beats both kernels); the "
        "other tasks' differences are reported measurements.",
    ]
    lines += task_deviations(cfgs)
    lines.append("In the lr, full-batch GD and momentum settings only the network is retrained; the kernels' "
                 "curves are the base setting's, as in [V] (without early stopping: their final-time errors).")
    return lines


def _curve_plot(cfgs, label, curve, train_error):
    cfg = next(c for c in cfgs if label.startswith(c.task + "/"))
    mask = scaling.fit_range(cfg.n_grid, curve, train_error, n_test=cfg.n_test).mask
    return lambda ax: plots.power_laws(ax, cfg.n_grid, curve, fitted=mask)


def _exponent_plot(ax, statistics) -> None:
    labels = sorted({k.split("/")[1] + "/" + k.split("/")[2] for k in statistics if k.startswith("beta/")})
    paper = {k.split("/", 2)[2]: v for k, v in baselines.published(CLAIM).items()}  # "base/NN" -> beta
    for i, label in enumerate(labels):
        for j, m in enumerate(MODELS):
            if f"beta/{label}/{m}" not in statistics:
                continue
            color = plots.MODEL_COLORS[m]
            est = statistics[f"beta/{label}/{m}"].estimate
            y = i + (j - 1) * 0.22
            err = [[max(est.value - est.low, 0.0)], [max(est.high - est.value, 0.0)]]
            ax.errorbar(est.value, y, xerr=err, fmt="o",
                        color=color, label=m if i == 0 else None)
            published = paper.get(f"{label.split('/')[1]}/{m}")
            if published is not None:
                ax.plot(published, y, "x", color=color)
    ax.plot([], [], "x", color="grey", label="published (CIFAR-5m-bin)")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("exponent beta")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4, frameon=False)


def quick_tolerance(statistic: str) -> dict:
    """Exponents and their differences: 0.02 (absolute); verdicts must not change."""
    return {"absolute": 0.02}


DEFINITION = Claim(CLAIM, TITLE, SOURCE, config.nn_vs_ntk_exponent, run, quick_tolerance,
                   shrink=lambda cfgs: tuple(shrunk(c) for c in cfgs),
                   with_experiment=experiment.exponent_configs, position=1, stages=stages)
