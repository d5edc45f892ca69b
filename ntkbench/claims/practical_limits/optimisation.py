"""(b) Optimisation: second-order steps on a network against its linearisation [W].

A linear model's damped Gauss-Newton reaches a training-loss target in a few steps; in the
kernel regime the network is that model. We count damped GN steps to the target for a
network and for its linearisation at init, and decide: at the widest width tested the
network still needs more (log2 of the ratio above 0), and the gap closes with width (its
slope in log2(width) below 0). GD (heavy ball) steps of both are reported. Control: a
lazily scaled network alpha (f - f0), alpha = 100 (Chizat et al.), is in the kernel regime
at any width, so its gap at the widest width must not come out above 0.

References:
  Chizat, Oyallon, Bach, "On lazy training in differentiable programming", NeurIPS 2019.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ntkbench import gauss_newton, kernel_train, models, stats, train
from ntkbench.claims.practical_limits import networks
from ntkbench.config import OptimisationConfig
from ntkbench.data import tasks
from ntkbench.kernels import empirical
from ntkbench.report import plots
from ntkbench.results import Figure, Statistics


def _first_below(cfg: dict, steps, preds, y) -> int:
    losses = np.mean((np.asarray(preds, np.float64) - y) ** 2, axis=1)
    below = np.flatnonzero(losses <= cfg["loss_target"])
    return int(steps[below[0]]) if len(below) else cfg["max_gd_steps"] + 1


def _one_seed(cfg: dict, width: int, seed: int) -> dict:
    """Steps to the loss target: GN and GD, the network and its linearisation, and GN on the
    lazily scaled network and its linearisation."""
    task = tasks.teacher_task(cfg["n"], 0, cfg["dim"], seed=seed)
    x, y = task.x_pool, task.y_pool.astype(np.float64)
    spec = networks.mlp(cfg["depth"], width)
    params0 = networks.init(spec, seed, x)
    f0 = np.asarray(models.network(spec).apply({"params": params0}, x), np.float64)
    k0 = empirical.ntk(spec, params0, x).astype(np.float64)
    lr = len(y) / (2 * np.linalg.eigvalsh(k0)[-1])
    steps = kernel_train.schedule(cfg["max_gd_steps"], 60)
    gd = train.fit_mse(spec, jax.tree.map(jnp.copy, params0), x, y, key=jax.random.PRNGKey(0), lr=lr,
                       batch_size=len(y), epochs=cfg["max_gd_steps"], momentum=0.9, eval_x=x,
                       eval_steps=steps)
    linear = f0 + kernel_train.gd_trajectory(k0, k0, y - f0, lr=lr, momentum=0.9, steps=steps)
    stopping = gauss_newton.Stopping(cfg["loss_target"], cfg["max_gn_steps"])

    def gn(scale):
        return gauss_newton.steps_to_target(networks.apply_fn(spec), functools.partial(empirical.ntk, spec),
                                            params0, x, y, damping=cfg["damping"], stopping=stopping,
                                            scale=scale)

    def linear_gn(residual):
        return gauss_newton.linear_steps_to_target(k0, residual, damping=cfg["damping"], stopping=stopping)

    return {"gn_nn": gn(1.0), "gn_linear": linear_gn(f0 - y),
            "gd_nn": _first_below(cfg, steps, gd.eval_preds, y),
            "gd_linear": _first_below(cfg, steps, linear, y),
            "gn_lazy": gn(cfg["lazy_scale"]), "gn_lazy_linear": linear_gn(-y)}


def cell(cfg: dict, width: int) -> dict:
    return networks.over_seeds(_one_seed, cfg, width=width)


def decide(statistics: Statistics, o: OptimisationConfig, b: dict) -> list[str]:
    """Records the statistics of the step counts `b[key]` (seeds x widths); returns the notes."""
    log_gap = np.log2(b["gn_nn"] / b["gn_linear"])
    lazy_gap = np.log2(b["gn_lazy"] / b["gn_lazy_linear"])
    statistics.decide("b/gn_gap_at_widest", stats.curve_statistic(lambda g: g[..., -1], log_gap),
        f"log2(GN steps of the network / of its linearisation) at width {o.widths[-1]}; the claim: above 0",
        direction=+1, diverged=stats.diverged_share(log_gap))
    statistics.decide("b/gn_gap_trend", stats.trend(o.widths, log_gap),
        "slope of that gap in log2(width) (per seed, mean); the claim: below 0 (it closes with width)",
        direction=-1, diverged=stats.diverged_share(log_gap))
    statistics.control("control/b/lazy_gn_gap", stats.curve_statistic(lambda g: g[..., -1], lazy_gap),
        f"negative control: the same gap for the lazily scaled network (alpha = {o.lazy_scale:g}) at "
        f"width {o.widths[-1]}; must not be supported", direction=+1, diverged=stats.diverged_share(lazy_gap))
    censored = {k: int(np.sum(v > (o.max_gn_steps if k.startswith("gn") else o.max_gd_steps)))
                for k, v in b.items()}
    if any(censored.values()):
        return [f"b: runs that did not reach the loss target within the step cap (counted at "
                f"cap + 1): {censored}"]
    return []


def figures(o: OptimisationConfig, b: dict) -> list[Figure]:
    return [Figure("b: Gauss-Newton steps to the loss target", _gn_plot(o, b),
                   "Network vs its linearisation, and the lazily scaled control; trial means.")]


def protocol(o: OptimisationConfig) -> str:
    return (f"b: depth {o.depth}, widths {o.widths}, n = {o.n}; GN damping "
            f"{o.damping:g} x lambda_max(K); GD (heavy ball 0.9) at lr = n / (2 lambda_max(K0)); "
            f"target training MSE {o.loss_target:g}; caps {o.max_gn_steps} GN / {o.max_gd_steps} GD steps.")


def _gn_plot(o: OptimisationConfig, b):
    def draw(ax):
        for key, label, style in (("gn_nn", "network", "o-"), ("gn_linear", "linearisation", "s--"),
                                  ("gn_lazy", "lazy network (control)", "^-")):
            ax.plot(o.widths, b[key].mean(0), style, label=label)
        plots.width_axis(ax, o.widths)
        ax.set_ylabel("GN steps to the target")
        ax.legend()
    return draw
