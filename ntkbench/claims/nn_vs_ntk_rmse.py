"""Claim: a trained wide network does not match kernel regression with its NTK [I].

Experiment (Sec. 4 of [I]): per trial, 1000 inputs on the unit sphere in 15 dimensions,
responses drawn from the Gaussian process with the paper's NTKB1 kernel, split 670 / 330.
Kernel regression (ridgeless, float64) with the paper's nine kernels and with our native
NNGP / NTK of the same networks; one- and two-hidden-layer ReLU networks (NTK
parameterization, W_std = b_std = 1) trained by plain SGD on the MSE, on the first 468
training points that Keras' `validation_split=0.3` leaves them (floor(670 * 0.7) in float64). Metric: test RMSE.

Decision: for depth L in {1, 2} and each NTK family (NTKA, NTKJ, NTKB, our native NTK),
the mean paired difference RMSE(NN_L) - RMSE(NTK_L) over trials with a bootstrap CI;
`supported` when the CI lies above 0. Negative control: NN_1 against an independently
initialised and shuffled copy of itself, whose difference has mean 0 by construction; it
must not come out `supported`.

[I]'s three further findings (Sec. 4.1), each a decision with its direction from the paper
and a negative control:
  depth: "the neural network gained performance with an additional layer" while "none of
      the NTKs show a noticeable improvement": the network's relative gain from the second
      layer, (NN1 - NN2) / NN1, minus each NTK family's, paired over trials, above 0.
      Control: the network's "gain" from NN1 to its independent copy (no layer added).
  GP: "the performances of GP1 and GP2 are very close to the performance of NTKB and NTKJ":
      the relative difference (GP_L - K_L) / K_L within +-EQUIVALENCE (an equivalence test,
      `stats.within`). Control: GP1 against NTKA1, which the table puts 27% apart.
  Laplacian: "the mean RMSE of the Laplacian kernel is closer to that of the neural networks
      than any of the NTKs": min_K |NN_L - K_L| - |NN_L - Laplacian| on the trial means,
      above 0. Control: the same with GP_L in the Laplacian's place.

References:
  [I] "Issues with Neural Tangent Kernel Approach to Neural Networks", Sec. 3-4, Table.
"""

from __future__ import annotations

import dataclasses
import math
import time

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from ntkbench import baselines, config, cost, models, stats, train
from ntkbench.claims.registry import Claim
from ntkbench.config import RmseConfig
from ntkbench.data.ntkb_simulation import DIM, N_OBS, TEST_SIZE, n_fit_network, simulate_trial
from ntkbench.kernels import closed_form, infinite
from ntkbench.results import ClaimResult, Figure, Statistics
from ntkbench.runner import Cell, Runner

CLAIM = "nn_vs_ntk_rmse"
TITLE = "A trained wide network is not its NTK regression (test RMSE)"
SOURCE = "[I] Issues with Neural Tangent Kernel Approach to Neural Networks, Sec. 4, Table"
NATIVE = ("NNGP-native1", "NNGP-native2", "NTK-native1", "NTK-native2")
KERNEL_ROWS = closed_form.NAMES + NATIVE
NN_ROWS = ("NN1", "NN2")
FAMILIES = ("NTKA", "NTKJ", "NTKB", "NTK-native")
CONTROL = "NN1-copy"
# "very close": within 5% of the NTK's RMSE. The table's GP-vs-NTKB/J gaps are 0.6-0.9%; its
# nearest pair of different kernel families (NTKA vs NTKB/J) is 28% apart.
EQUIVALENCE = 0.05


def pairs() -> list[tuple[str, str]]:
    """(network row, kernel row) pairs the claim is decided on."""
    return [(f"NN{depth}", f"{family}{depth}") for depth in (1, 2) for family in FAMILIES]


def _rmse(pred, y) -> float:
    return float(np.sqrt(np.mean((np.asarray(pred, np.float64) - y) ** 2)))


def _regress(k_train, k_test_train, y_train) -> np.ndarray:
    return k_test_train @ scipy.linalg.solve(k_train, y_train, assume_a="sym")


def kernel_trial(trial: int, data_seed: int) -> dict:
    """Test RMSE of every kernel row on one trial."""
    t = simulate_trial(trial, data_seed)
    x = np.concatenate([t.x_train, t.x_test])
    n = len(t.x_train)
    grams = closed_form.reference_kernels(x, x)
    for depth in (1, 2):
        native = infinite.kernels(models.mlp([1] * depth), x, float64=True)
        grams[f"NNGP-native{depth}"], grams[f"NTK-native{depth}"] = native.nngp, native.ntk
    return {f"rmse/{name}": _rmse(_regress(k[:n, :n], k[n:, :n], t.y_train), t.y_test)
            for name, k in grams.items()}


