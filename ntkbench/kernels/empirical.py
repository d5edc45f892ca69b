"""Empirical NTK of a finite network: Theta(x1, x2) = J(x1) J(x2)^T at given parameters.

Plain JAX: per-example gradients of the scalar output (`vmap` of `grad`), flattened, for
a block of inputs at a time (on jax 0.4.25's CPU backend, `jacrev` over a batch of 64 or
more returned wrong Jacobians, off by up to 5% in the Gram; `vmap(grad)` is exact on both
stacks); Gram blocks are products of those. Each row block's
Jacobian is computed once, and a symmetric Gram computes only its upper blocks.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ntkbench.models import Spec, network


@functools.partial(jax.jit, static_argnums=0)
def _jacobian(spec: Spec, params, x):
    net = network(spec)
    grad = jax.grad(lambda p, xi: net.apply({"params": p}, xi[None])[0])
    j = jax.vmap(grad, in_axes=(None, 0))(params, x)
    return jnp.concatenate([a.reshape(x.shape[0], -1) for a in jax.tree.leaves(j)], axis=1)


def ntk(spec: Spec, params, x1, x2=None, *, block: int = 256) -> np.ndarray:
    """ENTK Gram block (n1, n2) of `models.network(spec)` at `params` (float32)."""
    spec = tuple(spec)
    same = x2 is None
    x1 = np.asarray(x1, np.float32)
    x2 = x1 if same else np.asarray(x2, np.float32)
    out = np.empty((len(x1), len(x2)), np.float32)
    for i in range(0, len(x1), block):
        j1 = _jacobian(spec, params, x1[i:i + block])
        for j in range(i if same else 0, len(x2), block):
            j2 = j1 if same and j == i else _jacobian(spec, params, x2[j:j + block])
            out[i:i + block, j:j + block] = j1 @ j2.T
            if same:
                out[j:j + block, i:i + block] = out[i:i + block, j:j + block].T
    return out
