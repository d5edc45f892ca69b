"""Claim: the after-kernel improves with the data it was learnt on, yet no fixed after-kernel
scales like the network [V, Sec. 4, Fig. 4].

Experiment: K_m is the empirical NTK of the network trained (by the exponent claim's base
protocol) on the first m samples of the pool; K_m(n) is its test error when fitted on the
first n (a subset of the m when n <= m), K^F_m(n) when fitted on n fresh samples the network
never saw. Every kernel (ENTK-init, infinite NTK, after-kernels) is fitted the same way:
full-batch GD at its own stable rate, best test error over a schedule that reaches the
ridgeless solution (`kernel_train.early_stopped_error`), so that an after-kernel's larger
scale does not change its fit. The network is the plain trained network, best test error
over its schedule, as in the exponent claim.

Decision (pre-registered; (a) and (c) sharpened in issue 16 before the rerun: a K_m that
saturates passed the old (a), and the old (c) asked only that K_n(n) beat ENTK-init),
paired over trials:
  (a) K_m(n0) decreases in m: the decay exponent of K_m(n0) in m is above 0, over the whole
      m-grid and over its upper half ([V]: K_m is not "roughly constant" for m >= some m0);
  (b) beta_NN > beta_{K_m} for every fixed m tested;
  (c) K_n(n) and K^F_n(n) track the network ("very close"): mean_n |K(n) - NN(n)| is below
      a quarter of mean_n |ENTK-init(n) - NN(n)|.
Negative control: after-kernels of networks trained on shuffled labels (they learn nothing
about the task), each for as many steps as the task's network on the same m, must not come
out `supported` in (a).

References:
  [V] Vyas, Bansal, Nakkiran, "Limitations of the NTK for understanding generalization in
  deep learning", 2022.
  Long, "Properties of the after kernel", 2021.
"""

from __future__ import annotations

import dataclasses
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

from ntkbench import baselines, config, cost, experiment, kernel_train, models, scaling, stats, train
from ntkbench.claims.protocol import (KERNEL_FIT, critical_stage, data_args, deviations, gram_stage, has_ntk,
                                      input_shape, measured_critical_lr, network_spec, ntk_grams, shared, shrunk,
                                      task_of, training)
from ntkbench.claims.registry import Claim
from ntkbench.config import AfterKernelConfig
from ntkbench.kernels import empirical
from ntkbench.report import plots
from ntkbench.results import ClaimResult, Figure, Statistics
from ntkbench.runner import Cell, Runner

CLAIM = "after_kernel"
TITLE = "The after-kernel improves with its training data, but no fixed after-kernel scales like the network"
SOURCE = "[V] Vyas, Bansal, Nakkiran 2022, Sec. 4, Fig. 4"
TRACKING = 0.25  # "very close": K_n(n) within a quarter of ENTK-init's distance to the network


def _sizes(m_grid, fixed_m, n_grid) -> list[int]:
    """Every m and n a network is trained on."""
    return sorted(set(m_grid) | set(fixed_m) | set(n_grid))


def _pool(m_grid, fixed_m, n_grid) -> int:
    """The pool's size: the largest m, then n_max fresh samples."""
    return _sizes(m_grid, fixed_m, n_grid)[-1] + n_grid[-1]