def network_trial(trial: int, data_seed: int, init_seed: int, depth: int, width: int,
                  epochs: int, lr: float, batch_size: int) -> dict:
    """Test RMSE of the depth-`depth` network trained as in [I] on one trial."""
    t = simulate_trial(trial, data_seed)
    n_fit = n_fit_network(len(t.x_train))
    spec = models.mlp([width] * depth)
    key = jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(init_seed), trial), depth)
    init_key, shuffle_key = jax.random.split(key)
    net = models.network(spec)
    params = net.init(init_key, jnp.zeros((1, t.x_train.shape[1])))["params"]
    fit = train.fit_mse(spec, params, t.x_train[:n_fit], t.y_train[:n_fit], key=shuffle_key,
                        lr=lr, batch_size=batch_size, epochs=epochs)
    pred = net.apply({"params": fit.params}, jnp.asarray(t.x_test, jnp.float32))
    return {"rmse": _rmse(pred, t.y_test), "train_mse": fit.train_mse, "diverged": fit.diverged}


def _network_cells(cfg: RmseConfig, depth: int, init_seed: int) -> list[Cell]:
    return [Cell(f"{CLAIM}.network", network_trial,
                 dict(trial=i, data_seed=cfg.data_seed, init_seed=init_seed, depth=depth,
                      width=cfg.widths[depth - 1], epochs=cfg.epochs[depth - 1], lr=cfg.lr,
                      batch_size=cfg.batch_size))
            for i in range(cfg.trials)]


def stages(cfg: RmseConfig) -> list:
    """What `run` computes, stage by stage (`ntkbench.cost`): per trial the native infinite
    kernels (float64) and a solve per kernel row (the closed forms' few arithmetic
    operations per entry are left out), then every network."""
    n_test = math.ceil(TEST_SIZE * N_OBS)
    n_fit = n_fit_network(N_OBS - n_test)
    kernels = tuple(cost.InfiniteGram(models.mlp([1] * depth), (DIM,), N_OBS**2) for depth in (1, 2))
    kernels += (cost.Solve(N_OBS - n_test, len(KERNEL_ROWS)),)

    def networks(depth):
        steps = cfg.epochs[depth - 1] * train.steps_per_epoch(n_fit, cfg.batch_size)
        return ((cost.Training(models.mlp([cfg.widths[depth - 1]] * depth), (DIM,), n_fit, steps, cfg.batch_size,
                               1, n_test),),) * cfg.trials

    return [cost.Stage("kernel regression", (kernels,) * cfg.trials),
            cost.Stage("network training", networks(1) + networks(2) + networks(1))]


def protocol(cfg: RmseConfig) -> list[str]:
    lines = [
        f"{cfg.trials} trials of the reference data protocol (numpy seed {cfg.data_seed}): "
        "1000 points, d = 15, unit-norm rows, y ~ N(0, NTKB1), 670 train / 330 test.",
        "Kernel rows: ridgeless regression on the 670 training points, float64 LDL solve "
        "(the reference code inverts); native rows are our infinite-width NNGP / NTK of "
        "exactly the networks below.",
        f"Networks: ReLU MLP, depth 1 width {cfg.widths[0]} and depth 2 width {cfg.widths[1]}, "
        "NTK parameterization with W_std = b_std = 1 (= the reference's rescaled Keras model), "
        f"plain SGD lr {cfg.lr}, batch {cfg.batch_size}, {cfg.epochs[0]} / {cfg.epochs[1]} "
        "epochs, reshuffled every epoch, trained on the first 468 of the 670 training points "
        "(Keras' validation_split = 0.3 keeps floor(670 * 0.7) = 468 in float64), no early "
        "stopping, float32.",
        "Decision: 95% t-interval of the mean paired difference RMSE(NN_L) - RMSE(NTK_L) over "
        "trials; supported when it lies above 0; a network row more than a quarter of whose "
        "trials diverged makes its comparisons inconclusive.",
        "Negative control: NN1 vs an independently initialised and shuffled NN1 (mean "
        "difference 0 by construction); must not be supported.",
        "[I]'s further findings: depth, the network's relative RMSE gain from a second layer minus "
        "each NTK family's (control: NN1 against its copy); GP, the GP rows within "
        f"{EQUIVALENCE:.0%} of NTKB / NTKJ at each depth by an equivalence test on the 95% CI "
        "(control: GP1 against NTKA1); Laplacian, closer to the network than the nearest NTK "
        "family (control: GP1 in its place). [I] states them in words only; these are our rules.",
    ]
    if cfg.scale == "quick":
        lines.append("Quick preset differs from [I] in: trials (50 in the paper), widths "
                     "(10000), epochs (3000 / 6000). The kernel rows follow the paper exactly.")
    else:
        lines.append("Full and paper presets: [I]'s protocol, the formulas its text lost taken from its "
                     "reference code; no known difference.")
    return lines


