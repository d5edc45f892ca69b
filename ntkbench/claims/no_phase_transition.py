"""Claim: the empirical NTK keeps improving through training, with no phase transition into
a slower regime [V, Sec. 5, Fig. 5].

Experiment: one network trained by the exponent claim's base protocol on the largest
training set; K^t is its empirical NTK after t SGD steps, K^t_fit the test error of K^t
fitted on that whole training set (full-batch GD at the kernel's own stable rate, best over
a schedule to the ridgeless limit: `kernel_train.early_stopped_error`). Read on log-spaced
steps until the trial-mean training error falls below 5%, beside the network's and
ENTK-init's own test error at step t (the latter trained by the same SGD). Also: Fort et
al.'s kernel distance 1 - <K^t, K^T>_F / (|K^t| |K^T|) to the final kernel, and the relative
change |K^t - K^0|_F / |K^0|_F; data scaling of K^t at t = 0 and two later times.

Decision (pre-registered; rewritten in issue 16 before the rerun, because the first rule
could not reject Hypothesis 5.1: on a curve that improves steeply and then slows down, the
breakpoint lands on the slow-down and both later segments lie in the slow phase), paired
over trials: a two-segment (hinge) fit of log K^t_fit against log t gives the breakpoint;
the rest is split in two halves in log t, the middle and the late segment.
  - slope_change: the slope after the breakpoint minus the slope before is below 0 (the
    breakpoint is the onset of improvement after an early flat phase, not a slow-down);
  - late_slope: the late segment's log-log slope is below 0;
  - steady_rate: late slope - 2/3 x middle slope is below 0 (no slow-down to less than two
    thirds of the rate, against Hypothesis 5.1 of Fort et al. / Long);
  - beta_NN > beta_{K^t} for each sampled t.
Negative control: the same late slope for a network trained on shuffled labels (whose
kernel learns nothing about the task) must not come out `supported`.

References:
  [V] Vyas, Bansal, Nakkiran, "Limitations of the NTK for understanding generalization in
  deep learning", 2022.
  Fort et al., "Deep learning versus kernel learning: an empirical study of loss landscape
  geometry and the time evolution of the neural tangent kernel", NeurIPS 2020.
"""

from __future__ import annotations

import dataclasses
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

from ntkbench import config, cost, experiment, kernel_train, models, scaling, stats, train
from ntkbench.claims.protocol import (KERNEL_FIT, critical_stage, curve_cells, curve_stage, data_args, deviations,
                                      gram_stage, input_shape, measured_critical_lr, network_spec, ntk_grams,
                                      per_trial, shared, shrunk, task_of, training)
from ntkbench.claims.registry import Claim
from ntkbench.config import ExponentSetting, PhaseConfig
from ntkbench.kernels import empirical
from ntkbench.report import plots
from ntkbench.results import ClaimResult, Figure, Statistics
from ntkbench.runner import Cell, Runner

CLAIM = "no_phase_transition"
TITLE = "The empirical NTK keeps improving through training (no phase transition)"
SOURCE = "[V] Vyas, Bansal, Nakkiran 2022, Sec. 5, Fig. 5"
TIMES = ("t0", "tmid", "tend")
STEADY = 2 / 3  # the late segment keeps at least two thirds of the middle segment's log-log rate


