"""Training by minibatch SGD on the mean squared error.

Minibatching follows Keras' `fit(shuffle=True)`: a fresh permutation every epoch,
ceil(n / batch) steps, the last batch smaller, each batch's loss its own mean. Epochs
and steps run inside one jitted `lax.scan`, so a whole training run is one XLA call.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ntkbench.models import Spec, network


class FitResult(NamedTuple):
    params: dict
    train_mse: float
    diverged: bool
    eval_preds: np.ndarray | None = None


def epoch_batches(key, n: int, batch_size: int):
    """Indices (steps, batch) of one shuffled epoch and a mask of the real entries."""
    steps = -(-n // batch_size)
    perm = jax.random.permutation(key, n)
    idx = jnp.concatenate([perm, jnp.zeros(steps * batch_size - n, perm.dtype)])
    mask = (jnp.arange(steps * batch_size) < n).astype(jnp.float32)
    return idx.reshape(steps, batch_size), mask.reshape(steps, batch_size)


@functools.partial(jax.jit, static_argnums=(0, 1, 6, 7), donate_argnums=2)
def _fit(spec, momentum, params, x, y, lr, batch_size, epochs, key, eval_x, eval_mask):
    net = network(spec)
    tx = optax.sgd(lr, momentum or None)

    def loss(p, xb, yb, mask):
        return jnp.sum(mask * (net.apply({"params": p}, xb) - yb) ** 2) / jnp.sum(mask)

    def step(carry, batch):
        params, opt_state, t, preds = carry
        idx, mask = batch
        grads = jax.grad(loss)(params, x[idx], y[idx], mask)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        preds = jax.lax.cond(eval_mask[t], lambda p: p.at[t].set(net.apply({"params": params}, eval_x)),
                             lambda p: p, preds)
        return (params, opt_state, t + 1, preds), None

    def epoch(carry, k):
        return jax.lax.scan(step, carry, epoch_batches(k, x.shape[0], batch_size))[0], None

    preds = jnp.full((eval_mask.shape[0], eval_x.shape[0]), jnp.nan, jnp.float32)
    carry = (params, tx.init(params), 0, preds)
    params, _, _, preds = jax.lax.scan(epoch, carry, jax.random.split(key, epochs))[0]
    return params, jnp.mean((net.apply({"params": params}, x) - y) ** 2), preds


def fit_mse(spec: Spec, params: dict, x, y, *, key, lr: float, batch_size: int, epochs: int,
            momentum: float = 0.0, eval_x=None, eval_steps=()) -> FitResult:
    """Trains `models.network(spec)` on (x, y) by minibatch SGD (optax.sgd) on the MSE loss.

    One compilation serves every learning rate; `momentum` (0 = plain SGD), the batch size,
    the number of epochs and the shapes are compile-time constants. `params` is donated.
    With `eval_x` and `eval_steps` (1-based step counts), `eval_preds` holds the network's
    outputs on `eval_x` after each of those steps, shape (len(eval_steps), len(eval_x)).
    """
    x = jnp.asarray(x, jnp.float32)
    steps = epochs * -(-x.shape[0] // batch_size)
    eval_steps = np.asarray(eval_steps, int)
    if np.any(eval_steps < 1) or np.any(eval_steps > steps):
        raise ValueError(f"eval_steps must lie in 1..{steps} (epochs x steps per epoch)")
    eval_mask = np.zeros(steps + 1, bool)
    eval_mask[eval_steps - 1] = True
    eval_x = x[:1] if eval_x is None else jnp.asarray(eval_x, jnp.float32)
    params, train_mse, preds = _fit(tuple(spec), float(momentum), params, x,
                                    jnp.asarray(y, jnp.float32), jnp.float32(lr), batch_size,
                                    epochs, key, eval_x, jnp.asarray(eval_mask))
    train_mse = float(train_mse)
    eval_preds = np.asarray(preds)[eval_steps - 1] if len(eval_steps) else None
    return FitResult(params, train_mse, not np.isfinite(train_mse), eval_preds)
