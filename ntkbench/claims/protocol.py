"""The common protocol of [V]: tasks, architectures, and NN / ENTK-init / infinite NTK
trained alike.

All three models are trained the same way (Sec. 2 of [V]): minibatch SGD with momentum on
the MSE, labels +-1, the same lr, batch and steps; the kernels as predictors
sum_i a_i K(x, x_i) (the ENTK without the f(w0, x) term); test error recorded on a
log-spaced schedule, its minimum being optimal early stopping. The networks train until
their training error is at most `scaling.TRAINED` (in rounds of the protocol's steps, up to
its `rounds`; [V]'s networks reach zero training error), and the kernels of a trial and n
for as many steps as its network. The lr is a fraction of the measured critical lr of the
same SGD on the infinite NTK (trial 0's data), so every model trains below the kernels'
critical rate. An architecture without an infinite-width kernel (a models.Tanh layer) gets
NN and ENTK-init rows only, its lr measured on trial 0's ENTK-init instead.

Each trial draws its own training pool and test set from the task (`trial_seed`): generated
tasks anew, finite sets as an independently shuffled subset, so the intervals over trials
cover what a replication on other data would vary. Within a trial the training sets are
nested prefixes of its pool, so one Gram matrix per trial serves every n.

References:
  [V] Vyas, Bansal, Nakkiran, "Limitations of the NTK for understanding generalization in
  deep learning", 2022.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib

import jax
import jax.numpy as jnp
import numpy as np

from ntkbench import cost, kernel_train, models, scaling, train
from ntkbench.config import ExponentConfig, ExponentSetting, LayerConfig, NpzData
from ntkbench.data import images, npz, tasks
from ntkbench.kernels import empirical, infinite
from ntkbench.runner import Cell, Runner

MODELS = ("NN", "NTK", "ENTK")
TASKS = ("xor", "digits-parity", "mnist1d-parity", "svhn-parity", "cifar5m-bin")
NO_NTK = ("the architecture has a layer without an infinite-width kernel, so there is no NTK to compare "
          "with (NN and ENTK-init rows only)")
KERNEL_FIT = ("Kernels are fitted by full-batch heavy-ball GD at lr = n / (2 lambda_max), best test "
              "error over 30 log-spaced steps up to 100,000 (the ridgeless limit): "
              "`kernel_train.early_stopped_error`.")


def has_ntk(cfg: dict) -> bool:
    """Whether the architecture of the protocol dict `cfg` (`shared`) has an infinite NTK."""
    return infinite.has_kernel(network_spec(cfg, 1))


def models_of(cfg: dict) -> tuple[str, ...]:
    """The models the protocol dict `cfg` trains: MODELS, less the NTK where it has none."""
    return MODELS if has_ntk(cfg) else tuple(m for m in MODELS if m != "NTK")


def lr_kernel(cfg: dict) -> str:
    """The kernel on which the protocol measures its critical lr, in words."""
    return "the infinite NTK" if has_ntk(cfg) else "trial 0's ENTK-init (the architecture has no infinite NTK)"


def training(cfg: ExponentConfig) -> str:
    """How the protocol trains a network, in words, for a claim's protocol section."""
    return (f"depth {cfg.depth}, width {cfg.width}, SGD with momentum 0.9, batch {cfg.batch_size}, "
            f"rounds of {cfg.steps} steps until the training error is at most {scaling.TRAINED:.0%} (at most "
            f"{cfg.rounds}), lr {cfg.lr_fraction} x the measured critical lr of the same SGD on "
            f"{lr_kernel(shared(cfg))}, best test error over the log-spaced schedule")