def _run(cfg: dict, trial: int, critical: float, labels: str, data_dir=None) -> dict:
    p = cfg["protocol"]
    n = p["n_grid"][-1]
    task = task_of(p, n, data_dir, trial)
    x = np.concatenate([task.x_pool[:n], task.x_test])
    arch = network_spec(p, p["width"])
    key = jax.random.fold_in(jax.random.PRNGKey(p["seed"]), trial)
    params0 = models.network(arch).init(key, jnp.asarray(x[:1]))["params"]
    y = task.y_pool[:n]
    if labels == "shuffled":
        y = np.asarray(jax.random.permutation(jax.random.fold_in(key, 0), y))
    steps = kernel_train.schedule(p["steps"], cfg["snapshots"])
    lr = p["lr_fraction"] * critical
    shuffle = jax.random.fold_in(key, n)
    fit = train.fit_mse(arch, jax.tree.map(jnp.copy, params0), task.x_pool[:n], y, key=shuffle, lr=lr,
                        batch_size=p["batch_size"], epochs=train.epochs_for(p["steps"], n, p["batch_size"]),
                        momentum=0.9, eval_x=x, eval_steps=steps, snapshot=True)
    snapshots = [params0] + [jax.tree.map(lambda a, i=i: a[i], fit.snapshots) for i in range(len(steps))]
    train_error = np.mean(np.sign(fit.eval_preds[:, :n]) != y, axis=1)

    def fitted(k, m):
        return kernel_train.early_stopped_error(k[:m, :m], k[n:, :m], task.y_pool[:m], task.y_test)

    k_last = empirical.ntk(arch, snapshots[-1], x)
    k_end = k_last[:n, :n]
    end = int(np.argmax(train_error < cfg["train_error_target"])) if np.any(
        train_error < cfg["train_error_target"]) else len(steps) - 1
    mid = int(np.argmin(np.abs(np.log(steps) - np.log(0.3 * steps[end]))))
    out = {"steps": steps, "train_error": train_error, "k_fit": [], "distance": [], "change": [],
           "diverged": fit.diverged}
    k0 = empirical.ntk(arch, params0, x)
    for i, params in enumerate(snapshots):
        k = k0 if i == 0 else k_last if i == len(snapshots) - 1 else empirical.ntk(arch, params, x)
        out["k_fit"].append(fitted(k, n))
        out["distance"].append(1 - np.sum(k[:n, :n] * k_end) / (np.linalg.norm(k[:n, :n]) * np.linalg.norm(k_end)))
        out["change"].append(np.linalg.norm(k - k0) / np.linalg.norm(k0))
        for name, j in zip(TIMES, (0, mid + 1, end + 1)):
            if i == j and labels == "task":
                out[f"scaling/{name}"] = [fitted(k, m) for m in p["n_grid"]]
                out[f"step/{name}"] = 0 if j == 0 else int(steps[j - 1])
    if labels == "task":
        entk = kernel_train.sgd_trajectory(k0[:n, :n], k0[n:, :n], y, key=shuffle, lr=lr, momentum=0.9,
                                           batch_size=p["batch_size"], steps=steps)
        out["NN"] = kernel_train.zero_one_error(fit.eval_preds[:, n:], task.y_test)
        out["ENTK"] = kernel_train.zero_one_error(entk, task.y_test)
    return {k: np.asarray(v) for k, v in out.items()} | {"lr": lr}


def kernel_evolution(cfg: dict, trial: int, critical: float, data_dir=None) -> dict:
    """One trial: K^t along the run on the task's labels, and the shuffled-label control."""
    task = _run(cfg, trial, critical, "task", data_dir)
    control = _run(cfg, trial, critical, "shuffled", data_dir)
    return task | {f"control/{k}": control[k] for k in ("k_fit", "train_error", "distance", "change", "diverged")}


def stages(cfg: PhaseConfig) -> list:
    """What `run` computes, stage by stage (`ntkbench.cost`): the protocol's infinite NTK and
    critical lr; per trial a run on the task's labels and one on shuffled labels, each with
    the ENTK Gram and its fit at every snapshot; the networks' learning curves."""
    p = shared(cfg.protocol)
    grid, n, n_test, batch = p["n_grid"], p["n_grid"][-1], p["n_test"], p["batch_size"]
    arch, shape = network_spec(p, p["width"]), input_shape(p)
    snapshots = len(kernel_train.schedule(p["steps"], cfg.snapshots))
    steps = train.epochs_for(p["steps"], n, batch) * train.steps_per_epoch(n, batch)
    one_run = ([cost.Training(arch, shape, n, steps, batch, 1, snapshots * (n + n_test))]
               + [cost.EmpiricalGram(arch, shape, n + n_test, n + n_test), cost.KernelFit(n, n_test)] * (snapshots + 1))
    scaling_fits = [cost.KernelFit(m, n_test) for m in grid] * len(TIMES)
    trial = tuple(one_run * 2 + scaling_fits + [cost.KernelSGD(n, n_test, p["steps"], batch, snapshots)])
    evolution = cost.Stage(f"{p['task']}/kernel evolution", (trial,) * cfg.protocol.trials)
    return gram_stage(p) + [critical_stage(p), evolution,
                            curve_stage(cfg.protocol, ExponentSetting("base"), f"{p['task']}/network learning curves")]