def after_kernels(cfg: dict, trial: int, critical: float, ntk: np.ndarray | None, data_dir=None) -> dict:
    """One trial on its own data: networks trained on every m and n (each until its training
    error meets the protocol's target, `train.Target`), their after-kernels fitted as the claim
    needs, the shuffled-label control, and the infinite NTK `ntk` (the trial's `ntk_grams`
    over this claim's pool; None without one) fitted alike; test errors keyed by curve. Each
    (K_m, n) is fitted once: K_n(n) at n = m is a point of K_m's curve when m is a fixed m."""
    p = cfg["protocol"]
    grid, n_max = p["n_grid"], p["n_grid"][-1]
    sizes = _sizes(cfg["m_grid"], cfg["fixed_m"], grid)
    task = task_of(p, _pool(cfg["m_grid"], cfg["fixed_m"], grid), data_dir, trial)
    x = np.concatenate([task.x_pool[:n_max], task.x_pool[sizes[-1]:], task.x_test])
    y_fresh = task.y_pool[sizes[-1]:]
    test = slice(2 * n_max, None)
    arch = network_spec(p, p["width"])
    net = models.network(arch)
    key = jax.random.fold_in(jax.random.PRNGKey(p["seed"]), trial)
    params0 = net.init(key, jnp.asarray(x[:1]))["params"]
    # the training runs use fold_in(key, m) with m >= 1
    shuffled = np.asarray(jax.random.permutation(jax.random.fold_in(key, 0), task.y_pool))
    lr = p["lr_fraction"] * critical
    steps = kernel_train.schedule(p["steps"] * p["rounds"], p["eval_points"])

    def fitted(k, n, fresh=False):
        rows = slice(n_max, n_max + n) if fresh else slice(0, n)
        labels = y_fresh[:n] if fresh else task.y_pool[:n]
        return kernel_train.early_stopped_error(k[rows, rows], k[test, rows], labels, task.y_test)

    def trained(m, labels, steps_of=None):
        """The network trained on m samples until the training-error target, or (the control)
        for exactly the steps `steps_of` took, and its after-kernel."""
        epochs = train.epochs_for(p["steps"], m, p["batch_size"])
        matched = steps_of and steps_of.steps // (epochs * train.steps_per_epoch(m, p["batch_size"]))
        fit = train.fit_mse(arch, jax.tree.map(jnp.copy, params0), task.x_pool[:m], labels[:m],
                            key=jax.random.fold_in(key, m), lr=lr, batch_size=p["batch_size"],
                            epochs=epochs * (matched or 1), momentum=0.9, eval_x=task.x_test,
                            eval_steps=() if matched else steps,
                            until=None if matched else train.Target(scaling.TRAINED, p["rounds"]))
        return fit, empirical.ntk(arch, fit.params, x), fit.train_error

    out = {"NN": [], "K_n": [], "K_n_fresh": [], "K_m_n0": [], "control_K_m_n0": [], "train_error": [],
           "diverged": [], "steps": []}
    out |= {f"K_{m}": [] for m in cfg["fixed_m"]}
    for m in sizes:
        fit, k, train_error = trained(m, task.y_pool)
        k_m = functools.cache(functools.partial(fitted, k))
        out["train_error"].append(train_error)
        out["diverged"].append(fit.diverged)
        out["steps"].append(fit.steps)
        if m in grid:
            out["NN"].append(kernel_train.zero_one_error(fit.eval_preds[steps <= fit.steps], task.y_test).min())
            out["K_n"].append(k_m(m))
            out["K_n_fresh"].append(k_m(m, fresh=True))
        if m in cfg["fixed_m"]:
            out[f"K_{m}"] = [k_m(n) for n in grid]
        if m in cfg["m_grid"]:
            out["K_m_n0"].append(k_m(cfg["n0"]))
            out["control_K_m_n0"].append(fitted(trained(m, shuffled, steps_of=fit)[1], cfg["n0"]))
    k0 = empirical.ntk(arch, params0, x)
    out["ENTK"] = [fitted(k0, n) for n in grid]
    if ntk is not None:
        out["NTK"] = [kernel_train.early_stopped_error(ntk[:n, :n], ntk[n_max:, :n], task.y_pool[:n], task.y_test)
                      for n in grid]
    return {name: np.asarray(v, np.float64) for name, v in out.items()} | {"lr": lr}


