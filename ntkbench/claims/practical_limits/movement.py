"""(a) Kernel movement: how far a network's ENTK moves in training, vs width and depth [W].

In the kernel regime the ENTK stays at its initial value through training. We train ReLU
MLPs on a grid of depths x widths and measure the relative change |K_T - K_0|_F / |K_0|_F
of the ENTK Gram on the training points, fit it as c * width^alpha * depth^gamma on the
networks that trained, and decide: alpha < 0, gamma > 0, and at the deepest depth and
widest width tested the change is still above the kernel regime's level (10%). The fit's
extrapolation to that level gives, per depth, the width where the kernel regime would
begin (reported). Control: the same change of lazily trained networks (lr / 100) at that
depth and width must not come out above the level.

References:
  Fort et al., "Deep learning versus kernel learning", NeurIPS 2020 (kernel distance).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ntkbench import kernel_train, scaling, stats
from ntkbench.claims.practical_limits import networks
from ntkbench.config import MovementConfig
from ntkbench.data import tasks
from ntkbench.kernels import empirical, infinite
from ntkbench.report import plots
from ntkbench.results import Figure, Statistics

TRAINED_MSE = 0.05


def _one_seed(cfg: dict, depth: int, width: int, seed: int, lr_factor: float) -> dict:
    """How far one network's ENTK moves in training, and its Gram's spectrum at init."""
    task = tasks.teacher_task(cfg["n"], cfg["n_test"], cfg["dim"], seed=seed)
    spec = networks.mlp(depth, width)
    params0 = networks.init(spec, seed, task.x_pool)
    k0 = empirical.ntk(spec, params0, task.x_pool)
    fit = networks.sgd(cfg, spec, jax.tree.map(jnp.copy, params0), task.x_pool, task.y_pool,
                       cfg["steps"], lr_factor * networks.rate(cfg, k0), seed, eval_x=task.x_test)
    k_end = empirical.ntk(spec, fit.params, task.x_pool)
    lam0 = np.linalg.eigvalsh(k0.astype(np.float64))
    lam_inf = np.linalg.eigvalsh(infinite.kernels(spec, task.x_pool).ntk.astype(np.float64))
    return {"change": np.linalg.norm(k_end - k0) / np.linalg.norm(k0),
            "distance": 1 - np.sum(k_end * k0) / (np.linalg.norm(k_end) * np.linalg.norm(k0)),
            "train_mse": fit.train_mse,
            "test_error": kernel_train.zero_one_error(fit.eval_preds, task.y_test)[0],
            "lambda_min": lam0[0], "lambda_min_inf": lam_inf[0],
            "condition": lam0[-1] / lam0[0], "condition_inf": lam_inf[-1] / lam_inf[0]}


def cell(cfg: dict, depth: int, width: int, lr_factor: float) -> dict:
    return networks.over_seeds(_one_seed, cfg, depth=depth, width=width, lr_factor=lr_factor)


def cells(m: MovementConfig) -> list[tuple[int, int, float]]:
    """(depth, width, lr factor) of the networks: every depth and width, then the lazy
    control at the deepest and widest."""
    return [(d, w, 1.0) for d in m.depths for w in m.widths] + [(m.depths[-1], m.widths[-1], m.lazy_lr_factor)]


def decide(statistics: Statistics, m: MovementConfig, change, mse) -> list[str]:
    """Records the statistics of the relative change and training MSE of each of `cells(m)`
    (seeds x cells arrays); returns the notes."""
    movement = cells(m)
    notes = []
    n_main = len(m.depths) * len(m.widths)
    depth = np.array([d for d, _, _ in movement], np.float64)
    width = np.array([w for _, w, _ in movement], np.float64)
    trained = np.flatnonzero(mse[:, :n_main].mean(0) < TRAINED_MSE)
    if len(trained) < n_main:
        notes.append("a: networks that did not reach training MSE < "
                     f"{TRAINED_MSE} (left out of the fit): "
                     + ", ".join(f"depth {int(depth[i])} width {int(width[i])}"
                                 for i in range(n_main) if i not in trained))
    design = np.stack([np.ones(len(trained)), np.log(width[trained]), np.log(depth[trained])], 1)

    def law(mean_change):
        """alpha, gamma and, per depth, the log10 width where the fitted change reaches the
        kernel regime's level: one least-squares fit for all of them."""
        c0, alpha, gamma = np.linalg.lstsq(design, np.log(mean_change[..., trained]).T, rcond=None)[0]
        return (alpha, gamma) + tuple((np.log(m.kernel_regime_change) - c0 - gamma * np.log(d)) / alpha / np.log(10)
                                      for d in m.depths)

    moved_share = stats.diverged_share(change)
    width_exponent, depth_exponent, *regime_widths = stats.curve_statistic(law, change)
    statistics.decide("a/width_exponent", width_exponent,
        "alpha in change ~ width^alpha depth^gamma; the claim: below 0", direction=-1, diverged=moved_share)
    statistics.decide("a/depth_exponent", depth_exponent,
        "gamma in change ~ width^alpha depth^gamma; the claim: above 0", direction=+1, diverged=moved_share)
    deepest_widest, lazy_widest = n_main - 1, len(movement) - 1
    statistics.decide("a/change_at_practical_width", stats.curve_statistic(
        lambda c: np.log10(c[..., deepest_widest] / m.kernel_regime_change), change),
        f"log10 of the relative change at depth {m.depths[-1]}, width {m.widths[-1]} over the "
        f"kernel regime's level {m.kernel_regime_change:.0%}; the claim: above 0",
        direction=+1, diverged=moved_share)
    for d, regime_width in zip(m.depths, regime_widths):
        statistics.measure(f"a/kernel_regime_width/depth-{d}", regime_width,
            f"log10 of the width where the fitted change falls to {m.kernel_regime_change:.0%} at depth {d}")
    statistics.choose("a/networks fitted", trained, f"indices (depth-major) of the depth x width networks whose "
                      f"seed-mean training MSE is below {TRAINED_MSE}",
                      margin=float(scaling.distance(scaling.Criterion(mse[:, :n_main], TRAINED_MSE, 0.0)).min()),
                      governs=["a/width_exponent", "a/depth_exponent"]
                      + [f"a/kernel_regime_width/depth-{d}" for d in m.depths])
    statistics.control("control/a/lazy_change_at_practical_width", stats.curve_statistic(
        lambda c: np.log10(c[..., lazy_widest] / m.kernel_regime_change), change),
        f"negative control: the same for depth-{m.depths[-1]}, width-{m.widths[-1]} networks trained lazily "
        f"(lr x {m.lazy_lr_factor}); must not be supported", direction=+1, diverged=moved_share)
    return notes