def hinge(log_t, log_e):
    """Breakpoint b and slopes before / after of the continuous two-segment least-squares fit
    log_e = c + s1 min(log_t - b, 0) + s2 max(log_t - b, 0), for each curve of `log_e` (last
    axis); b ranges over the inner points (three or more on each side)."""
    log_e = np.asarray(log_e, np.float64)
    fits = []
    for design, solve in _hinge_designs(tuple(np.asarray(log_t, np.float64).tolist())):
        coef = log_e @ solve.T
        fits.append((np.sum((coef @ design.T - log_e) ** 2, -1), coef[..., 1], coef[..., 2]))
    sse, before, after = (np.stack(f) for f in zip(*fits))
    best = np.argmin(sse, 0)[None]
    pick = lambda a: np.take_along_axis(a, best, 0)[0]  # noqa: E731
    return log_t[2:-2][best[0]], pick(before), pick(after)


@functools.lru_cache
def _hinge_designs(log_t: tuple[float, ...]) -> list[tuple[np.ndarray, np.ndarray]]:
    """`hinge`'s design matrix and its pseudo-inverse for each inner breakpoint, computed
    once per grid (they do not depend on the curves)."""
    log_t = np.asarray(log_t, np.float64)
    designs = [np.stack([np.ones_like(log_t), np.minimum(log_t - b, 0), np.maximum(log_t - b, 0)], 1)
               for b in log_t[2:-2]]
    return [(design, np.linalg.pinv(design)) for design in designs]


def _slope(log_t, log_e, mask):
    """Least-squares slope of log_e on log_t over the points of `mask` (both per curve)."""
    w = mask.astype(np.float64)
    count = w.sum(-1, keepdims=True)
    tm = (w * log_t).sum(-1, keepdims=True) / count
    em = (w * log_e).sum(-1, keepdims=True) / count
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w * (log_t - tm) * (log_e - em)).sum(-1) / (w * (log_t - tm) ** 2).sum(-1)


def shape(log_t, log_e) -> tuple:
    """For each curve of `log_e` (last axis): the hinge's breakpoint, its slopes before and
    after, and the least-squares slopes of the middle and late halves (in log t) after the
    breakpoint."""
    log_e = np.asarray(log_e, np.float64)
    b, before, after = hinge(log_t, log_e)
    half = (b[..., None] + log_t[-1]) / 2
    middle = _slope(log_t, log_e, (log_t >= b[..., None]) & (log_t <= half))
    return b, before, after, middle, _slope(log_t, log_e, log_t >= half)


WINDOW = ("breakpoint_step", "slope_before", "slope_after", "slope_change", "late_slope", "steady_rate",
          "flattening", "control/shuffled-labels/late_slope")
"""The statistics read off the analysis window (K^t_fit over training time)."""


def fit_range(ns, nn, kernels: dict, train_error=None, *, n_test: int) -> scaling.FitRange:
    """`scaling.fit_range` over the network's and every K^t's learning curve."""
    return scaling.fit_range(ns, {"NN": nn} | kernels, train_error, n_test=n_test)


