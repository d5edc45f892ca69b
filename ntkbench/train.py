"""Training by minibatch SGD on the mean squared error.

Minibatching follows Keras' `fit(shuffle=True)`: a fresh permutation every epoch,
ceil(n / batch) steps, the last batch smaller, each batch's loss its own mean. Epochs
and steps run inside one jitted `lax.scan`, so a whole training run is one XLA call.
"""

from __future__ import annotations

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
    snapshots: dict | None = None


def steps_per_epoch(n: int, batch_size: int) -> int:
    return -(-n // batch_size)


def epochs_for(steps: int, n: int, batch_size: int) -> int:
    """The fewest epochs of n samples that hold `steps` steps of `batch_size`."""
    return -(-steps // steps_per_epoch(n, batch_size))


def epoch_batches(key, n: int, batch_size: int):
    """Indices (steps, batch) of one shuffled epoch and a mask of the real entries."""
    steps = steps_per_epoch(n, batch_size)
    perm = jax.random.permutation(key, n)
    idx = jnp.concatenate([perm, jnp.zeros(steps * batch_size - n, perm.dtype)])
    mask = (jnp.arange(steps * batch_size) < n).astype(jnp.float32)
    return idx.reshape(steps, batch_size), mask.reshape(steps, batch_size)


def _fit_one(spec, momentum, params, x, y, lr, batch_size, epochs, key, eval_x, slots, points, snapshot):
    net = network(spec)
    tx = optax.sgd(lr, momentum or None)

    def loss(p, xb, yb, mask):
        return jnp.sum(mask * (net.apply({"params": p}, xb) - yb) ** 2) / jnp.sum(mask)

    def record(memory, params, slot):
        preds, snaps = memory
        preds = preds.at[slot].set(net.apply({"params": params}, eval_x))
        if snapshot:
            snaps = jax.tree.map(lambda buf, p: buf.at[slot].set(p), snaps, params)
        return preds, snaps

    def step(carry, batch):
        params, opt_state, t, memory = carry
        idx, mask = batch
        grads = jax.grad(loss)(params, x[idx], y[idx], mask)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        memory = jax.lax.cond(slots[t] >= 0, lambda m: record(m, params, slots[t]), lambda m: m, memory)
        return (params, opt_state, t + 1, memory), None

    def epoch(carry, k):
        return jax.lax.scan(step, carry, epoch_batches(k, x.shape[0], batch_size))[0], None

    preds = jnp.full((points, eval_x.shape[0]), jnp.nan, jnp.float32)
    snaps = jax.tree.map(lambda p: jnp.zeros((points,) + p.shape, p.dtype), params) if snapshot else None
    carry = (params, tx.init(params), 0, (preds, snaps))
    params, _, _, (preds, snaps) = jax.lax.scan(epoch, carry, jax.random.split(key, epochs))[0]
    return params, jnp.mean((net.apply({"params": params}, x) - y) ** 2), preds, snaps


_STATIC = dict(static_argnums=(0, 1, 6, 7, 11, 12), donate_argnums=2)
_fit = jax.jit(_fit_one, **_STATIC)
# one seed takes `_fit`: XLA's CPU code for a batch of one ran 1.5-2x slower
_fit_seeds = jax.jit(jax.vmap(_fit_one, in_axes=(None, None, 0, None, None, None, None, None, 0) + (None,) * 4),
                     **_STATIC)


def _train(program, spec, momentum, params, x, y, lr, batch_size, epochs, key, eval_x, eval_steps, snapshot):
    """Checks the schedule and runs `program` (`_fit` or `_fit_seeds`): params, train MSE,
    outputs on `eval_x` at `eval_steps` (None without), parameter snapshots."""
    x = jnp.asarray(x, jnp.float32)
    steps = epochs * steps_per_epoch(x.shape[0], batch_size)
    eval_steps = np.asarray(eval_steps, int)
    if np.any(eval_steps < 1) or np.any(eval_steps > steps) or np.any(np.diff(eval_steps) <= 0):
        raise ValueError(f"eval_steps must increase within 1..{steps} (epochs x steps per epoch)")
    slots = np.full(steps + 1, -1, np.int32)
    slots[eval_steps - 1] = np.arange(len(eval_steps))
    eval_x = x[:1] if eval_x is None else jnp.asarray(eval_x, jnp.float32)
    params, train_mse, preds, snaps = program(tuple(spec), float(momentum), params, x,
                                              jnp.asarray(y, jnp.float32), jnp.float32(lr), batch_size,
                                              epochs, key, eval_x, jnp.asarray(slots),
                                              max(len(eval_steps), 1), bool(snapshot))
    return params, np.asarray(train_mse), np.asarray(preds) if len(eval_steps) else None, snaps


def fit_mse(spec: Spec, params: dict, x, y, *, key, lr: float, batch_size: int, epochs: int,
            momentum: float = 0.0, eval_x=None, eval_steps=(), snapshot: bool = False) -> FitResult:
    """Trains `models.network(spec)` on (x, y) by minibatch SGD (optax.sgd) on the MSE loss.

    One compilation serves every learning rate; `momentum` (0 = plain SGD), the batch size,
    the number of epochs and the shapes are compile-time constants. `params` is donated.
    With `eval_x` and `eval_steps` (1-based step counts), `eval_preds` holds the network's
    outputs on `eval_x` after each of those steps, shape (len(eval_steps), len(eval_x)); with
    `snapshot`, `snapshots` holds the parameters after each of them (leading axis the steps).
    """
    params, train_mse, preds, snaps = _train(_fit, spec, momentum, params, x, y, lr, batch_size, epochs,
                                             key, eval_x, eval_steps, snapshot)
    return FitResult(params, float(train_mse), not np.isfinite(train_mse), preds, snaps)


def fit_mse_seeds(spec: Spec, params: dict, x, y, *, keys, lr: float, batch_size: int, epochs: int,
                  momentum: float = 0.0, eval_x=None, eval_steps=(), snapshot: bool = False) -> FitResult:
    """`fit_mse` for several seeds at once, vmapped into one XLA call.

    `params` (every leaf) and `keys` carry a leading seed axis: seed i starts from
    params[i] and shuffles with keys[i]; data, lr and schedule are shared. Every field of
    the result carries the seed axis too (`train_mse` and `diverged` are arrays). On an
    accelerator this trains S small networks in about the time of one; on a CPU core it
    gives the same numbers as S separate runs, bit for bit.
    """
    keys = jnp.asarray(keys)
    if len(keys) == 1:
        fit = fit_mse(spec, jax.tree.map(lambda p: p[0], params), x, y, key=keys[0], lr=lr,
                      batch_size=batch_size, epochs=epochs, momentum=momentum, eval_x=eval_x,
                      eval_steps=eval_steps, snapshot=snapshot)
        return FitResult(*(None if v is None else jax.tree.map(lambda a: np.asarray(a)[None], v) for v in fit))
    params, train_mse, preds, snaps = _train(_fit_seeds, spec, momentum, params, x, y, lr, batch_size, epochs,
                                             keys, eval_x, eval_steps, snapshot)
    return FitResult(params, train_mse, ~np.isfinite(train_mse), preds, snaps)