def deviations(cfg: ExponentConfig) -> list[str]:
    """Where the protocol `cfg` differs from [V]'s, at its preset (quick, full or paper): every
    claim built on the protocol lists these in its Protocol section, then its own."""
    grid = f"n = {cfg.n_grid[0]}..{cfg.n_grid[-1]}"
    lines = [
        "Differences from [V] at every preset: the learning rate is "
        f"{cfg.lr_fraction} x the critical lr of the same SGD on {lr_kernel(shared(cfg))}, measured by "
        "bisection ([V] trains below that rate; its values are in an appendix our copy lacks); "
        f"the test error is read at {cfg.eval_points} log-spaced steps ([V] does not say how often); "
        "exponents are fitted on the points of the grid where every model's test error is below "
        "0.8 x chance and the networks' training error at most 1% ([V] states no fit range); "
        f"the networks train in rounds of {cfg.steps} steps until their training error is at most "
        f"{scaling.TRAINED:.0%}, for at most {cfg.rounds} rounds, the kernels as long as their network "
        "([V]'s networks reach 0 training error; it states no step count); "
        f"{cfg.trials} trials, each on its own training pool and test set drawn from the task "
        "(a finite dataset: an independently shuffled subset), so the CIs cover a replication on "
        "other data.",
    ]
    if not has_ntk(shared(cfg)):
        lines.append("This architecture has a layer without an infinite-width kernel ("
                     + ", ".join(sorted({type(layer).__name__ for layer in network_spec(shared(cfg), 1)
                                         if not infinite.has_kernel((layer,))}))
                     + "): the claims have NN and ENTK-init rows and no NTK row, the statistics that "
                     "need the NTK are not computed, and the lr is a fraction of the critical lr of "
                     "SGD on trial 0's ENTK-init.")
    if cfg.data is not None or cfg.architecture is not None:
        lines.append(f"A researcher's experiment (--experiment): task {cfg.task}"
                     + (f" from {cfg.data.path}" if cfg.data is not None else "")
                     + (f", architecture {cfg.architecture!r}" if cfg.architecture is not None else "")
                     + f", {grid}, {cfg.n_test} test points, batch {cfg.batch_size}, {cfg.steps} steps; "
                     "not [V]'s data or network, so no published number applies.")
    elif cfg.scale == "quick":
        network = (f"a 1-D Myrtle-{cfg.depth} of width {cfg.width} on 40-sample signals instead of Myrtle-5 "
                   "of width 64 on images" if cfg.task == "mnist1d-parity" else
                   f"a ReLU MLP (depth {cfg.depth}, width {cfg.width}) instead of Myrtle-5")
        lines.append(f"Quick preset: {cfg.task} instead of CIFAR-5m-bin, {network}, {grid}, {cfg.n_test} "
                     f"test points, batch {cfg.batch_size}, {cfg.steps} steps.")
    elif cfg.scale == "full":
        lines.append(f"Full preset (one GPU, about a day): {grid} (1.2 decades), {cfg.steps} steps of "
                     f"{cfg.batch_size}; [V]'s ranges are wider (the paper preset), so its published "
                     "exponents are shown as references, not targets.")
    else:
        lines.append(f"Paper preset: {grid}, a range we chose ([V]'s text gives none) to reach the "
                     f"m of its K_16k and K_64k curves; {cfg.steps} steps of {cfg.batch_size}.")
    return lines


def task_deviations(cfgs) -> list[str]:
    """`deviations` of several tasks' protocols: a line every task shares once, the others
    each under its task's name."""
    each = [deviations(c) for c in cfgs]
    common = [line for line in each[0] if all(line in other for other in each[1:])]
    return common + [f"{c.task}: {line}" for c, lines in zip(cfgs, each) for line in lines if line not in common]


ROWS_PER_CELL = 512


def trial_seed(seed: int, trial: int) -> int:
    """The data seed of `trial` under the root `seed`: its pool and test set (`load_task`)."""
    return int(np.random.SeedSequence([seed, trial]).generate_state(1)[0] >> 1)


