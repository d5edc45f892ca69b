"""Damped Gauss-Newton on the squared loss, in function space, and on a linearised model.

For outputs g(theta) on n training points, residual r = g - y and Jacobian J, a damped
Gauss-Newton step is theta <- theta - J^T (K + lambda I)^-1 r with K = J J^T (the empirical
NTK's Gram; by the push-through identity this is the parameter-space step
-(J^T J + lambda I)^-1 J^T r). The damping is relative: lambda = `damping` * lambda_max(K).
On the model linearised at theta_0 (K fixed at K_0) each step maps the residual to
lambda (K_0 + lambda I)^-1 r, so its step count to a loss target is read off K_0's spectrum.

References:
  Martens, "New insights and perspectives on the natural gradient method", JMLR 2020.
  Wenger, Dangel, Kristiadi, "On the disconnect between theory and practice of neural
  networks: limits of the NTK perspective", 2023 (Gauss-Newton in the kernel regime).
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Stopping(NamedTuple):
    """Run until the mean squared residual is at most `target`, or for `max_steps` steps."""

    target: float
    max_steps: int


def coefficients(kernel, residual, damping: float) -> np.ndarray:
    """a = (K + damping * lambda_max(K) I)^-1 r, the step's function-space coefficients."""
    ridge = damping * np.linalg.eigvalsh(kernel)[-1]
    return np.linalg.solve(kernel + ridge * np.eye(len(residual)), residual)


@functools.partial(jax.jit, static_argnums=0)
def pull_back(apply_fn: Callable, params, x, cotangent):
    """params - J^T cotangent, J the Jacobian of `apply_fn(params, x)` in the params."""
    (direction,) = jax.vjp(lambda p: apply_fn(p, x), params)[1](cotangent)
    return jax.tree.map(lambda p, d: p - d, params, direction)


def steps_to_target(apply_fn: Callable, kernel_fn: Callable, params, x, y, *, damping: float,
                    stopping: Stopping, scale: float = 1.0) -> int:
    """Damped Gauss-Newton steps until the training MSE reaches the target.

    Args:
      apply_fn: (params, x) -> (n,) outputs f; hashable (it is a static argument of a jitted
        step), so pass the same object for every call on one architecture.
      kernel_fn: (params, x) -> (n, n) empirical NTK Gram of f.
      params: the parameters theta_0 to start from.
      x, y: training inputs and (n,) targets.
      damping: the damping relative to K's largest eigenvalue.
      stopping: the loss target and the step cap.
      scale: alpha of the model trained; 1 trains f, any other value the lazily scaled
        model alpha (f - f(theta_0)) (Chizat et al.).

    Returns:
      The number of steps taken when the target is reached, or `max_steps + 1` if not.
    """
    f0 = np.asarray(apply_fn(params, x), np.float64)
    for step in range(stopping.max_steps + 1):
        out = np.asarray(apply_fn(params, x), np.float64)
        r = (out if scale == 1.0 else scale * (out - f0)) - y
        if np.mean(r**2) <= stopping.target:
            return step
        a = coefficients(scale**2 * kernel_fn(params, x).astype(np.float64), r, damping)
        params = pull_back(apply_fn, params, jnp.asarray(x), jnp.asarray(scale * a, jnp.float32))
    return stopping.max_steps + 1


def linear_steps_to_target(kernel, residual, *, damping: float, stopping: Stopping) -> int:
    """The same steps on the model linearised where its Gram is `kernel` and its residual
    `residual`: after t steps the residual is (lambda (K + lambda I)^-1)^t r."""
    lam, u = np.linalg.eigh(np.asarray(kernel, np.float64))
    shrink = damping * lam[-1] / (lam + damping * lam[-1])
    modes = u.T @ residual
    for step in range(stopping.max_steps + 1):
        if np.mean((modes * shrink**step) ** 2) <= stopping.target:
            return step
    return stopping.max_steps + 1