def stages(cfg: AfterKernelConfig) -> list:
    """What `run` computes, stage by stage (`ntkbench.cost`): the protocol's infinite NTK and
    critical lr, the NTK over this claim's pool, then per trial what `after_kernels` does."""
    p = shared(cfg.protocol)
    grid, n_max, n_test, batch = p["n_grid"], p["n_grid"][-1], p["n_test"], p["batch_size"]
    arch, shape = network_spec(p, p["width"]), input_shape(p)
    gram = cost.EmpiricalGram(arch, shape, 2 * n_max + n_test, 2 * n_max + n_test)

    def trained(m):
        steps = train.epochs_for(p["steps"], m, batch) * train.steps_per_epoch(m, batch)
        return [cost.Training(arch, shape, m, steps, batch, 1, p["eval_points"] * n_test + m), gram]

    trial = []
    for m in _sizes(cfg.m_grid, cfg.fixed_m, grid):
        fits = ({m} if m in grid else set()) | (set(grid) if m in cfg.fixed_m else set()) | (
            {cfg.n0} if m in cfg.m_grid else set())
        trial += trained(m) + [cost.KernelFit(n, n_test) for n in sorted(fits) + [m] * (m in grid)]
        if m in cfg.m_grid:
            trial += trained(m) + [cost.KernelFit(cfg.n0, n_test)]
    trial += [gram] + [cost.KernelFit(n, n_test) for n in grid] * (1 + has_ntk(p))
    pool = _pool(cfg.m_grid, cfg.fixed_m, grid)
    return (gram_stage(p) + [critical_stage(p)] + gram_stage(p, n_pool=pool)
            + [cost.Stage(f"{p['task']}/after-kernels", (tuple(trial),) * cfg.protocol.trials)])