@functools.lru_cache(maxsize=8)
def load_task(name: str, n_pool: int, n_test: int, seed: int, data_dir, data: NpzData | None = None) -> tasks.Task:
    """The named task's pool (n_pool) and test set; image tasks read `data_dir`, a
    researcher's task (`data` given) its .npz files.

    Cached: a worker's cells share one load (reading CIFAR-5m per cell would dominate).
    """
    if data is not None:
        return npz.binary_task(name, data, n_pool, n_test, seed)
    if name == "xor":
        return tasks.xor_task(n_pool, n_test, seed=seed)
    if name == "digits-parity":
        return tasks.digits_parity(n_test, seed=seed)
    if name == "mnist1d-parity":
        return tasks.mnist1d_parity(n_pool, n_test, seed=seed)
    if name == "svhn-parity":
        return images.svhn_parity(data_dir, n_pool, n_test, seed=seed)
    if name == "cifar5m-bin":
        return images.cifar5m_bin(data_dir, n_pool, n_test, seed=seed)
    raise ValueError(f"unknown task {name!r}; the protocol knows {', '.join(TASKS)}")


def task_of(cfg: dict, n_pool: int, data_dir, trial: int) -> tasks.Task:
    """`load_task` of a protocol dict (`shared`) with a pool of `n_pool`: `trial`'s data."""
    return load_task(*_load(cfg, n_pool, data_dir, trial))


def _load(cfg: dict, n_pool: int, data_dir, trial: int) -> tuple:
    return (cfg["task"], n_pool, cfg["n_test"], trial_seed(cfg["seed"], trial), str(data_dir) if data_dir else None,
            _npz(cfg))


def _npz(cfg: dict) -> NpzData | None:
    return NpzData(**cfg["data"]) if cfg.get("data") else None


def inputs(task: tasks.Task, n_max: int) -> np.ndarray:
    """pool[:n_max] then the test set: the rows of every Gram of the protocol."""
    return np.concatenate([task.x_pool[:n_max], task.x_test])


FACTORIES = {
    "mlp": lambda width, depth: models.mlp([width] * depth, W_std=2**0.5, b_std=0.1),
    "myrtle": lambda width, depth: models.myrtle(depth, width),
    "myrtle1d": lambda width, depth: models.myrtle1d(depth, width),
    "cnn5": lambda width, depth: models.cnn5(width),
}
LAYERS = {layer.__name__: layer for layer in models.Layer.__args__}


def spec(task: str, width: int, depth: int, architecture: str | tuple | None = None) -> models.Spec:
    """The architecture at `width`: `architecture` names a factory (mlp: a ReLU MLP with
    `depth` hidden layers, myrtle: Myrtle-`depth`, myrtle1d: its 1-D form, cnn5: the 5-layer
    CNN) or lists layers (`LayerConfig`s or their dicts); None: the task's own, Myrtle on
    CIFAR-5m-bin, 1-D Myrtle on MNIST-1D parity, the 5-layer CNN on SVHN-parity, else the MLP."""
    if architecture is None:
        architecture = {"cifar5m-bin": "myrtle", "mnist1d-parity": "myrtle1d", "svhn-parity": "cnn5"}.get(task, "mlp")
    if isinstance(architecture, str):
        return FACTORIES[architecture](width, depth)
    return tuple(layer(width, LayerConfig(**c) if isinstance(c, dict) else c) for c in architecture)


def layer(width: int, c: LayerConfig) -> models.Layer:
    """The `ntkbench.models` layer `c` describes, `width` wide where `c` gives none."""
    fields = {f.name for f in dataclasses.fields(LAYERS[c.kind])}
    given = dict(width=c.width or width, W_std=c.W_std, b_std=c.b_std)
    return LAYERS[c.kind](**{k: v for k, v in given.items() if k in fields})


def network_spec(cfg: dict, width: int) -> models.Spec:
    """`spec` of a protocol dict (`shared`) at `width`."""
    return spec(cfg["task"], width, cfg["depth"], cfg.get("architecture"))


def _digest(x: np.ndarray) -> str:
    return hashlib.sha256(f"{x.dtype}{x.shape}".encode() + x.tobytes()).hexdigest()


