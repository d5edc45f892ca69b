"""Training a kernel predictor the way the network is trained (ENTK and infinite NTK).

The predictor is f(x) = sum_i a_i K(x, x_i) over the training points, started at a = 0.
Gradient steps on the network's loss, mean((f - y)^2), move a exactly as the linearised
network (without its f(w0, x) term) moves its function: a_B <- a_B - lr * 2 (f_B - y_B) / |B|,
with momentum on a as optax applies it (v <- g + mu v, a <- a - lr v). So the ENTK and the
infinite NTK need only their Gram matrices.

Full-batch descent is linear in a: in the eigenbasis of K_train every mode follows its own
3x3 affine recurrence, so the whole trajectory at any steps costs one `eigh` and a few
batched matrix powers, instead of one matrix-vector product per step. Where that float64
`eigh` does not fit (the paper's n = 64k needs some 98 GB) or is much slower, the same
recurrence is stepped by matrix-vector products on the accelerator instead (`fit_method`).

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
import scipy.sparse.linalg

from ntkbench.train import epoch_batches, epochs_for, steps_per_epoch, zero_one_error


FIT_BYTES = 16 * 2**30
"""Memory the `eigh` path may take: its float64 Gram, eigenvectors and workspace, and the
evaluation kernel projected on them. 16 GiB holds n up to 25k against m = 10k test points:
the paper's n = 16k still takes the `eigh`, its 32k and 64k step."""

EIGH_FLOPS = 9
"""An `eigh` with eigenvectors costs EIGH_FLOPS * n^3 flops (Golub and Van Loan's count for
the symmetric QR algorithm)."""

MATFREE_MARGIN = 16
"""How many times fewer flops the matrix-free path must take before time alone picks it. The
`eigh` path is exact in float64 and reproduces every statistic computed with it; stepping is
float32 and early stopping's lr comes from a Lanczos estimate. At 2000 steps against
m = 1000 (the quick full-batch ablation) this keeps the `eigh` up to n = 6900, though
stepping is then faster on a CPU (benchmarks/test_fit_speed.py)."""


def schedule(steps: int, points: int) -> np.ndarray:
    """Log-spaced distinct step counts from 1 to `steps` (both included)."""
    return np.unique(np.round(np.geomspace(1, steps, points)).astype(int))


def fit_method(n: int, m: int, horizon: int, *, points: int = 30, memory: int = FIT_BYTES) -> str:
    """How to fit n training points and predict m: "eigh" (closed form) or "matfree" (stepping).

    "eigh" where its float64 working set, 24 n^2 + 8 m n bytes, fits `memory` and its flops,
    EIGH_FLOPS n^3 + 2 m n^2, are at most MATFREE_MARGIN times the matrix-free path's:
    2 n^2 per step up to `horizon` and 2 m n at each of `points` recorded steps.
    """
    if 24 * n * n + 8 * m * n > memory:
        return "matfree"
    eigh = EIGH_FLOPS * n**3 + 2 * m * n * n
    matfree = 2 * n * n * horizon + 2 * m * n * points
    return "eigh" if eigh <= MATFREE_MARGIN * matfree else "matfree"


def _method(method, n, m, steps):
    method = method or fit_method(n, m, int(steps[-1]), points=len(steps))
    if method not in ("eigh", "matfree"):
        raise ValueError(f"unknown fit method {method!r}; 'eigh' or 'matfree'")
    return method


def gd_trajectory(k_train, k_eval_train, y, *, lr: float, momentum: float, steps,
                  method: str | None = None) -> np.ndarray:
    """Predictions on the evaluation points after each of `steps` full-batch steps.

    Args:
      k_train: (n, n) Gram of the training points.
      k_eval_train: (m, n) kernel between evaluation and training points.
      y: (n,) targets.
      lr, momentum: as for the network (optax.sgd semantics, heavy ball).
      steps: increasing step counts.
      method: "eigh" (closed form, float64) or "matfree" (stepped on the device in the
        Gram's JAX dtype); None: `fit_method`'s choice.

    Returns:
      (len(steps), m) float64 predictions; non-finite where the run diverged.
    """
    if _method(method, len(y), np.shape(k_eval_train)[0], steps) == "matfree":
        return _stepped(k_train, k_eval_train, y, lr, momentum, steps)
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


