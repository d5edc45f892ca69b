"""(c) Continual learning: how much a network forgets of task A when it learns task B [W].

In the kernel regime a network barely moves its features, so learning a second task
overwrites less of the first. We train depth-2 ReLU MLPs on task A, then on task B (a
teacher orthogonal to A's), and measure forgetting: task-A test error after B minus before.
Decision: with a short training budget per task, forgetting falls with width (its slope in
log2(width) below 0). Control: when both tasks are trained to convergence the wider
networks should not forget less, so the same slope must not come out below 0.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ntkbench import kernel_train, stats
from ntkbench.claims.practical_limits import networks
from ntkbench.config import ForgettingConfig
from ntkbench.data import tasks
from ntkbench.kernels import empirical
from ntkbench.report import plots
from ntkbench.results import Figure, Statistics

BUDGETS = ("short", "converged")


def _one_seed(cfg: dict, width: int, seed: int) -> dict:
    """Task A then task B: task-A test error before and after B, for each training budget."""
    a = tasks.teacher_task(cfg["n"], cfg["n_test"], cfg["dim"], teacher=0, seed=seed)
    b = tasks.teacher_task(cfg["n"], cfg["n_test"], cfg["dim"], teacher=1, seed=seed)
    spec = networks.mlp(2, width)
    params0 = networks.init(spec, seed, a.x_pool)
    lr = networks.rate(cfg, empirical.ntk(spec, params0, a.x_pool))
    out = {}
    for name, steps in zip(BUDGETS, cfg["steps"]):
        fit_a = networks.sgd(cfg, spec, jax.tree.map(jnp.copy, params0), a.x_pool, a.y_pool, steps, lr, seed,
                             eval_x=a.x_test)
        fit_b = networks.sgd(cfg, spec, fit_a.params, b.x_pool, b.y_pool, steps, lr, seed + 1, eval_x=a.x_test)
        before = kernel_train.zero_one_error(fit_a.eval_preds, a.y_test)[0]
        after = kernel_train.zero_one_error(fit_b.eval_preds, a.y_test)[0]
        out |= {f"{name}/forgetting": after - before, f"{name}/error_a": before,
                f"{name}/train_mse_a": fit_a.train_mse}
    return out


def cell(cfg: dict, width: int) -> dict:
    return networks.over_seeds(_one_seed, cfg, width=width)


def decide(statistics: Statistics, f: ForgettingConfig, forgetting: dict) -> None:
    """Records the statistics of `forgetting[budget]` (seeds x widths) for each of BUDGETS."""
    statistics.decide("c/forgetting_trend_short", stats.trend(f.widths, forgetting["short"]),
        f"slope of forgetting in log2(width) (per seed, mean), {f.steps[0]} steps per task; "
        "the claim: below 0", direction=-1, diverged=stats.diverged_share(forgetting["short"]))
    statistics.control("c/forgetting_trend_converged", stats.trend(f.widths, forgetting["converged"]),
        f"the same with {f.steps[1]} steps per task (to convergence); the claim: not below 0, "
        "i.e. this must not be supported", direction=-1, diverged=stats.diverged_share(forgetting["converged"]))


def figures(f: ForgettingConfig, forgetting: dict) -> list[Figure]:
    return [Figure("c: forgetting of task A after task B", _forgetting_plot(f, forgetting),
                   "Rise of task-A test error; trial means with 95% CIs.")]


def protocol(f: ForgettingConfig) -> str:
    return (f"c: depth 2, widths {f.widths}, n = {f.n} per task, teachers 0 then 1; "
            f"{f.steps[0]} (short) or {f.steps[1]} (to convergence) steps per task.")


def _forgetting_plot(f: ForgettingConfig, forgetting):
    def draw(ax):
        for (key, steps), color in zip(zip(BUDGETS, f.steps), ("C0", "C3")):
            plots.mean_with_ci(ax, f.widths, forgetting[key], color=color, label=f"{key} ({steps} steps per task)")
        plots.width_axis(ax, f.widths)
        ax.set_ylabel("forgetting (task-A error rise)")
        ax.legend()
    return draw