def ntk_rows(gram: dict, rows: tuple[int, int], load: tuple) -> dict:
    """Rows [a, b) of a Gram of `ntk_grams`; a block of training rows holds only the columns from a on
    (the columns before a are the transposes of earlier blocks). `load` holds `load_task`'s
    arguments."""
    n, (a, b) = gram["n_max"], rows
    x = inputs(load_task(*load), n)
    if _digest(x) != gram["inputs"]:
        raise RuntimeError(f"The {load[0]} inputs this worker loaded from data_dir={load[-1]} "
                           "differ from those of the process that scheduled their kernel; give every "
                           "worker the same copy of the data.")
    arch = network_spec(gram, 1)
    if a >= n:
        return {"ntk": infinite.kernels(arch, x[a:b], x[:n]).ntk}
    return {"ntk": np.concatenate([infinite.kernels(arch, x[a:b]).ntk,
                                   infinite.kernels(arch, x[a:b], x[b:n]).ntk], axis=1)}


def gram_blocks(n_max: int, n_test: int) -> list[tuple[int, int]]:
    """The row blocks [a, b) of a Gram of `ntk_grams`, each a cell: training rows, then test rows."""
    return [(a, min(a + ROWS_PER_CELL, end)) for start, end in ((0, n_max), (n_max, n_max + n_test))
            for a in range(start, end, ROWS_PER_CELL)]


def ntk_grams(cfg: dict, runner: Runner, data_dir=None, n_pool: int | None = None,
              trials: int | None = None) -> list[np.ndarray] | None:
    """Per trial, the infinite NTK of its inputs (pool[:n_max] then test) against its training
    inputs pool[:n_max], shape (n_max + n_test, n_max): the one Gram that every n and setting
    of the trial reads (K[:n, :n] to fit, K[n_max:, :n] to predict). None for an
    architecture without an infinite NTK (`has_ntk`).

    `cfg` is a protocol dict (`shared`); the pools hold `n_pool` inputs (default n_max); the
    first `trials` trials (default the protocol's). No test-test entry is computed (kernel
    regression reads none; it would be a third of the full-scale Gram), and of the symmetric
    training block only the upper triangle. Rows are cells of `ROWS_PER_CELL`, addressed by
    a digest of the inputs rather than by how they were loaded: spread over the executor's
    workers, stored as they finish, and shared by every claim whose Gram has the same
    inputs, so an hours-long Myrtle-5 Gram is computed once and survives a killed run.
    """
    if not has_ntk(cfg):
        return None
    n_max, n_test = cfg["n_grid"][-1], cfg["n_test"]
    loads = [_load(cfg, n_pool or n_max, data_dir, t) for t in range(cfg["trials"] if trials is None else trials)]
    blocks = gram_blocks(n_max, n_test)
    cells = []
    for load in loads:
        params = dict(task=cfg["task"], depth=cfg["depth"], n_max=n_max,
                      inputs=_digest(inputs(load_task(*load), n_max)),
                      **{k: cfg[k] for k in ("architecture",) if k in cfg})
        cells += [Cell("protocol.ntk_rows", functools.partial(ntk_rows, load=load), dict(gram=params, rows=r))
                  for r in blocks]
    found = runner.map(cells, f"{cfg['task']}/infinite NTK")
    grams = []
    for t in range(len(loads)):
        gram = np.empty((n_max + n_test, n_max), np.float32)
        for (a, b), rows in zip(blocks, found[t * len(blocks):(t + 1) * len(blocks)]):
            if a < n_max:
                gram[a:b, a:] = rows["ntk"]
                gram[b:n_max, a:b] = rows["ntk"][:, b - a:].T
            else:
                gram[a:b] = rows["ntk"]
        grams.append(gram)
    return grams