def _dot(k, a):
    # at the Gram's own precision: a GPU's default for float32 products may be TF32
    return jnp.dot(k, a, precision=jax.lax.Precision.HIGHEST)


@jax.jit
def _heavy_ball(k_train, k_eval_train, y, lr, momentum, gaps):
    g = 2.0 / y.shape[0]

    def step(_, state):
        a, v = state
        v = g * (_dot(k_train, a) - y) + momentum * v
        return a - lr * v, v

    def segment(state, gap):
        state = jax.lax.fori_loop(0, gap, step, state)
        return state, _dot(k_eval_train, state[0])

    zero = jnp.zeros_like(y)
    return jax.lax.scan(segment, (zero, zero), gaps)[1]


def _stepped(k_train, k_eval_train, y, lr, momentum, steps) -> np.ndarray:
    """The heavy-ball recurrence of `_trajectory` stepped by matrix-vector products: the Gram
    once in its JAX dtype (float32 unless x64 is on) and n^2 flops a step."""
    k = jnp.asarray(k_train)
    steps = np.asarray(steps)
    gaps = jnp.asarray(np.diff(steps, prepend=0), jnp.int32)
    preds = _heavy_ball(k, jnp.asarray(k_eval_train, k.dtype), jnp.asarray(y, k.dtype),
                        jnp.asarray(lr, k.dtype), jnp.asarray(momentum, k.dtype), gaps)
    return np.asarray(preds, np.float64)


_matvec = jax.jit(_dot)


def lambda_max(k_train, *, tol: float = 1e-4) -> float:
    """Largest eigenvalue of a PSD Gram by Lanczos (ARPACK) on matrix-vector products, for
    Grams whose `eigh` does not fit. A Ritz value is never above lambda_max, so a rate from
    it errs, by about `tol` relative, towards instability: far inside heavy ball's margin."""
    k = jnp.asarray(k_train)
    n = k.shape[0]
    op = scipy.sparse.linalg.LinearOperator(
        (n, n), matvec=lambda x: np.asarray(_matvec(k, jnp.asarray(x, k.dtype).ravel())), dtype=k.dtype)
    v0 = np.random.default_rng(0).standard_normal(n).astype(k.dtype)
    return float(scipy.sparse.linalg.eigsh(op, k=1, which="LA", v0=v0, tol=tol, return_eigenvectors=False)[0])


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


def early_stopped_error(k_train, k_eval_train, y, y_eval, *, horizon: int = 100_000,
                        points: int = 30, method: str | None = None) -> float:
    """Test error of kernel regression on (K, y) with optimal early stopping.

    Full-batch heavy-ball GD (momentum 0.9) at the kernel's own stable rate,
    lr = n / (2 lambda_max(K)), so that the fit does not depend on the kernel's scale (an
    after-kernel is larger than the kernel at init); the best error over `points` log-spaced
    steps up to `horizon`, by which every mode down to ~1e-6 lambda_max has converged (close
    to the ridgeless solution). `method` as for `gd_trajectory`; "matfree" takes lambda_max
    from `lambda_max`.
    """
    steps = schedule(horizon, points)
    if _method(method, len(y), np.shape(k_eval_train)[0], steps) == "matfree":
        preds = _stepped(k_train, k_eval_train, y, len(y) / (2 * lambda_max(k_train)), 0.9, steps)
    else:
        lam, u = np.linalg.eigh(np.asarray(k_train, np.float64))
        preds = _trajectory(lam, u, k_eval_train, y, len(y) / (2 * lam[-1]), 0.9, steps)
    return float(zero_one_error(preds, y_eval).min())