def statistics(log_t, k_fit, control, ns, nn, kernels: dict, at: dict, diverged: dict,
               train_error=None, *, n_test: int) -> Statistics:
    """The claim's statistics. `k_fit`, `control`: (trials, len(log_t)) test errors of K^t_fit
    over the analysis window (task labels; shuffled labels); `nn` and `kernels[name]`: (trials,
    len(ns)) learning curves on `n_test` points of the network and of K^t at the step
    `at[name]`, whose exponents are fitted on the grid's power-law range (`scaling.fit_range`,
    a choice recorded as governing them; `train_error` is the networks' (trials, len(ns))
    training error); `diverged`: the fraction of runs that diverged, by model ("NN",
    "control")."""
    def quantities(e):
        b, before, after, middle, late = shape(log_t, np.log(np.maximum(e, 1e-12)))
        return np.exp(b), before, after, after - before, late, late - STEADY * middle, late - middle

    step, before, after, change, late, steady, flattening = stats.curve_statistic(quantities, k_fit)
    control_late = stats.curve_statistic(lambda e: quantities(e)[4], control)
    task = diverged["NN"]
    out = Statistics()
    out.measure("breakpoint_step", step, "SGD step of the fitted breakpoint (end of the early regime; the paper: "
                "about 140 batches)")
    out.measure("slope_before", before, "log-log slope of K^t_fit before the breakpoint")
    out.measure("slope_after", after, "log-log slope of K^t_fit after the breakpoint")
    out.decide("slope_change", change,
               "slope after minus slope before the breakpoint; the claim (an early flat phase, then "
               "improvement): below 0. A slow-down (Hypothesis 5.1) puts it above 0",
               direction=-1, diverged=task)
    out.decide("late_slope", late,
               "log-log slope of K^t_fit over the late half (in log t) after the breakpoint; the claim: below 0",
               direction=-1, diverged=task)
    out.decide("steady_rate", steady,
               f"late slope minus {STEADY:.3g} x middle slope; the claim (no slow-down: the late half keeps "
               f"at least {STEADY:.3g} of the middle half's rate): below 0", direction=-1, diverged=task)
    out.measure("flattening", flattening, "late slope minus middle slope (above 0: the late segment is flatter)")
    out.control("control/shuffled-labels/late_slope", control_late,
                "negative control: the late slope for a network trained on shuffled labels; must not be supported",
                direction=-1, diverged=diverged["control"])
    fitted = fit_range(ns, nn, kernels, train_error, n_test=n_test)
    grid = np.asarray(ns)
    ns = grid[fitted.mask]
    span = f"n = {ns[0]}..{ns[-1]}"
    for name, e in kernels.items():
        out.decide(f"diff/NN-K^{name}", scaling.exponent_difference(grid, nn, e, within=fitted),
                   f"beta_NN - beta of K^t at t = {at[name]} (per trial) on {span}; the claim: above 0",
                   direction=+1, diverged=task, unmet=fitted.unmet)
        out.measure(f"beta/K^{name}", scaling.exponent(grid, e, within=fitted),
                    f"exponent of K^t at t = {at[name]} on {span}")
    out.measure("beta/NN", scaling.exponent(grid, nn, within=fitted),
                f"exponent of the network (the exponent claim's base cells) on {span}")
    out.choose("fit range", ns, scaling.describe(fitted), margin=fitted.margin,
               governs=[f"diff/NN-K^{n}" for n in kernels] + [f"beta/K^{n}" for n in kernels] + ["beta/NN"])
    return out


