"""(d) Uncertainty: the kernel regime's predictive against a practical network's [W].

The kernel regime's predictive is the NTK-GP; a network of practical width gives one
through its own NTK, the linearised Laplace of the trained network. On a noisy regression
task (data fixed, init seed varies) we score both, each with its prior scale and noise
maximising its evidence, by expected calibration error (ECE) and Gaussian NLL on test
points, and decide: the linearised Laplace's ECE and NLL at the widest width tested minus
the NTK-GP's are above 0. Control: the GP of the finite network's ENTK at init, which
differs from the NTK-GP only by finite-width fluctuations, must not come out above it in
ECE at that width. A deep ensemble of the seeds' networks is scored as a reference.

References:
  Immer, Korzepa, Bauer, "Improving predictions of Bayesian neural nets via local
  linearization", AISTATS 2021 (linearised Laplace).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ntkbench import calibration, laplace, stats
from ntkbench.claims.practical_limits import networks
from ntkbench.config import UncertaintyConfig
from ntkbench.data import tasks
from ntkbench.kernels import empirical, infinite
from ntkbench.report import plots
from ntkbench.results import Figure, Statistics

def task(n: int, n_test: int, dim: int, noise: float):
    """The regression task y = tanh(2 w . x) + N(0, noise^2), the same for every seed."""
    return tasks.teacher_task(n, n_test, dim, seed=0, noise=noise, link=lambda z: np.tanh(2 * z))


def scores(predictive: laplace.Predictive, y) -> tuple[float, float]:
    """(NLL, ECE) of a Gaussian predictive."""
    return (calibration.gaussian_nll(predictive.mean, predictive.var, y),
            calibration.gaussian_ece(predictive.mean, predictive.var, y))


def _one_seed(cfg: dict, width: int, seed: int) -> dict:
    """NLL and ECE of the NTK-GP, the trained network's linearised Laplace and the GP of its
    ENTK at init; the network's test outputs (for the ensemble)."""
    data = task(cfg["n"], cfg["n_test"], cfg["dim"], cfg["noise"])
    x = np.concatenate([data.x_pool, data.x_test])
    n, y = cfg["n"], data.y_pool.astype(np.float64)
    spec = networks.mlp(2, width)
    params0 = networks.init(spec, seed, x)
    k0 = empirical.ntk(spec, params0, x).astype(np.float64)
    fit = networks.sgd(cfg, spec, jax.tree.map(jnp.copy, params0), data.x_pool, data.y_pool, cfg["steps"],
                       networks.rate(cfg, k0[:n, :n]), seed, eval_x=x)
    net_out = fit.eval_preds[0].astype(np.float64)
    shift_sq = sum(float(jnp.sum((a - b) ** 2)) for a, b in zip(jax.tree.leaves(fit.params),
                                                                 jax.tree.leaves(params0)))
    predictives = {
        "laplace": laplace.linearised_laplace(empirical.ntk(spec, fit.params, x).astype(np.float64),
                                              net_out, y, shift_sq),
        "ntk_gp": laplace.gp(infinite.kernels(spec, x).ntk.astype(np.float64), y),
        "entk_gp": laplace.gp(k0, y),
    }
    out = {"nn_test": net_out[n:]}
    for name, predictive in predictives.items():
        out[f"{name}/nll"], out[f"{name}/ece"] = scores(predictive, data.y_test)
    return out


def cell(cfg: dict, width: int) -> dict:
    return networks.over_seeds(_one_seed, cfg, width=width)


def ensemble_scores(u: UncertaintyConfig, n_test: int, dim: int, outputs) -> np.ndarray:
    """(widths, 2) NLL and ECE of the deep ensemble per width: the mean and variance of the
    seeds' network outputs (`outputs`: widths x seeds x test points), plus the true noise."""
    y_test = task(u.n, n_test, dim, u.noise).y_test
    return np.array([scores(laplace.Predictive(o.mean(0), o.var(0) + u.noise**2), y_test) for o in outputs])


def decide(statistics: Statistics, u: UncertaintyConfig, uq: dict) -> None:
    """Records the statistics of the scores `uq[f"{predictive}/{metric}"]` (seeds x widths)."""
    for metric in ("ece", "nll"):
        statistics.decide(f"d/laplace_minus_ntk_gp/{metric}", stats.curve_statistic(
            lambda laplace, gp: laplace[..., -1] - gp[..., -1], uq[f"laplace/{metric}"], uq[f"ntk_gp/{metric}"]),
            f"{metric.upper()} of the trained network's linearised Laplace at width "
            f"{u.widths[-1]} minus that of the NTK-GP; the claim: above 0 (the kernel "
            "regime's uncertainty is not what a practical network gives)",
            direction=+1, diverged=stats.diverged_share(uq[f"laplace/{metric}"], uq[f"ntk_gp/{metric}"]))
    statistics.control("control/d/entk_gp_minus_ntk_gp/ece", stats.curve_statistic(
        lambda e, g: e[..., -1] - g[..., -1], uq["entk_gp/ece"], uq["ntk_gp/ece"]),
        f"negative control: ECE of the GP of the ENTK at init (width {u.widths[-1]}, the "
        "untrained network's kernel) minus the NTK-GP's; must not be supported",
        direction=+1, diverged=stats.diverged_share(uq["entk_gp/ece"], uq["ntk_gp/ece"]))


def figures(u: UncertaintyConfig, uq: dict, ensemble_ece) -> list[Figure]:
    return [Figure("d: expected calibration error vs width", _calibration_plot(u, uq, ensemble_ece),
                   "Linearised Laplace of the trained network and GP of its ENTK at init (per "
                   "width) against the NTK-GP (width-free); trial means with 95% CIs; the deep "
                   "ensemble of the seeds' networks (variance across them plus the true noise) "
                   "as a reference.")]


def protocol(u: UncertaintyConfig) -> str:
    return (f"d: depth 2, widths {u.widths}, regression y = tanh(2 w . x) + N(0, {u.noise}^2), "
            f"n = {u.n}, data fixed, init seeds vary, {u.steps} steps; every predictive is a "
            "GP y ~ N(m, s K + noise I) with (s, noise) maximising its evidence on the training set: the "
            "linearised Laplace uses the trained network's ENTK and is centred on the network, the "
            "NTK-GP the infinite NTK, the control the ENTK at init; ECE over central intervals at "
            "10%..90%.")


def _calibration_plot(u: UncertaintyConfig, uq, ensemble_ece):
    def draw(ax):
        plots.mean_with_ci(ax, u.widths, uq["laplace/ece"], color="C0", label="linearised Laplace")
        plots.mean_with_ci(ax, u.widths, uq["entk_gp/ece"], color="C2", label="ENTK-init GP")
        ax.axhline(uq["ntk_gp/ece"].mean(), color="C1", label="NTK-GP")
        ax.plot(u.widths, ensemble_ece, "D:", color="C4", label="deep ensemble")
        plots.width_axis(ax, u.widths)
        ax.set_ylabel("expected calibration error")
        ax.legend()
    return draw