def decisions(rmse: dict, diverged: dict) -> Statistics:
    """The table's rows (`rmse[row]`: per-trial test RMSE) as measurements, the paired
    network-vs-kernel differences as decisions, and the network against its own copy as the
    control; `diverged[row]` is the fraction of a network row's trials that diverged
    (kernel rows are closed-form solves and cannot)."""
    out = Statistics()
    for row, values in rmse.items():
        out.measure(f"rmse/{row}", stats.mean_ci(values), f"mean test RMSE of {row}")
    for nn, kernel in pairs():
        out.decide(f"diff/{nn}-{kernel}", stats.mean_ci(rmse[nn] - rmse[kernel]),
                   f"RMSE({nn}) - RMSE({kernel}), paired over trials; the claim: above 0",
                   direction=+1, diverged=diverged[nn])
    out.control(f"diff/NN1-{CONTROL}", stats.mean_ci(rmse["NN1"] - rmse[CONTROL]),
                f"negative control: RMSE(NN1) - RMSE({CONTROL}), paired over trials; must not be supported",
                direction=+1, diverged=max(diverged["NN1"], diverged[CONTROL]))
    return out | further_findings(rmse, diverged)


def _gain(rmse: dict, shallow: str, deep: str) -> np.ndarray:
    return (rmse[shallow] - rmse[deep]) / rmse[shallow]


def _laplacian_closer(rmse: dict, depth: int, candidate: str) -> stats.Estimate:
    rows = [f"NN{depth}", candidate] + [f"{family}{depth}" for family in FAMILIES]

    def closer(nn, other, *kernels):
        return np.min([np.abs(nn - k) for k in kernels], axis=0) - np.abs(nn - other)

    return stats.curve_statistic(closer, *(rmse[r] for r in rows))


def further_findings(rmse: dict, diverged: dict) -> Statistics:
    """[I]'s findings beyond the table (module docstring): depth, GP, Laplacian; `rmse` and
    `diverged` as for `decisions`."""
    out = Statistics()
    nets = max(diverged["NN1"], diverged["NN2"])
    for family in FAMILIES:
        gain = _gain(rmse, "NN1", "NN2") - _gain(rmse, f"{family}1", f"{family}2")
        out.decide(f"depth/NN-{family}", stats.mean_ci(gain),
                   f"relative RMSE gain of a second hidden layer, (NN1 - NN2) / NN1 minus ({family}1 - {family}2) / "
                   f"{family}1, paired over trials; the claim: above 0", direction=+1, diverged=nets)
    out.control(f"control/depth/NN1-{CONTROL}", stats.mean_ci(_gain(rmse, "NN1", CONTROL)),
                f"negative control: the network's relative 'gain' from NN1 to {CONTROL} (no layer added); "
                "must not be supported", direction=+1, diverged=max(diverged["NN1"], diverged[CONTROL]))
    for depth in (1, 2):
        for family in ("NTKJ", "NTKB"):
            kernel = f"{family}{depth}"
            out.decide(f"gp_close/GP{depth}-{kernel}",
                       stats.within(stats.mean_ci((rmse[f"GP{depth}"] - rmse[kernel]) / rmse[kernel]), EQUIVALENCE),
                       f"{EQUIVALENCE:g} - |(GP{depth} - {kernel}) / {kernel}|, paired over trials; the claim "
                       "(\"very close\"): above 0", direction=+1, diverged=0.0)
    out.control("control/gp_close/GP1-NTKA1",
                stats.within(stats.mean_ci((rmse["GP1"] - rmse["NTKA1"]) / rmse["NTKA1"]), EQUIVALENCE),
                "negative control: the GP rule for GP1 against NTKA1; must not be supported", direction=+1,
                diverged=0.0)
    for depth in (1, 2):
        out.decide(f"laplacian_closer/{depth}", _laplacian_closer(rmse, depth, "Laplacian"),
                   f"min over NTK families K of |NN{depth} - K{depth}| - |NN{depth} - Laplacian| (trial means, "
                   "paired bootstrap); the claim: above 0", direction=+1, diverged=diverged[f"NN{depth}"])
    out.control("control/laplacian_closer/GP1", _laplacian_closer(rmse, 1, "GP1"),
                "negative control: the Laplacian rule with GP1 in the Laplacian's place; must not be supported",
                direction=+1, diverged=diverged["NN1"])
    return out