def prefix_grams(cfg: dict, full: list | None, n: int, runner: Runner, data_dir=None) -> list | None:
    """`ntk_grams` of the grid (n,), n below the grid's largest n: each trial's cut from its
    Gram in `full` (the grid's own) when its pool of n has the same inputs as the first n of
    its pool of the grid (CIFAR-5m-bin, digits parity, MNIST-1D parity), so the claims share
    those Grams; computed on their own otherwise."""
    if full is None:
        return None
    n_max, small = cfg["n_grid"][-1], cfg | {"n_grid": (n,)}
    pools = [inputs(task_of(cfg, n_max, data_dir, t), n_max) for t in range(len(full))]
    if not all(np.array_equal(inputs(task_of(cfg, n, data_dir, t), n), np.concatenate([pool[:n], pool[n_max:]]))
               for t, pool in enumerate(pools)):
        return ntk_grams(small, runner, data_dir)
    return [np.concatenate([k[:n, :n], k[n_max:, :n]]) for k in full]


def critical_lr(cfg: dict, ntk: np.ndarray | None, data_dir=None, bisections: int = 8) -> dict:
    """The largest lr at which SGD with momentum on the infinite NTK stays finite (on trial
    0's ENTK-init where `ntk` is None: an architecture without an infinite NTK).

    Kernel SGD on coefficients, at n_max, with the protocol's batch size, momentum 0.9 and
    number of steps; bracketed from the full-batch rate (1 + momentum) / lambda_max(K / n)
    downward and then bisected in log space. Minibatch kernel SGD diverges well below the
    full-batch rate (on digits parity at a quarter of the largest per-batch rate), so the
    rate is measured rather than derived. `ntk` is trial 0's `ntk_grams`, the rate one
    protocol constant for every trial, as [V]'s lr is.
    """
    n_max = cfg["n_grid"][-1]
    task = task_of(cfg, n_max, data_dir, 0)
    if ntk is None:
        arch = network_spec(cfg, cfg["width"])
        params = models.network(arch).init(jax.random.fold_in(jax.random.PRNGKey(cfg["seed"]), 0),
                                           jnp.asarray(task.x_pool[:1]))["params"]
        ntk = empirical.ntk(arch, params, task.x_pool[:n_max])
    k = ntk[:n_max, :n_max]
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


