"""Claim: the network's data-scaling exponent beats its NTK's [V, Claim 3.1, Fig. 1A, 2a, 3].

Experiment (Sec. 3 of [V]): learning curves L(n) = a n^(-beta) of the network (NN), its
empirical NTK at initialisation (ENTK-init, no f(w0, x) term) and its infinite-width NTK,
all three trained the same way (minibatch SGD with momentum on the MSE, labels +-1, same
lr, batch and steps; the kernels as predictors sum_i a_i K(x, x_i)), test error with
optimal early stopping over a log-spaced schedule. Training sets are nested prefixes of one
shuffled pool, so one Gram matrix serves every n.

Decision, per task and setting (the base protocol and the paper's ablations): the paired
bootstrap CI over trials of beta_NN - beta_K, for K in {infinite NTK, ENTK-init};
`supported` when it lies above 0. Negative control: the network replaced by its own
linearisation (the ENTK-init predictor), beta_ENTK - beta_NTK, must not be `supported`.

References:
  [V] Vyas, Bansal, Nakkiran, "Limitations of the NTK for understanding generalization in
  deep learning", 2022.
"""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

from ntkbench import kernel_train, models, scaling, stats, train
from ntkbench.config import ExponentConfig, ExponentSetting
from ntkbench.data import images, tasks
from ntkbench.kernels import empirical, infinite
from ntkbench.results import ClaimResult, Figure, Statistic
from ntkbench.runner import Cell, Runner

CLAIM = "nn_vs_ntk_exponent"
TITLE = "The network's data-scaling exponent beats its NTK's"
SOURCE = "[V] Vyas, Bansal, Nakkiran 2022, Claim 3.1, Fig. 1A, 2a, 3"
MODELS = ("NN", "NTK", "ENTK")
KERNELS = ("NTK", "ENTK")
PUBLISHED = {"base": (0.291, 0.213, 0.185), "lr-x3": (0.333, 0.213, None),
             "lr-div10": (0.262, 0.213, None), "full-batch-gd": (0.294, 0.213, None),
             "no-momentum": (0.310, 0.213, None), "no-early-stopping": (0.292, 0.219, None),
             "width-16": (0.276, None, None), "width-1024": (0.279, None, None)}


def _task(name: str, n_pool: int, n_test: int, seed: int, data_dir):
    if name == "xor":
        return tasks.xor_task(n_pool, n_test, seed=seed)
    if name == "digits-parity":
        return tasks.digits_parity(n_test, seed=seed)
    return images.cifar5m_bin(data_dir, n_pool, n_test, seed=seed)


def _spec(task: str, width: int, depth: int) -> models.Spec:
    if task == "cifar5m-bin":
        return models.myrtle(depth, width)
    return models.mlp([width] * depth, W_std=2**0.5, b_std=0.1)


def critical_lr(cfg: dict, data_dir=None, bisections: int = 8) -> dict:
    """The largest lr at which SGD with momentum on the infinite NTK stays finite.

    Kernel SGD on coefficients, at n_max, with the protocol's batch size, momentum 0.9 and
    number of steps; bracketed from the full-batch rate (1 + momentum) / lambda_max(K / n)
    downward and then bisected in log space. Minibatch kernel SGD diverges well below the
    full-batch rate (on digits parity at a quarter of the largest per-batch rate), so the
    rate is measured rather than derived.
    """
    n_max = cfg["n_grid"][-1]
    task = _task(cfg["task"], n_max, cfg["n_test"], cfg["seed"], data_dir)
    k = infinite.kernels(_spec(cfg["task"], 1, cfg["depth"]), task.x_pool[:n_max]).ntk
    y = task.y_pool[:n_max]
    key = jax.random.PRNGKey(cfg["seed"])

    def stable(lr):
        preds = kernel_train.sgd_trajectory(k, k[:1], y, key=key, lr=lr, momentum=0.9,
                                            batch_size=cfg["batch_size"], steps=[cfg["steps"]])
        return bool(np.all(np.isfinite(preds)) and np.abs(preds).max() < 1e6)

    lr = 1.9 / (np.linalg.eigvalsh(k.astype(np.float64)).max() / n_max)
    if stable(lr):
        while stable(2 * lr):
            lr *= 2
        lo, hi = lr, 2 * lr
    else:
        while not stable(lr / 2):
            lr /= 2
        lo, hi = lr / 2, lr
    for _ in range(bisections):
        mid = float(np.sqrt(lo * hi))
        lo, hi = (mid, hi) if stable(mid) else (lo, mid)
    return {"critical_lr": lo}