def figures(m: MovementConfig, change, lambda_min, lambda_min_inf, statistics: Statistics) -> list[Figure]:
    """The change vs width per depth with the fitted extrapolations, and the Gram's smallest
    eigenvalue at init (seeds x cells arrays; the lazy control's column left out)."""
    return [Figure("a: ENTK relative change in training vs width, per depth",
                   _movement_plot(m, change, statistics),
                   "Geometric means over seeds with 95% CIs (t-intervals in log space); dashed: "
                   "from the widest width to the width where the fitted law reaches "
                   f"{m.kernel_regime_change:.0%} (the kernel regime's level). Networks that did "
                   "not train (see Notes) are drawn but left out of the fit."),
            Figure("a: smallest eigenvalue of the ENTK Gram at init over the infinite NTK's",
                   _spectrum_plot(m, lambda_min, lambda_min_inf), "1 is the infinite-width value; trial means.")]


def protocol(m: MovementConfig) -> str:
    return (f"a: depths {m.depths} x widths {m.widths}, n = {m.n}, {m.steps} "
            f"steps; the law is fitted (least squares in logs) on networks reaching training MSE < "
            f"{TRAINED_MSE}; kernel-regime level: {m.kernel_regime_change:.0%} relative change.")


def _movement_plot(m: MovementConfig, change, statistics):
    def draw(ax):
        for i, d in enumerate(m.depths):
            logs = np.log(change[:, i * len(m.widths):(i + 1) * len(m.widths)])
            centre, half = np.exp(logs.mean(0)), plots.t_halfwidth(logs)
            ax.errorbar(m.widths, centre, yerr=[centre - centre * np.exp(-half), centre * np.exp(half) - centre],
                        fmt="o-", capsize=3, color=f"C{i}", label=f"depth {d}")
            reach = 10 ** statistics[f"a/kernel_regime_width/depth-{d}"].estimate.value
            ax.plot([m.widths[-1], reach], [centre[-1], m.kernel_regime_change], "--",
                    color=f"C{i}", alpha=0.6)
        ax.axhline(m.kernel_regime_change, color="grey", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("width (log scale; dashed lines run to the fitted kernel-regime width)")
        ax.set_ylabel("|K_T - K_0| / |K_0|")
        ax.legend()
    return draw


def _spectrum_plot(m: MovementConfig, lam, lam_inf):
    def draw(ax):
        for i, d in enumerate(m.depths):
            cols = slice(i * len(m.widths), (i + 1) * len(m.widths))
            ax.plot(m.widths, (lam[:, cols] / lam_inf[:, cols]).mean(0), "o-", color=f"C{i}",
                    label=f"depth {d}")
        ax.axhline(1, color="grey", linewidth=0.8)
        plots.width_axis(ax, m.widths)
        ax.set_ylabel("lambda_min(ENTK) / lambda_min(NTK)")
        ax.legend()
    return draw