def learning_curves(cfg: dict, training: dict, trials: tuple[int, ...], critical: float, ntk: list | None,
                    trained: tuple[str, ...] = MODELS, data_dir=None) -> dict:
    """Best-of-schedule and final test errors of the `trained` models (of NN, NTK and ENTK-init) over the
    n-grid, each trial on its own data; each network's training error at its stop and the steps it trained.

    `training` holds the setting's fields that change training (not its name, nor whether
    the error is read early-stopped), so settings that train alike share their cells.
    The networks of all `trials` train together (`train.fit_mse_seeds`), each until its
    training error meets `scaling.TRAINED` within the protocol's `rounds` (`train.Target`);
    the kernels of a trial and n train as many steps as its network did. Every result
    carries a leading trial axis (`per_trial` splits it). `ntk` holds the trials' `ntk_grams`.
    """
    s = ExponentSetting("cell", **training)
    grid, n_max = cfg["n_grid"], cfg["n_grid"][-1]
    data = [task_of(cfg, n_max, data_dir, t) for t in trials]
    xs = [inputs(task, n_max) for task in data]
    arch = network_spec(cfg, s.width or cfg["width"])
    lr = s.lr_factor * cfg["lr_fraction"] * critical
    net = models.network(arch)
    keys = [jax.random.fold_in(jax.random.PRNGKey(cfg["seed"]), t) for t in trials]
    params0 = [net.init(key, jnp.asarray(x[:1]))["params"] for key, x in zip(keys, xs)]
    grams = [({"NTK": ntk[i]} if "NTK" in trained else {})
             | ({"ENTK": empirical.ntk(arch, p, x)} if "ENTK" in trained else {})
             for i, (p, x) in enumerate(zip(params0, xs))]
    until = train.Target(scaling.TRAINED, cfg["rounds"])
    steps = kernel_train.schedule(cfg["steps"] * cfg["rounds"], cfg["eval_points"])
    out = {m: np.zeros((2, len(trials), len(grid))) for m in trained}
    diverged = {m: np.zeros(len(trials), int) for m in trained}
    train_error, trained_steps = np.zeros((len(trials), len(grid))), np.zeros((len(trials), len(grid)), int)
    for j, n in enumerate(grid):
        batch = n if s.full_batch else cfg["batch_size"]
        epochs = train.epochs_for(cfg["steps"], n, batch)
        shuffles = [jax.random.fold_in(key, n) for key in keys]
        preds = [{} for _ in trials]
        stops = np.full(len(trials), epochs * train.steps_per_epoch(n, batch) * cfg["rounds"])
        if "NN" in trained:
            fit = train.fit_mse_seeds(arch, jax.tree.map(lambda *p: jnp.stack(p), *params0),
                                      np.stack([t.x_pool[:n] for t in data]), np.stack([t.y_pool[:n] for t in data]),
                                      keys=jnp.stack(shuffles), lr=lr, batch_size=batch, epochs=epochs,
                                      momentum=s.momentum, eval_x=np.stack([t.x_test for t in data]),
                                      eval_steps=steps, until=until)
            stops = np.asarray(fit.steps)
            train_error[:, j], trained_steps[:, j] = fit.train_error, stops
            for i, p in enumerate(fit.eval_preds):
                preds[i]["NN"] = p[steps <= stops[i]]
        for i, (shuffle, task) in enumerate(zip(shuffles, data)):
            horizon = steps[steps <= stops[i]]
            for name in (m for m in trained if m != "NN"):
                k = grams[i][name]
                args = (k[:n, :n], k[n_max:, :n], task.y_pool[:n])
                preds[i][name] = (kernel_train.gd_trajectory(*args, lr=lr, momentum=s.momentum, steps=horizon)
                                  if s.full_batch else
                                  kernel_train.sgd_trajectory(*args, key=shuffle, lr=lr, momentum=s.momentum,
                                                              batch_size=batch, steps=horizon))
            for name, p in preds[i].items():
                err = kernel_train.zero_one_error(p, task.y_test)
                out[name][:, i, j] = err.min(), err[-1]
                diverged[name][i] += not np.all(np.isfinite(p))
    result = {f"{m}/best": out[m][0] for m in trained} | {f"{m}/final": out[m][1] for m in trained}
    if "NN" in trained:
        result |= {"NN/train_error": train_error, "NN/steps": trained_steps}
    return result | {f"{m}/diverged": d for m, d in diverged.items()} | {"lr": lr}


def per_trial(cells: list[dict]) -> list[dict]:
    """`learning_curves` results, one dict per trial in trial order, the trial axis removed."""
    return [{k: v if k == "lr" else v[i] for k, v in c.items() if k != "seconds"}
            for c in cells for i in range(len(c["NN/best"]))]


def shared(cfg: ExponentConfig) -> dict:
    """The config's protocol fields, as cells take them (no settings, scale or grouping);
    `architecture` and `data` only when a researcher's experiment sets them, so that the
    presets' cells keep the store addresses they had before those fields existed."""
    return {k: v for k, v in cfg.as_dict().items() if k not in ("settings", "scale", "trials_per_cell")
            and not (k in ("architecture", "data") and v is None)}


def shrunk(cfg: ExponentConfig, **sizes) -> ExponentConfig:
    """`cfg` with every size cut to seconds (`sizes` override them) and the widths of its
    width settings cut to 4; task, settings and names kept (the full-scale path tests)."""
    settings = tuple(dataclasses.replace(s, width=4) if s.width else s for s in cfg.settings)
    return dataclasses.replace(cfg, settings=settings, **{
        **dict(n_grid=(4, 8), n_test=4, width=2, trials=2, steps=16, batch_size=4, eval_points=6), **sizes})


def data_args(data_dir) -> dict:
    return {"data_dir": str(data_dir)} if data_dir else {}