def run(cfg: PhaseConfig, runner: Runner, data_dir=None) -> ClaimResult:
    start = time.perf_counter()
    p = cfg.protocol
    ntk = ntk_grams(shared(p), runner, data_dir)
    critical = measured_critical_lr(p, ntk, runner, data_dir)
    params = {"snapshots": cfg.snapshots, "train_error_target": cfg.train_error_target, "protocol": shared(p)}
    cells = runner.map([Cell(f"{CLAIM}.trial", kernel_evolution,
                             dict(cfg=params, trial=t, critical=critical, **data_args(data_dir)))
                        for t in range(p.trials)], f"{p.task}/kernel evolution")
    nn_curves = per_trial(runner.map(curve_cells(p, ExponentSetting("base"), critical, ntk, data_dir),
                                     f"{p.task}/network learning curves"))
    steps = cells[0]["steps"]
    train_error = np.stack([c["train_error"] for c in cells])
    below = np.flatnonzero(train_error.mean(0) < cfg.train_error_target)
    end = int(below[0]) if len(below) else len(steps) - 1
    window = slice(1, end + 2)  # K^t for t = steps[0] .. steps[end] (index 0 is t = 0)
    log_t = np.log(steps[:end + 1])
    k_fit = np.stack([c["k_fit"] for c in cells])
    control = np.stack([c["control/k_fit"] for c in cells])

    nn = scaling.floor_zeros(np.stack([c["NN/best"] for c in nn_curves]), p.n_test)[0]
    scaling_errors = {name: scaling.floor_zeros(np.stack([c[f"scaling/{name}"] for c in cells]), p.n_test)[0]
                      for name in TIMES}
    at = {name: ", ".join(sorted({str(int(c[f"step/{name}"])) for c in cells})) for name in TIMES}
    diverged = {"NN": float(np.mean([c["diverged"] for c in cells])),
                "control": float(np.mean([c["control/diverged"] for c in cells]))}
    nn_train_error = np.stack([c["NN/train_error"] for c in nn_curves])
    found = statistics(log_t, scaling.floor_zeros(k_fit[:, window], p.n_test)[0],
                       scaling.floor_zeros(control[:, window], p.n_test)[0], p.n_grid, nn, scaling_errors, at,
                       diverged, nn_train_error, n_test=p.n_test)
    found.choose("analysis window end", steps[end:end + 1],
                 f"the first step whose trial-mean training error is below {cfg.train_error_target:g} (else the "
                 "last)", margin=float(scaling.distance(scaling.Criterion(
                     train_error[:, :end + 1], cfg.train_error_target, 1 / p.n_grid[-1])).min()),
                 governs=WINDOW)
    series = {k: np.stack([c[k] for c in cells]) for k in ("NN", "ENTK", "distance", "change",
                                                            "control/distance", "control/change")}
    notes = [f"analysis window: steps {steps[0]}..{steps[end]} (trial-mean training error first below "
             f"{cfg.train_error_target:.0%} at step {steps[end]}" + ("" if len(below) else "; never reached, "
             "so the whole run") + f"); lr {float(cells[0]['lr']):.4g}; trial-mean training error at the "
             f"last step {train_error.mean(0)[-1]:.3f}" + ("" if train_error.mean(0)[-1] <= scaling.TRAINED else
                                                           f", above {scaling.TRAINED:.0%} ([V]'s networks reach 0)")]
    return ClaimResult(
        claim=CLAIM, title=TITLE, source=SOURCE, scale=cfg.scale, statistics=found,
        measurements={"steps": steps.tolist(), "window_end": int(steps[end]), "train_error": train_error.tolist(),
                      "k_fit": k_fit.tolist(), "control_k_fit": control.tolist(),
                      **{k: v.tolist() for k, v in series.items()},
                      "scaling": {k: v.tolist() for k, v in scaling_errors.items()}, "NN_curve": nn.tolist()},
        config=cfg.as_dict(), protocol=protocol(cfg),
        figures=[Figure("Fig. 5a: test error against training time", _time_plot(steps, end, k_fit, series, control),
                        "Trial means, log-log, up to the end of the analysis window (dotted line: the "
                        "fitted breakpoint). K^t_fit: the ENTK at step t fitted on the whole training set."),
                 Figure("Kernel movement", _movement_plot(steps, series),
                        "Fort et al.'s distance to the final kernel (at the last step, where it is 0 by "
                        "definition, not drawn) and the relative Frobenius change from init (trial "
                        "means; the control's network learnt shuffled labels)."),
                 Figure("Fig. 5b: data scaling of K^t", _scaling_plot(p.n_grid, nn, scaling_errors,
                                                                     fit_range(p.n_grid, nn, scaling_errors,
                                                                               nn_train_error,
                                                                               n_test=p.n_test).mask),
                        "Trial means and power laws fitted on the shaded range (open points lie outside "
                        "it); the paper: the network scales best.")],
        seconds=time.perf_counter() - start, notes=notes)


