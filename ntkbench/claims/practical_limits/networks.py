"""The networks the four experiments of [W] train, and how a cell runs over seeds.

Each experiment's cell config `cfg` is a dict: `PracticalConfig.shared()` and the
experiment's own fields.
"""

from __future__ import annotations

import functools

import jax
import numpy as np

from ntkbench import models, train


def mlp(depth: int, width: int) -> models.Spec:
    return models.mlp([width] * depth, W_std=2**0.5, b_std=0.1)


def init(spec, seed: int, x):
    return models.network(spec).init(jax.random.fold_in(jax.random.PRNGKey(0), seed), x[:1])["params"]


@functools.partial(jax.jit, static_argnums=0)
def _outputs(spec, params, x):
    return models.network(spec).apply({"params": params}, x)


@functools.cache
def apply_fn(spec):
    """(params, x) -> outputs of the network `spec`, one function object per spec (so that
    jitted code taking it as a static argument compiles once per architecture)."""
    return functools.partial(_outputs, spec)


def sgd(cfg: dict, spec, params, x, y, steps: int, lr: float, seed: int, eval_x=None):
    """`steps` steps of SGD with momentum 0.9 on the MSE; outputs on `eval_x` at the end."""
    epochs = train.epochs_for(steps, len(y), cfg["batch_size"])
    return train.fit_mse(spec, params, x, y, key=jax.random.fold_in(jax.random.PRNGKey(1), seed),
                         lr=lr, batch_size=cfg["batch_size"], epochs=epochs, momentum=0.9,
                         eval_x=eval_x, eval_steps=[epochs * train.steps_per_epoch(len(y), cfg["batch_size"])])


def rate(cfg: dict, k0) -> float:
    """lr = lr_scale / lambda_max(K0 / n), K0 the network's ENTK Gram at init."""
    return cfg["lr_scale"] / (np.linalg.eigvalsh(np.asarray(k0, np.float64))[-1] / len(k0))


def over_seeds(one_seed, cfg: dict, **params) -> dict:
    """A cell: `one_seed` for every seed of the config, values stacked (seeds first). One cell
    per architecture, so that each worker compiles it once."""
    runs = [one_seed(cfg, seed=s, **params) for s in range(cfg["seeds"])]
    return {k: np.stack([np.asarray(r[k]) for r in runs]) for k in runs[0]}