def measured_critical_lr(cfg: ExponentConfig, ntk: list | None, runner: Runner, data_dir=None) -> float:
    """`critical_lr` of the config's task, whose `ntk_grams` are `ntk`, through the store
    (claims sharing a task share it)."""
    (found,) = runner.map([Cell("protocol.critical_lr", functools.partial(critical_lr, ntk=ntk and ntk[0]),
                                dict(cfg=shared(cfg), **data_args(data_dir)))],
                          f"{cfg.task}/critical lr")
    return float(found["critical_lr"])


def curve_cells(cfg: ExponentConfig, setting: ExponentSetting, critical: float, ntk: np.ndarray | None,
                data_dir=None, n_grid: tuple[int, ...] | None = None,
                trained: tuple[str, ...] | None = None) -> list[Cell]:
    """`learning_curves` cells for the trials of `cfg` in `setting` (on `n_grid` if given,
    with `ntk` the `ntk_grams` of that grid), `cfg.trials_per_cell` trials to a cell; the
    `trained` models, by default `models_of` the config."""
    training = dict(lr_factor=setting.lr_factor, momentum=setting.momentum,
                    full_batch=setting.full_batch, width=setting.width)
    protocol = shared(cfg) | ({"n_grid": tuple(n_grid)} if n_grid else {})
    groups = [tuple(range(t, min(t + cfg.trials_per_cell, cfg.trials)))
              for t in range(0, cfg.trials, cfg.trials_per_cell)]
    return [Cell("protocol.curves", functools.partial(learning_curves, ntk=ntk and [ntk[t] for t in g]),
                 dict(cfg=protocol, training=training, trials=g, critical=critical,
                      trained=trained or models_of(protocol),
                      **data_args(data_dir)))
            for g in groups]


def setting_curves(cfg: ExponentConfig, setting: ExponentSetting, critical: float, ntk: np.ndarray | None,
                   runner: Runner, data_dir=None) -> list[dict]:
    """Per-trial `learning_curves` of every model in `setting`, the kernels trained as [V] did.

    [V] Sec. 3: "changing the learning rate only affects the neural network training, and
    does not affect any of their corresponding NTKs"; so in a setting that changes only the
    optimiser (lr, full-batch GD, momentum) the networks train in the setting and the
    kernels' curves are those of `setting.for_kernels()`, the base optimiser (cells that
    setting shares). Without early stopping the kernels' final-time errors are read, as the
    network's.
    """
    label = f"{cfg.task}/{setting.name}"
    kernels = setting.for_kernels()
    if kernels == dataclasses.replace(setting, name=kernels.name):
        return per_trial(runner.map(curve_cells(cfg, setting, critical, ntk, data_dir), label))
    nn = per_trial(runner.map(curve_cells(cfg, setting, critical, ntk, data_dir, trained=("NN",)), label))
    base = per_trial(runner.map(curve_cells(cfg, kernels, critical, ntk, data_dir), f"{label} (kernels)"))
    return [b | {k: v for k, v in n.items() if k.startswith("NN/")} | {"lr": n["lr"], "kernel_lr": b["lr"]}
            for n, b in zip(nn, base)]


INPUT_SHAPES = {"xor": (20,), "digits-parity": (64,), "mnist1d-parity": (40, 1), "svhn-parity": (32, 32, 3),
                "cifar5m-bin": (32, 32, 3)}
PREFIX_POOLS = ("cifar5m-bin", "digits-parity", "mnist1d-parity")
"""Tasks whose pool of n is the first n of any larger pool, with the same test set: their
Grams over a smaller or larger pool are cut from, or are, one Gram (`prefix_grams`)."""


def input_shape(cfg: dict) -> tuple[int, ...]:
    """One input's shape in the protocol dict `cfg`'s task (a researcher's: its file's)."""
    if cfg.get("data"):
        with np.load(cfg["data"]["path"]) as f:
            return tuple(f["X"].shape[1:])
    return INPUT_SHAPES[cfg["task"]]