def late(m_grid) -> int:
    """How many of the largest m the no-saturation rule fits: the upper half, at least 3."""
    return max(3, (len(m_grid) + 1) // 2)


def _scaled(cfg: AfterKernelConfig, curves: dict) -> tuple[str, ...]:
    """The curves over the n-grid whose exponents the claim fits (the NTK's where there is one)."""
    names = ("NN", "ENTK", "NTK", "K_n", "K_n_fresh") + tuple(f"K_{m}" for m in cfg.fixed_m)
    return tuple(name for name in names if name in curves)


def fit_range(cfg: AfterKernelConfig, curves: dict, train_error=None) -> scaling.FitRange:
    """`scaling.fit_range` of the n-grid over every curve whose exponent the claim fits."""
    return scaling.fit_range(cfg.protocol.n_grid, {n: curves[n] for n in _scaled(cfg, curves)}, train_error,
                             n_test=cfg.protocol.n_test)


def statistics(cfg: AfterKernelConfig, curves: dict, diverged, train_error=None) -> Statistics:
    """The claim's statistics from the per-trial test errors `curves` (name -> (trials, ...)),
    `diverged`, the (trials, sizes) flags of the task-label networks that diverged, and
    `train_error`, the networks' (trials, n-grid) training error. Data-scaling exponents are
    fitted on the grid's power-law range (`scaling.fit_range`), the same for every curve and
    chosen again in every bootstrap resample, a choice recorded as governing them."""
    grid, fixed = np.asarray(cfg.protocol.n_grid), [f"K_{m}" for m in cfg.fixed_m]
    fitted = fit_range(cfg, curves, train_error)
    n_fit = grid[fitted.mask]
    span = f"n = {n_fit[0]}..{n_fit[-1]}"
    share = float(np.mean(diverged))
    out = Statistics()
    out.decide("km_n0_decay", scaling.exponent(cfg.m_grid, curves["K_m_n0"]),
               f"(a) exponent of K_m({cfg.n0}) in m (error ~ m^-exponent); the claim: above 0",
               direction=+1, diverged=share)
    top = late(cfg.m_grid)
    out.decide("km_n0_late_decay", scaling.exponent(cfg.m_grid[-top:], curves["K_m_n0"][:, -top:]),
               f"(a) the same exponent over the {top} largest m ({', '.join(map(str, cfg.m_grid[-top:]))}): "
               "K_m does not saturate; the claim: above 0", direction=+1, diverged=share)
    for name in fixed:
        out.decide(f"diff/NN-{name}", scaling.exponent_difference(grid, curves["NN"], curves[name], within=fitted),
                   f"(b) beta_NN - beta_{name} on {span}; the claim: above 0", direction=+1, diverged=share,
                   unmet=fitted.unmet)
    for name, what in (("K_n", "K_n(n)"), ("K_n_fresh", "K^F_n(n)")):
        out.decide(f"tracks_nn/{name}", stats.curve_statistic(
            lambda nn, e, k: TRACKING * np.mean(np.abs(e - nn), -1) - np.mean(np.abs(k - nn), -1),
            curves["NN"], curves["ENTK"], curves[name]),
            f"(c) {what} tracks the network: {TRACKING} x mean_n |ENTK-init(n) - NN(n)| - mean_n "
            f"|{what} - NN(n)|; the claim (\"very close\"): above 0", direction=+1, diverged=share)
    out.control("control/shuffled-labels/km_n0_decay", scaling.exponent(cfg.m_grid, curves["control_K_m_n0"]),
                "negative control: statistic (a) for after-kernels of networks trained on shuffled "
                "labels; must not be supported", direction=+1, diverged=share)
    for name in _scaled(cfg, curves):
        law = scaling.fit(n_fit, curves[name][:, fitted.mask].mean(0))
        out.measure(f"beta/{name}", scaling.exponent(grid, curves[name], within=fitted),
                    f"exponent of {name} on {span}; log-log R^2 {law.r2:.3f}, curvature {law.curvature:+.3f}")
    out.measure(f"gap/{fixed[0]}-{fixed[-1]}", stats.mean_ci(np.mean(curves[fixed[0]] - curves[fixed[-1]], 1)),
                f"mean error of {fixed[0]} minus {fixed[-1]} over the n-grid (the paper: the later "
                "after-kernel is better, above 0)")
    out.choose("fit range", n_fit, scaling.describe(fitted), margin=fitted.margin,
               governs=[f"diff/NN-{name}" for name in fixed] + [f"beta/{name}" for name in _scaled(cfg, curves)])
    return out


def run(cfg: AfterKernelConfig, runner: Runner, data_dir=None) -> ClaimResult:
    start = time.perf_counter()
    p = cfg.protocol
    critical = measured_critical_lr(p, ntk_grams(shared(p), runner, data_dir), runner, data_dir)
    params = {"m_grid": cfg.m_grid, "n0": cfg.n0, "fixed_m": cfg.fixed_m, "protocol": shared(p)}
    ntk = ntk_grams(shared(p), runner, data_dir, n_pool=_pool(cfg.m_grid, cfg.fixed_m, p.n_grid))
    cells = runner.map([Cell(f"{CLAIM}.trial", functools.partial(after_kernels, ntk=ntk and ntk[t]),
                             dict(cfg=params, trial=t, critical=critical, **data_args(data_dir)))
                        for t in range(p.trials)], f"{p.task}/after-kernels")
    curves = {name: scaling.floor_zeros(np.stack([c[name] for c in cells]), p.n_test)[0]
              for name in cells[0] if name not in ("lr", "train_error", "diverged", "steps", "seconds")}
    grid, fixed = p.n_grid, [f"K_{m}" for m in cfg.fixed_m]
    diverged = np.stack([c["diverged"] for c in cells])
    per_trial = np.stack([c["train_error"] for c in cells])
    train_errors = per_trial.mean(0)
    sizes = _sizes(cfg.m_grid, cfg.fixed_m, p.n_grid)
    on_grid = per_trial[:, [sizes.index(n) for n in grid]]
    found = statistics(cfg, curves, diverged, on_grid)
    notes = [f"lr {float(cells[0]['lr']):.4g} ({p.lr_fraction} x the measured critical lr {critical:.4g}); "
             "mean final training error of the networks by m: "
             + ", ".join(f"{m}: {e:.3f}" for m, e in zip(sizes, train_errors))]
    untrained = scaling.untrained(sizes, train_errors)
    if untrained:
        notes.append(f"the networks did not reach {scaling.TRAINED:.0%} training error at m = "
                     f"{', '.join(map(str, untrained))} ([V]'s networks reach 0 training error); the data-"
                     "scaling fits leave those n out")
    return ClaimResult(
        claim=CLAIM, title=TITLE, source=SOURCE, scale=cfg.scale, statistics=found,
        measurements={"errors": {k: v.tolist() for k, v in curves.items()},
                      "train_error": dict(zip(map(str, sizes), train_errors.tolist()))},
        config=cfg.as_dict(), protocol=protocol(cfg),
        figures=[Figure("Fig. 4a: K_n(n), K^F_n(n) and the network (rule c)",
                        _curves(grid, curves, ("NN", "K_n", "K_n_fresh", "ENTK")),
                        "Mean test error over trials, log-log; the paper (Fig. 4a): K_n(n) and "
                        "K^F_n(n) track the network, ENTK-init does not."),
                 Figure(f"Fig. 4b: K_m({cfg.n0}) vs m (rule a, control)", _km_plot(cfg, curves),
                        "Mean over trials with 95% CIs (t-interval); the control's after-kernels "
                        "were learnt from shuffled labels."),
                 Figure("Fig. 4c: data scaling of fixed after-kernels (rule b)",
                        _curves(grid, curves, tuple(n for n in ("NN", "ENTK", "NTK", *fixed) if n in curves),
                                fit_range(cfg, curves, on_grid).mask),
                        "Mean test error over trials (points) and power laws fitted on the shaded range "
                        "(lines); open points lie outside it. The paper's exponents: "
                        + ", ".join(f"{k.split('/')[1]} {v}" for k, v in baselines.published(CLAIM).items()
                                    if k.startswith("beta/")) + ".")],
        seconds=time.perf_counter() - start, notes=notes)


def protocol(cfg: AfterKernelConfig) -> list[str]:
    p = cfg.protocol
    sizes = _sizes(cfg.m_grid, cfg.fixed_m, p.n_grid)
    lines = [
        f"{p.task}: networks trained by the exponent claim's base protocol ({training(p)}) on the "
        f"first m samples, m in {', '.join(map(str, sizes))}; {p.trials} trials, {p.n_test} test points.",
        f"K_m({cfg.n0}) for m in {', '.join(map(str, cfg.m_grid))}; data scaling over n = "
        f"{', '.join(map(str, p.n_grid))} for K_m with m in {', '.join(map(str, cfg.fixed_m))} "
        "(fitted on the first n samples), K_n(n) and K^F_n(n) (n fresh samples). The control's "
        "networks learn shuffled labels, each for as many steps as the task's network on its m.",
        KERNEL_FIT + " The paper trains kernels by the network's SGD, which after-kernels of a "
        "larger scale would not survive.",
        "Statistics: exponents by least squares in log-log on trial means, paired where curves "
        "share trials. " + stats.INTERVALS,
    ]
    lines += deviations(p)
    largest = f"m up to {max(sizes)}" + ("" if max(sizes) >= 1_024_000 else " ([V]: 1024k)")
    lines.append(f"After-kernels: {largest}; K_m fitted as above where [V] trains them by the network's SGD.")
    if cfg.scale == "paper":
        lines.append(f"The pool holds m = {max(sizes)} samples and {p.n_grid[-1]} fresh ones for K^F_n: "
                     "CIFAR-5m's dog and horse images in parts 0-4 number about a million, so the loader "
                     "stops with a data error if the copy holds fewer.")
    return lines


def _curves(grid, curves, names, fitted=None):
    return lambda ax: plots.power_laws(ax, grid, {name: curves[name] for name in names}, fitted=fitted)


def _km_plot(cfg, curves):
    def draw(ax):
        plots.mean_with_ci(ax, cfg.m_grid, curves["K_m_n0"], color="C3", label="after-kernel")
        plots.mean_with_ci(ax, cfg.m_grid, curves["control_K_m_n0"], color="C7",
                           label="control: shuffled labels")
        plots.width_axis(ax, cfg.m_grid, "m (samples the network was trained on)")
        ax.set_ylabel(f"test error of K_m fitted on {cfg.n0}")
        ax.legend()
    return draw


def quick_tolerance(statistic: str) -> dict:
    """Exponents and error gaps: 0.02 (absolute); verdicts must not change."""
    return {"absolute": 0.02}


DEFINITION = Claim(CLAIM, TITLE, SOURCE, config.after_kernel, run, quick_tolerance,
                   shrink=lambda cfg: dataclasses.replace(cfg, protocol=shrunk(cfg.protocol), m_grid=(4, 8, 16), n0=4,
                                                          fixed_m=(8, 16)),
                   with_experiment=experiment.after_kernel_config, position=3, stages=stages)