@functools.lru_cache(maxsize=2)
def _task_and_ntk(task_name: str, n_max: int, n_test: int, seed: int, depth: int, data_dir):
    """The task, its inputs (pool[:n_max] then test) and their infinite-NTK Gram.

    The same for every trial and setting of a task: a worker computes them once and its
    later cells reuse them (loading CIFAR-5m or a Myrtle Gram per cell would dominate).
    """
    task = _task(task_name, n_max, n_test, seed, data_dir)
    x = np.concatenate([task.x_pool[:n_max], task.x_test])
    return task, x, infinite.kernels(_spec(task_name, 1, depth), x).ntk


def learning_curves(cfg: dict, training: dict, trial: int, critical: float, data_dir=None) -> dict:
    """Best-of-schedule and final test errors of NN, NTK and ENTK-init over the n-grid.

    `training` holds the setting's fields that change training (not its name, nor whether
    the error is read early-stopped), so settings that train alike share their cells.
    """
    s = ExponentSetting("cell", **training)
    grid, n_max = cfg["n_grid"], cfg["n_grid"][-1]
    task, x, ntk = _task_and_ntk(cfg["task"], n_max, cfg["n_test"], cfg["seed"], cfg["depth"], data_dir)
    spec = _spec(cfg["task"], s.width or cfg["width"], cfg["depth"])
    grams = {"NTK": ntk}
    lr = s.lr_factor * cfg["lr_fraction"] * critical
    net = models.network(spec)
    key = jax.random.fold_in(jax.random.PRNGKey(cfg["seed"]), trial)
    params0 = net.init(key, jnp.asarray(x[:1]))["params"]
    grams["ENTK"] = empirical.ntk(spec, params0, x)
    steps = kernel_train.schedule(cfg["steps"], cfg["eval_points"])
    out = {m: np.zeros((2, len(grid))) for m in MODELS}
    diverged = {m: 0 for m in MODELS}
    for j, n in enumerate(grid):
        batch = n if s.full_batch else cfg["batch_size"]
        shuffle = jax.random.fold_in(key, n)
        epochs = -(-cfg["steps"] // -(-n // batch))
        fit = train.fit_mse(spec, jax.tree.map(jnp.copy, params0), task.x_pool[:n], task.y_pool[:n],
                            key=shuffle, lr=lr, batch_size=batch, epochs=epochs,
                            momentum=s.momentum, eval_x=task.x_test, eval_steps=steps)
        preds = {"NN": fit.eval_preds}
        for name, k in grams.items():
            args = (k[:n, :n], k[n_max:, :n], task.y_pool[:n])
            preds[name] = (kernel_train.gd_trajectory(*args, lr=lr, momentum=s.momentum, steps=steps)
                           if s.full_batch else
                           kernel_train.sgd_trajectory(*args, key=shuffle, lr=lr, momentum=s.momentum,
                                                       batch_size=batch, steps=steps))
        for name, p in preds.items():
            err = kernel_train.zero_one_error(p, task.y_test)
            out[name][:, j] = err.min(), err[-1]
            diverged[name] += not np.all(np.isfinite(p))
    result = {f"{m}/best": out[m][0] for m in MODELS} | {f"{m}/final": out[m][1] for m in MODELS}
    return result | {f"{m}/diverged": d for m, d in diverged.items()} | {"lr": lr}


def _shared(cfg: ExponentConfig) -> dict:
    return {k: v for k, v in cfg.as_dict().items() if k not in ("settings", "scale")}


def _data(data_dir) -> dict:
    return {"data_dir": str(data_dir)} if data_dir else {}


def _cells(cfg: ExponentConfig, setting: ExponentSetting, critical: float, data_dir) -> list[Cell]:
    shared = _shared(cfg)
    training = dict(lr_factor=setting.lr_factor, momentum=setting.momentum,
                    full_batch=setting.full_batch, width=setting.width)
    return [Cell(f"{CLAIM}.curves/4", learning_curves,
                 dict(cfg=shared, training=training, trial=t, critical=critical, **_data(data_dir)))
            for t in range(cfg.trials)]


def run(cfgs: tuple[ExponentConfig, ...], runner: Runner, data_dir=None) -> ClaimResult:
    """Runs every task and setting of `cfgs`; image tasks read `data_dir`."""
    start = time.perf_counter()
    statistics, curves, notes, lrs = {}, {}, [], {}
    for cfg in cfgs:
        (found,) = runner.map([Cell(f"{CLAIM}.critical_lr/1", critical_lr,
                                    dict(cfg=_shared(cfg), **_data(data_dir)))],
                              f"{cfg.task}/critical lr")
        critical = float(found["critical_lr"])
        notes.append(f"{cfg.task}: measured critical lr of SGD on the infinite NTK {critical:.4g}")
        for s in cfg.settings:
            label = f"{cfg.task}/{s.name}"
            cells = runner.map(_cells(cfg, s, critical, data_dir), label)
            which = "best" if s.early_stopping else "final"
            errors = {m: scaling.floor_zeros(np.stack([c[f"{m}/{which}"] for c in cells]), cfg.n_test)
                      for m in MODELS}
            curves[label] = {m: e[0] for m, e in errors.items()}
            lrs[label] = float(cells[0]["lr"])
            zeros = {m: e[1] for m, e in errors.items() if e[1]}
            if zeros:
                notes.append(f"{label}: zero test errors floored at 1/(2 n_test): {zeros}")
            diverged = {m: sum(int(c[f"{m}/diverged"]) for c in cells) for m in MODELS}
            if any(diverged.values()):
                notes.append(f"{label}: runs that diverged (non-finite outputs before the last "
                             f"step; their best error counts only the steps before), of "
                             f"{cfg.trials * len(cfg.n_grid)} per model: {diverged}")
            for m in MODELS:
                est = scaling.exponent(cfg.n_grid, curves[label][m])
                law = scaling.fit(cfg.n_grid, curves[label][m].mean(0))
                statistics[f"beta/{label}/{m}"] = Statistic(
                    f"beta/{label}/{m}", est,
                    f"exponent of {m}; log-log R^2 {law.r2:.3f}, curvature {law.curvature:+.3f}")
            for k in KERNELS:
                est = scaling.exponent_difference(cfg.n_grid, curves[label]["NN"], curves[label][k])
                statistics[f"diff/{label}/NN-{k}"] = Statistic(
                    f"diff/{label}/NN-{k}", est, f"beta_NN - beta_{k}, paired over trials",
                    stats.verdict(est))
            est = scaling.exponent_difference(cfg.n_grid, curves[label]["ENTK"], curves[label]["NTK"])
            statistics[f"control/{label}/ENTK-NTK"] = Statistic(
                f"control/{label}/ENTK-NTK", est,
                "negative control: the network replaced by its linearisation (ENTK-init), "
                "beta_ENTK - beta_NTK; must not be supported", stats.verdict(est))
    return ClaimResult(
        claim=CLAIM, title=TITLE, source=SOURCE, scale=cfgs[0].scale, statistics=statistics,
        measurements={"errors": {k: {m: v.tolist() for m, v in c.items()} for k, c in curves.items()},
                      "lr": lrs},
        config={"tasks": [c.as_dict() for c in cfgs]}, protocol=protocol(cfgs),
        figures=[Figure(f"Learning curves, {label}", _curve_plot(cfgs, label, curves[label]),
                        "Mean test error over trials (points) and the fitted power law (lines), "
                        "log-log.") for label in curves if label.endswith("/base")]
        + [Figure("Exponents with 95% CIs", lambda ax: _exponent_plot(ax, statistics),
                  "Ours (points with CI bars) beside the paper's CIFAR-5m-bin values (crosses).")],
        seconds=time.perf_counter() - start, notes=notes)


def protocol(cfgs) -> list[str]:
    lines = []
    for c in cfgs:
        lines.append(
            f"{c.task}: n = {', '.join(map(str, c.n_grid))} (nested prefixes of one shuffled pool), "
            f"{c.n_test} test points, {c.trials} trials; network {c.depth} layers of width {c.width}; "
            f"SGD with momentum 0.9, batch {c.batch_size}, {c.steps} steps, lr = {c.lr_fraction} x "
            "the largest lr at which the same SGD on the infinite NTK at n_max stays finite "
            "(measured by bisection; every setting of a task uses it, ablations scale it); test error at "
            f"{c.eval_points} log-spaced steps, best of them (optimal early stopping).")
        lines.append(f"{c.task} settings: " + ", ".join(s.name for s in c.settings) + ".")
    lines += [
        "Kernels (infinite NTK and ENTK-init, the latter without the f(w0, x) term) are trained "
        "as predictors sum_i a_i K(x, x_i) by the same SGD (closed-form heavy-ball GD in the "
        "full-batch setting).",
        "Exponent: least squares in log-log on the trial-mean curve; 95% CI by a percentile "
        "bootstrap over trials, paired for differences. Best-of-schedule error is optimistic "
        "for every model alike.",
    ]
    if cfgs[0].scale != "full":
        lines.append("Quick scale differs from the paper in the data (XOR-type task and digits "
                     "parity instead of CIFAR-5m-bin), the architecture (MLP instead of Myrtle), "
                     "the n-grid, the widths (16 / 256 instead of 16 / 1024) and the steps.")
    return lines


def _curve_plot(cfgs, label, curve):
    cfg = next(c for c in cfgs if label.startswith(c.task + "/"))

    def draw(ax):
        ns = np.asarray(cfg.n_grid)
        for m, color in zip(MODELS, ("C0", "C1", "C2")):
            mean = curve[m].mean(0)
            law = scaling.fit(ns, mean)
            ax.loglog(ns, mean, "o", color=color, label=f"{m} (beta {law.beta:.3f})")
            ax.loglog(ns, law.a * ns ** -law.beta, "-", color=color, alpha=0.6)
        ax.set_xlabel("training set size n")
        ax.set_ylabel("test error")
        ax.legend()
    return draw


def _exponent_plot(ax, statistics) -> None:
    labels = sorted({k.split("/")[1] + "/" + k.split("/")[2] for k in statistics if k.startswith("beta/")})
    for i, label in enumerate(labels):
        for j, (m, color) in enumerate(zip(MODELS, ("C0", "C1", "C2"))):
            est = statistics[f"beta/{label}/{m}"].estimate
            y = i + (j - 1) * 0.22
            err = [[max(est.value - est.low, 0.0)], [max(est.high - est.value, 0.0)]]
            ax.errorbar(est.value, y, xerr=err, fmt="o",
                        color=color, label=m if i == 0 else None)
            published = PUBLISHED.get(label.split("/")[1], (None,) * 3)[j]
            if published is not None:
                ax.plot(published, y, "x", color=color)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("exponent beta")
    ax.legend(loc="lower right")


def quick_tolerance(statistic: str) -> dict:
    """Exponents and their differences: 0.02 (absolute); verdicts must not change."""
    return {"absolute": 0.02}