def gram_stage(cfg: dict, n_pool: int | None = None) -> list[cost.Stage]:
    """The cells of `ntk_grams(cfg, n_pool=n_pool)`: none without an infinite NTK."""
    if not has_ntk(cfg):
        return []
    n_max, n_test = cfg["n_grid"][-1], cfg["n_test"]
    pool = None if cfg["task"] in PREFIX_POOLS else n_pool or n_max
    spec, shape = network_spec(cfg, 1), input_shape(cfg)
    cells = tuple((cost.InfiniteGram(spec, shape, (b - a) * (n_max - a if a < n_max else n_max)),)
                  for a, b in gram_blocks(n_max, n_test)) * cfg["trials"]
    return [cost.Stage(f"{cfg['task']}/infinite NTK", cells,
                       ("gram", cfg["task"], cfg["seed"], cfg["trials"], n_max, n_test, pool, spec))]


def critical_stage(cfg: dict, bisections: int = 8) -> cost.Stage:
    """The cell of `measured_critical_lr`: an eigendecomposition and some dozen SGD runs
    (bracketing and `bisections`) at n_max on trial 0's data; without an infinite NTK, its ENTK-init."""
    n_max = cfg["n_grid"][-1]
    units = [cost.Solve(n_max)] + [cost.KernelSGD(n_max, 1, cfg["steps"], cfg["batch_size"], 1)] * (bisections + 4)
    if not has_ntk(cfg):
        units.insert(0, cost.EmpiricalGram(network_spec(cfg, cfg["width"]), input_shape(cfg), n_max, n_max))
    return cost.Stage(f"{cfg['task']}/critical lr", (tuple(units),), ("critical", repr(sorted(cfg.items()))))


def curve_stage(cfg: ExponentConfig, setting: ExponentSetting, label: str, n_grid: tuple[int, ...] | None = None,
                trained: tuple[str, ...] | None = None) -> cost.Stage:
    """The cells of `curve_cells` (the same arguments): per cell, its trials' networks
    trained on every n, each trial's ENTK-init Gram, and every kernel's fit; one round of
    the protocol's steps each (a network that misses the training-error target trains up to
    `rounds` times as long, and its kernels with it)."""
    protocol = shared(cfg) | ({"n_grid": tuple(n_grid)} if n_grid else {})
    grid, n_test = protocol["n_grid"], cfg.n_test
    trained = trained or models_of(protocol)
    arch, shape = network_spec(protocol, setting.width or cfg.width), input_shape(protocol)
    cells = []
    for first in range(0, cfg.trials, cfg.trials_per_cell):
        trials = min(cfg.trials_per_cell, cfg.trials - first)
        units = [cost.EmpiricalGram(arch, shape, grid[-1] + n_test, grid[-1] + n_test)] * trials * ("ENTK" in trained)
        for n in grid:
            batch = n if setting.full_batch else cfg.batch_size
            steps = train.epochs_for(cfg.steps, n, batch) * train.steps_per_epoch(n, batch)
            if "NN" in trained:
                units.append(cost.Training(arch, shape, n, steps, batch, trials, cfg.eval_points * n_test + n))
            fit = (cost.KernelFit(n, n_test, cfg.steps, cfg.eval_points) if setting.full_batch else
                   cost.KernelSGD(n, n_test, cfg.steps, batch, cfg.eval_points))
            units += [fit] * trials * sum(m != "NN" for m in trained)
        cells.append(tuple(units))
    training = (setting.lr_factor, setting.momentum, setting.full_batch, setting.width)
    return cost.Stage(label, tuple(cells), ("curves", repr(sorted(protocol.items())), training, trained))


def setting_stages(cfg: ExponentConfig, setting: ExponentSetting) -> list[cost.Stage]:
    """The cells of `setting_curves`, stage by stage."""
    label = f"{cfg.task}/{setting.name}"
    kernels = setting.for_kernels()
    if kernels == dataclasses.replace(setting, name=kernels.name):
        return [curve_stage(cfg, setting, label)]
    return [curve_stage(cfg, setting, label, trained=("NN",)), curve_stage(cfg, kernels, f"{label} (kernels)")]