def run(cfg: RmseConfig, runner: Runner, data_dir=None) -> ClaimResult:
    """Runs the study; it simulates its own data, so `data_dir` is not read."""
    start = time.perf_counter()
    kernel_rows = runner.map([Cell(f"{CLAIM}.kernels", kernel_trial,
                                   dict(trial=i, data_seed=cfg.data_seed))
                              for i in range(cfg.trials)], "kernel regression")
    rmse = {name: np.array([r[f"rmse/{name}"] for r in kernel_rows]) for name in KERNEL_ROWS}
    cells = (_network_cells(cfg, 1, cfg.init_seed) + _network_cells(cfg, 2, cfg.init_seed)
             + _network_cells(cfg, 1, cfg.control_seed))
    nets = runner.map(cells, "network training")
    diverged = {}
    for j, row in enumerate(NN_ROWS + (CONTROL,)):
        part = nets[j * cfg.trials:(j + 1) * cfg.trials]
        rmse[row] = np.array([r["rmse"] for r in part])
        diverged[row] = int(sum(bool(r["diverged"]) for r in part))

    statistics = decisions(rmse, {row: n / cfg.trials for row, n in diverged.items()})
    published = baselines.published(CLAIM)
    table = [{"model": row, "mean": float(np.mean(v)), "se": float(np.std(v) / np.sqrt(len(v))),
              "published": published.get(f"rmse/{row}")} for row, v in rmse.items()]
    notes = [f"{row}: {n} of {cfg.trials} trials diverged" for row, n in diverged.items() if n]
    return ClaimResult(
        claim=CLAIM, title=TITLE, source=SOURCE, scale=cfg.scale, statistics=statistics,
        measurements={"per_trial_rmse": {k: v.tolist() for k, v in rmse.items()}, "table": table,
                      "diverged": diverged},
        config=cfg.as_dict(), protocol=protocol(cfg),
        figures=[Figure("Test RMSE per model across trials", lambda ax: _boxplot(ax, rmse, cfg),
                        "Boxes: our trials; crosses: the paper's published means (50 trials, "
                        "full-size networks).")],
        seconds=time.perf_counter() - start, notes=notes)


def _boxplot(ax, rmse: dict, cfg: RmseConfig) -> None:
    rows = list(NN_ROWS) + [CONTROL] + list(KERNEL_ROWS)
    ax.boxplot([rmse[r] for r in rows], tick_labels=rows, showfliers=True)
    table = baselines.published(CLAIM)
    published = [(i + 1, table[f"rmse/{r}"]) for i, r in enumerate(rows) if f"rmse/{r}" in table]
    ax.scatter(*zip(*published), marker="x", color="crimson", zorder=3, label="published mean")
    ax.set_ylabel("test RMSE")
    ax.set_yscale("log")
    ax.tick_params(axis="x", rotation=60)
    ax.legend(loc="upper right")


def quick_tolerance(statistic: str) -> dict:
    """Tolerance a regenerated quick baseline gives each statistic.

    Kernel rows are float64 closed forms and solves: they may differ only by rounding.
    Network rows are float32 SGD over tens of thousands of steps: allow 2%. Paired
    differences, the control's near 0 included, get 0.01 in RMSE units (2% of the network
    rows) and keep their verdict, which is what the claim rests on.
    """
    kind, row = statistic.split("/", 1)
    if kind == "diff":
        return {"absolute": 0.01}
    return {"relative": 1e-6 if row in KERNEL_ROWS else 0.02}


DEFINITION = Claim(CLAIM, TITLE, SOURCE, config.nn_vs_ntk_rmse, run, quick_tolerance,
                   shrink=lambda cfg: dataclasses.replace(cfg, trials=2, widths=(8, 8), epochs=(2, 2)),
                   position=6, stages=stages)