def protocol(cfg: PhaseConfig) -> list[str]:
    p = cfg.protocol
    lines = [
        f"{p.task}: one network per trial ({p.trials} trials) trained on n = {p.n_grid[-1]} by the "
        f"exponent claim's base protocol ({training(p)}); its ENTK at t = 0 and at "
        f"{cfg.snapshots} log-spaced steps.",
        "K^t_fit: K^t fitted on the whole training set. " + KERNEL_FIT,
        "Breakpoint: two-segment continuous least-squares fit in log-log over the window; middle and "
        "late segments: the two halves in log t after it. Data scaling of K^t at t = 0, about 0.3 x "
        f"and 1 x the step where that trial's training error falls below {cfg.train_error_target:.0%}, "
        f"over n = {', '.join(map(str, p.n_grid))}; the network's curve is the exponent claim's.",
        "Statistics: breakpoints and segments are re-fitted in every bootstrap resample. " + stats.INTERVALS,
    ]
    lines += deviations(p)
    lines.append(f"The kernel follows one run on n = {p.n_grid[-1]}" + ("" if p.n_grid[-1] == 64_000 else " ([V]: 64k)")
                 + f", read at {cfg.snapshots} log-spaced steps where [V] reads every batch.")
    return lines


def _time_plot(steps, end, k_fit, series, control):
    def draw(ax):
        t = steps[:end + 1]
        for values, label, color in ((k_fit[:, 1:end + 2], "K^t_fit", "C3"),
                                     (series["NN"][:, :end + 1], "NN at t", "C0"),
                                     (series["ENTK"][:, :end + 1], "ENTK-init at t", "C2"),
                                     (control[:, 1:end + 2], "control K^t_fit (shuffled labels)", "C7")):
            ax.loglog(t, values.mean(0), "o-", color=color, label=label, markersize=3)
        ax.axvline(np.exp(hinge(np.log(t), np.log(np.maximum(k_fit[:, 1:end + 2].mean(0), 1e-9)))[0]),
                   color="C3", linestyle=":")
        ax.set_xlabel("SGD step t")
        ax.set_ylabel("test error")
        ax.legend()
    return draw


def _movement_plot(steps, series):
    def draw(ax):
        for key, label, style in (("distance", "kernel distance to the end", "-"),
                                  ("change", "relative change from init", "--")):
            ax.loglog(steps[:-1], series[key][:, 1:-1].mean(0), style, color="C3", label=label)
            ax.loglog(steps[:-1], series[f"control/{key}"][:, 1:-1].mean(0), style, color="C7",
                      label=f"{label} (control)")
        ax.set_xlabel("SGD step t")
        ax.legend()
    return draw


def _scaling_plot(grid, nn, scaling_errors, fitted):
    curves = {"NN": nn} | {f"K^{k}": v for k, v in scaling_errors.items()}
    return lambda ax: plots.power_laws(ax, grid, curves, fitted=fitted)


def quick_tolerance(statistic: str) -> dict:
    """The breakpoint step: 50% (relative); slopes, exponents: 0.05 (absolute); verdicts must not change."""
    return {"relative": 0.5} if statistic == "breakpoint_step" else {"absolute": 0.05}


DEFINITION = Claim(CLAIM, TITLE, SOURCE, config.no_phase_transition, run, quick_tolerance,
                   shrink=lambda cfg: dataclasses.replace(cfg, protocol=shrunk(cfg.protocol, steps=64), snapshots=12),
                   with_experiment=experiment.phase_config, position=4, stages=stages)
