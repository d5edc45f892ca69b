"""Training by minibatch SGD on the mean squared error.

Networks built from Dense and ReLU layers are trained with gradients from an explicit
backward pass (`mlp_grads`) instead of `jax.grad`: on CPU, XLA compiles the explicit pass
to a step about 2.5x faster for wide, shallow MLPs (benchmarks/test_train_speed.py
measures the ratio). Updates are optax's, so any optax transform plugs in.

Minibatching follows Keras' `fit(shuffle=True)`: a fresh permutation every epoch,
ceil(n / batch) steps, the last batch smaller, each batch's loss its own mean.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ntkbench.models import Dense, Relu, Spec


class FitResult(NamedTuple):
    params: dict
    train_mse: float
    diverged: bool


def mlp_grads(spec: Spec, params: dict, x, residual_weights_fn):
    """Output and parameter gradients of a Dense/ReLU network, by an explicit backward pass.

    Args:
      spec: the network's layers.
      params: flax params of `models.network(spec)` (without the 'params' collection key).
      x: a batch of inputs (B, d).
      residual_weights_fn: maps the scalar outputs (B,) to dLoss/dOutput (B,).

    Returns:
      (outputs, grads) with grads shaped like params.
    """
    saved = []
    h = x
    for i, layer in enumerate(spec):
        if isinstance(layer, Dense):
            p = params[f"Dense_{i}"]
            scale = layer.W_std / math.sqrt(h.shape[-1])
            saved.append(h)
            h = scale * (h @ p["kernel"]) + layer.b_std * p["bias"]
        elif isinstance(layer, Relu):
            saved.append(h > 0)
            h = jnp.where(h > 0, h, 0.0)
        else:
            raise TypeError(f"explicit gradients support Dense and ReLU, not {layer!r}")
    out = h[:, 0]
    g = residual_weights_fn(out)[:, None]
    grads = {}
    for i in reversed(range(len(spec))):
        layer, s = spec[i], saved[i]
        if isinstance(layer, Dense):
            p = params[f"Dense_{i}"]
            scale = layer.W_std / math.sqrt(s.shape[-1])
            grads[f"Dense_{i}"] = {"kernel": scale * (s.T @ g), "bias": layer.b_std * jnp.sum(g, 0)}
            if i:
                g = scale * (g @ p["kernel"].T)
        else:
            g = jnp.where(s, g, 0.0)
    return out, grads


def _epoch_batches(key, n: int, batch_size: int):
    steps = -(-n // batch_size)
    perm = jax.random.permutation(key, n)
    idx = jnp.concatenate([perm, jnp.zeros(steps * batch_size - n, perm.dtype)])
    mask = (jnp.arange(steps * batch_size) < n).astype(jnp.float32)
    return idx.reshape(steps, batch_size), mask.reshape(steps, batch_size)


@functools.partial(jax.jit, static_argnums=(0, 1, 6, 7), donate_argnums=2)
def _fit(spec, momentum, params, x, y, lr, batch_size, epochs, key):
    tx = optax.sgd(lr, momentum or None)
    opt_state = tx.init(params)

    def step(carry, batch):
        params, opt_state = carry
        xb, yb, mask = batch
        weights = 2.0 * mask / jnp.sum(mask)
        _, grads = mlp_grads(spec, params, xb, lambda out: weights * (out - yb))
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), None

    def epoch(carry, k):
        idx, mask = _epoch_batches(k, x.shape[0], batch_size)
        return jax.lax.scan(step, carry, (x[idx], y[idx], mask))[0], None

    (params, _), _ = jax.lax.scan(epoch, (params, opt_state), jax.random.split(key, epochs))
    return params


def fit_mse(spec: Spec, params: dict, x, y, *, key, lr: float, batch_size: int, epochs: int,
            momentum: float = 0.0) -> FitResult:
    """Trains `models.network(spec)` on (x, y) by minibatch SGD (optax.sgd) on the MSE loss.

    One compilation serves every learning rate; `momentum` (0 = plain SGD), the batch size,
    the number of epochs and the shapes are compile-time constants.
    """
    x = jnp.asarray(x, jnp.float32)
    y = jnp.asarray(y, jnp.float32)
    params = _fit(tuple(spec), float(momentum), params, x, y, jnp.float32(lr), batch_size, epochs, key)
    out, _ = mlp_grads(tuple(spec), params, x, lambda out: out)
    train_mse = float(jnp.mean((out - y) ** 2))
    return FitResult(params, train_mse, not np.isfinite(train_mse))
