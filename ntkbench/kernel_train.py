"""Training a kernel predictor the way the network is trained (ENTK and infinite NTK).

The predictor is f(x) = sum_i a_i K(x, x_i) over the training points, started at a = 0.
Gradient steps on the network's loss, mean((f - y)^2), move a exactly as the linearised
network (without its f(w0, x) term) moves its function: a_B <- a_B - lr * 2 (f_B - y_B) / |B|,
with momentum on a as optax applies it (v <- g + mu v, a <- a - lr v). So the ENTK and the
infinite NTK need only their Gram matrices.

Full-batch descent is linear in a: in the eigenbasis of K_train every mode follows its own
3x3 affine recurrence, so the whole trajectory at any steps costs one `eigh` and a few
batched matrix powers, instead of one matrix-vector product per step.

References:
  Lee et al., "Wide neural networks of any depth evolve as linear models under gradient
  descent", NeurIPS 2019.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ntkbench.train import epoch_batches, epochs_for, steps_per_epoch


def schedule(steps: int, points: int) -> np.ndarray:
    """Log-spaced distinct step counts from 1 to `steps` (both included)."""
    return np.unique(np.round(np.geomspace(1, steps, points)).astype(int))


def gd_trajectory(k_train, k_eval_train, y, *, lr: float, momentum: float, steps) -> np.ndarray:
    """Predictions on the evaluation points after each of `steps` full-batch steps.

    Args:
      k_train: (n, n) Gram of the training points.
      k_eval_train: (m, n) kernel between evaluation and training points.
      y: (n,) targets.
      lr, momentum: as for the network (optax.sgd semantics, heavy ball).
      steps: increasing step counts.

    Returns:
      (len(steps), m) float64 predictions; non-finite where the run diverged.
    """
    lam, u = np.linalg.eigh(np.asarray(k_train, np.float64))
    return _trajectory(lam, u, k_eval_train, y, lr, momentum, steps)


def _trajectory(lam, u, k_eval_train, y, lr, momentum, steps) -> np.ndarray:
    n = len(y)
    r = u.T @ np.asarray(y, np.float64)
    g = 2.0 / n
    one = np.ones_like(lam)
    zero = np.zeros_like(lam)
    # state (c, v, 1):  v' = mu v + g (lam c - r);  c' = c - lr v'
    step = np.stack([
        np.stack([1 - lr * g * lam, -lr * momentum * one, lr * g * r], -1),
        np.stack([g * lam, momentum * one, -g * r], -1),
        np.stack([zero, zero, one], -1),
    ], -2)
    project = np.asarray(k_eval_train, np.float64) @ u
    out, power, done = [], np.broadcast_to(np.eye(3), step.shape).copy(), 0
    with np.errstate(over="ignore", invalid="ignore"):
        for t in steps:
            power = np.linalg.matrix_power(step, int(t) - done) @ power
            done = int(t)
            out.append(project @ power[:, 0, 2])
    return np.array(out)


@functools.partial(jax.jit, static_argnums=(0, 5, 6, 9))
def _sgd(momentum, k_train, k_eval_train, y, lr, batch_size, epochs, key, slots, points):
    n = y.shape[0]
    tx = optax.sgd(lr, momentum or None)

    def step(carry, batch):
        a, opt_state, t, preds = carry
        idx, mask = batch
        resid = mask * (k_train[idx] @ a - y[idx])
        grads = jnp.zeros_like(a).at[idx].add(2.0 * resid / jnp.sum(mask))
        updates, opt_state = tx.update(grads, opt_state, a)
        a = optax.apply_updates(a, updates)
        preds = jax.lax.cond(slots[t] >= 0, lambda p: p.at[slots[t]].set(k_eval_train @ a), lambda p: p, preds)
        return (a, opt_state, t + 1, preds), None

    def epoch(carry, k):
        return jax.lax.scan(step, carry, epoch_batches(k, n, batch_size))[0], None

    a = jnp.zeros(n, k_train.dtype)
    preds = jnp.full((points, k_eval_train.shape[0]), jnp.nan, k_train.dtype)
    carry = (a, tx.init(a), 0, preds)
    return jax.lax.scan(epoch, carry, jax.random.split(key, epochs))[0][3]


def sgd_trajectory(k_train, k_eval_train, y, *, key, lr: float, momentum: float,
                   batch_size: int, steps) -> np.ndarray:
    """Minibatch SGD on the coefficients (Keras-style epochs, as the network is trained);
    predictions on the evaluation points after each of `steps` steps, (len(steps), m)."""
    steps = np.asarray(steps)
    epochs = epochs_for(int(steps[-1]), len(y), batch_size)
    slots = np.full(epochs * steps_per_epoch(len(y), batch_size) + 1, -1, np.int32)
    slots[steps - 1] = np.arange(len(steps))
    preds = _sgd(float(momentum), jnp.asarray(k_train, jnp.float32),
                 jnp.asarray(k_eval_train, jnp.float32), jnp.asarray(y, jnp.float32),
                 jnp.float32(lr), batch_size, epochs, key, jnp.asarray(slots), len(steps))
    return np.asarray(preds)


def zero_one_error(preds, y) -> np.ndarray:
    """Test error (sign disagreement) of each row of predictions; 1 where non-finite."""
    preds = np.asarray(preds)
    wrong = np.sign(preds) != np.asarray(y)
    return np.where(np.all(np.isfinite(preds), axis=-1), wrong.mean(-1), 1.0)


def early_stopped_error(k_train, k_eval_train, y, y_eval, *, horizon: int = 100_000,
                        points: int = 30) -> float:
    """Test error of kernel regression on (K, y) with optimal early stopping.

    Full-batch heavy-ball GD (momentum 0.9) at the kernel's own stable rate,
    lr = n / (2 lambda_max(K)), so that the fit does not depend on the kernel's scale (an
    after-kernel is larger than the kernel at init); the best error over `points` log-spaced
    steps up to `horizon`, by which every mode down to ~1e-6 lambda_max has converged (close
    to the ridgeless solution).
    """
    lam, u = np.linalg.eigh(np.asarray(k_train, np.float64))
    preds = _trajectory(lam, u, k_eval_train, y, len(y) / (2 * lam[-1]), 0.9, schedule(horizon, points))
    return float(zero_one_error(preds, y_eval).min())
